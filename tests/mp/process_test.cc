#include "shoal/process.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>
#include <stdexcept>
#include <string>
#include <vector>

#include "shoal/connection.hpp"
#include "shoal/queue.hpp"
#include "shoal/shared_value.hpp"
#include "shoal/sync.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;

// True once process `pid` (not necessarily our child) has exited, within `timeout`.
bool wait_gone(pid_t pid, std::chrono::milliseconds timeout) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errno == ESRCH;
  pollfd p{fd, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  ::close(fd);
  return r == 1;
}

TEST(ProcessTest, RunsTargetWithArgumentsAndExitsZero) {
  Queue<std::string> q;
  Process p([](Queue<std::string>& out, int n, std::string s) { out.put(s + std::to_string(n)); },
            q, 42, std::string("answer="));
  EXPECT_FALSE(p.pid().has_value());
  EXPECT_FALSE(p.exitcode().has_value());
  p.start();
  ASSERT_TRUE(p.pid().has_value());
  EXPECT_GT(*p.pid(), 0);
  EXPECT_EQ(q.get(), "answer=42");
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_FALSE(p.is_alive());
}

struct Squarer : Process {
  Squarer(Queue<int>& q, int x) : q_(q), x_(x) {}
  void run() override { q_.put(x_ * x_); }
  Queue<int> q_;
  int x_;
};

TEST(ProcessTest, SubclassOverridingRun) {
  Queue<int> q;
  Squarer s(q, 9);
  s.start();
  EXPECT_EQ(q.get(), 81);
  s.join();
  EXPECT_EQ(s.exitcode(), 0);
}

TEST(ProcessTest, ExitCodes) {
  Process thrower([] { throw std::runtime_error("boom"); });
  Process exiter([] { ::_exit(7); });
  Process killed([] { ::raise(SIGKILL); });
  thrower.start();
  exiter.start();
  killed.start();
  thrower.join();
  exiter.join();
  killed.join();
  EXPECT_EQ(thrower.exitcode(), 1);
  EXPECT_EQ(exiter.exitcode(), 7);
  EXPECT_EQ(killed.exitcode(), -SIGKILL);
}

TEST(ProcessTest, ThrownMessageGoesToStderr) {
  auto [r, w] = Pipe(false);
  Process p([w = w] {
    ::dup2(w.fileno(), STDERR_FILENO);
    throw std::invalid_argument("bad input 17");
  });
  p.start();
  w.close();
  p.join();
  char buf[512] = {};
  ssize_t n = ::read(r.fileno(), buf, sizeof buf - 1);
  ASSERT_GT(n, 0);
  std::string text(buf, static_cast<std::size_t>(n));
  EXPECT_NE(text.find("std::invalid_argument"), std::string::npos) << text;
  EXPECT_NE(text.find("bad input 17"), std::string::npos) << text;
  EXPECT_NE(text.find(p.name()), std::string::npos) << text;
  EXPECT_EQ(p.exitcode(), 1);
}

TEST(ProcessTest, TerminateAndKill) {
  Event never;
  Process a([&] { never.wait(); });
  Process b([&] { never.wait(); });
  a.start();
  b.start();
  EXPECT_TRUE(a.is_alive());
  a.terminate();
  b.kill();
  a.join();
  b.join();
  EXPECT_EQ(a.exitcode(), -SIGTERM);
  EXPECT_EQ(b.exitcode(), -SIGKILL);
  EXPECT_FALSE(a.is_alive());
}

TEST(ProcessTest, JoinWithTimeout) {
  Event go;
  Process p([&] { go.wait(); });
  p.start();
  EXPECT_FALSE(p.join(20ms));
  EXPECT_TRUE(p.is_alive());
  go.set();
  EXPECT_TRUE(p.join(10s));
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(ProcessTest, IsAliveReapsTheChild) {
  Process p([] {});
  p.start();
  while (p.is_alive()) {
    p.join(10ms);
  }
  EXPECT_EQ(p.exitcode(), 0);
  // Reaped: no zombie with that pid is left.
  EXPECT_EQ(::waitpid(*p.pid(), nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(ProcessTest, Misuse) {
  Process p([] {});
  EXPECT_THROW(p.join(), std::logic_error);
  p.start();
  EXPECT_THROW(p.start(), std::logic_error);
  EXPECT_THROW(p.set_daemon(true), std::logic_error);
  p.join();
  Process q = std::move(p);  // a moved-from Process: logic_error, not a crash
  EXPECT_THROW(p.name(), std::logic_error);
  EXPECT_THROW(p.pid(), std::logic_error);
  EXPECT_THROW(p.is_alive(), std::logic_error);
  EXPECT_EQ(q.exitcode(), 0);
}

TEST(ProcessTest, NamesCountConstructionsAndShowInTheChild) {
  Process a([] {});
  Process b([] {});
  ASSERT_EQ(a.name().rfind("Process-", 0), 0u);
  int na = std::stoi(a.name().substr(8));
  EXPECT_EQ(b.name(), "Process-" + std::to_string(na + 1));
  EXPECT_EQ(current_process_name(), "MainProcess");

  Queue<std::string> q;
  Process c([&] { q.put(current_process_name()); });
  c.set_name("worker-7");
  c.start();
  EXPECT_EQ(q.get(), "worker-7");
  c.join();
  EXPECT_EQ(current_process_name(), "MainProcess");
}

TEST(ProcessTest, CpuCount) { EXPECT_GE(cpu_count(), 1); }

TEST(ProcessTest, DestructorJoinsNonDaemonAndTerminatesDaemon) {
  Event release;
  Queue<int> q;
  pid_t daemon_pid = 0;
  {
    Process worker([&] { q.put(1); });
    worker.start();
    Process d([&] { release.wait(); });
    d.set_daemon(true);
    EXPECT_TRUE(d.daemon());
    d.start();
    daemon_pid = *d.pid();
  }  // joins `worker`, terminates and reaps `d`
  EXPECT_EQ(q.get_nowait(), 1);
  EXPECT_EQ(::waitpid(daemon_pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

// A daemon that ignores SIGTERM made its Process's destructor wait for it for ever; it
// is killed after a grace instead.
TEST(ProcessTest, DestroyingADaemonThatIgnoresSigtermDoesNotHang) {
  Value<int> daemon_pid(0);
  Process owner([&] {
    Event ignoring;
    Process d([&] {
      ::signal(SIGTERM, SIG_IGN);
      ignoring.set();
      for (;;) ::pause();
    });
    d.set_daemon(true);
    d.start();
    daemon_pid.store(static_cast<int>(*d.pid()));
    ignoring.wait();
  });  // destroys `d`
  owner.start();
  if (!owner.join(30s)) {
    owner.kill();
    owner.join();
    FAIL() << "the daemon's destructor hung";
  }
  EXPECT_EQ(owner.exitcode(), 0);
  EXPECT_TRUE(wait_gone(daemon_pid.load(), 5000ms));
}

// pthread_exit() in run() unwinds with abi::__forced_unwind, which the child's catch-all
// swallowed: the child aborted ("FATAL: exception not rethrown"). It ends with code 0, and
// the unwinding stops at run(): the frames the child copied from its parent stay as they are.
TEST(ProcessTest, PthreadExitInRunEndsTheChildWithCodeZero) {
  Value<int> unwound_past_run(0);
  struct Frame {
    Value<int>& unwound;
    pid_t owner = ::getpid();
    ~Frame() {
      if (::getpid() != owner) unwound.store(1);
    }
  } frame{unwound_past_run};
  Process p([] { ::pthread_exit(nullptr); });
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(unwound_past_run.load(), 0);
}

TEST(ProcessTest, DaemonChildrenDieWithTheirKilledParent) {
  auto [r, w] = Pipe();
  Process parent([w = w] {
    Event never;
    Process d([&] { never.wait(); });
    d.set_daemon(true);
    d.start();
    Connection out = w;
    out.send(static_cast<int>(*d.pid()));
    never.wait();
  });
  parent.start();
  const pid_t daemon_pid = r.recv<int>();
  EXPECT_FALSE(wait_gone(daemon_pid, 0ms));  // alive while the parent lives
  parent.kill();
  parent.join();
  EXPECT_TRUE(wait_gone(daemon_pid, 5000ms));
}

// The death signal follows the thread that forked. One that ends right after start()
// may end before the child asked for the signal: the child must leave then too, not
// outlive it (it did, every time, with the thread gone within a millisecond).
TEST(ProcessTest, ADaemonOfAThreadThatEndsAtOnceDoesNotOutliveIt) {
  for (int round = 0; round < 5; ++round) {
    Event never;
    Process d([&] { never.wait(); });
    d.set_daemon(true);
    std::thread([&] { d.start(); }).join();
    EXPECT_TRUE(d.join(10s)) << "round " << round;
  }
}

TEST(ProcessTest, ProcessesInAVector) {
  Queue<int> q;
  std::vector<Process> procs;
  for (int i = 0; i < 5; ++i) procs.emplace_back([&q](int x) { q.put(x); }, i);
  for (auto& p : procs) p.start();
  for (auto& p : procs) p.join();
  int sum = 0;
  for (int i = 0; i < 5; ++i) sum += q.get();
  EXPECT_EQ(sum, 0 + 1 + 2 + 3 + 4);
  for (auto& p : procs) EXPECT_EQ(p.exitcode(), 0);
}

}  // namespace
}  // namespace shoal
