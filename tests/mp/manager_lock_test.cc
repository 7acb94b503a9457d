// LockProxy and the processes that hold it: a holder that dies frees the lock, on the
// private endpoint (the server watches the holder's process) and over tcp (the holder's
// connection closes); a holder thread that ends does not, since any thread or process
// may release a Lock. Every case runs on both endpoints.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "shoal/manager.hpp"
#include "shoal/process.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;

// The Manager's endpoint: Manager()'s private one, or serve()'s over tcp.
class ManagerLockTest : public ::testing::TestWithParam<const char*> {
 protected:
  static Manager manager() {
    return std::string(GetParam()) == "tcp" ? Manager::serve("tcp://127.0.0.1:0") : Manager();
  }
};

// Forks a child that acquires `lock`, says so on a pipe, and waits to be killed; returns
// its pid once it holds the lock.
pid_t child_holding(LockProxy lock) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    lock.acquire();
    (void)!::write(fds[1], "x", 1);
    for (;;) ::pause();
  }
  ::close(fds[1]);
  char c = 0;
  EXPECT_EQ(::read(fds[0], &c, 1), 1);
  ::close(fds[0]);
  return pid;
}

TEST_P(ManagerLockTest, ALockOfAKilledProcessPassesOn) {
  Manager m = manager();
  auto lock = m.lock();
  const pid_t holder = child_holding(lock);
  EXPECT_FALSE(lock.acquire(300ms));  // held while the holder lives
  ::kill(holder, SIGKILL);
  // Not reaped yet: a zombie is gone for the server too.
  EXPECT_TRUE(lock.acquire(5s));
  ::waitpid(holder, nullptr, 0);
  lock.release();
  EXPECT_TRUE(lock.try_acquire());  // and it works as before
}

TEST_P(ManagerLockTest, AWaiterGetsTheLockWhenItsHolderIsKilled) {
  Manager m = manager();
  auto lock = m.lock();
  auto d = m.dict<int, int>();
  const pid_t holder = child_holding(lock);
  Process waiter([lock, d]() mutable {
    if (lock.acquire(10s)) d.set(1, 1);
  });
  waiter.start();
  std::this_thread::sleep_for(200ms);  // the waiter is parked in the server
  EXPECT_FALSE(d.contains(1));
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  waiter.join();
  EXPECT_EQ(d.get(1, 0), 1);
  // The waiter exited holding it: the lock passes on again.
  EXPECT_TRUE(lock.acquire(5s));
}

TEST_P(ManagerLockTest, ALockOfAThreadThatEndedStaysHeld) {
  Manager m = manager();
  auto lock = m.lock();
  std::thread([lock]() mutable { lock.acquire(); }).join();  // its connection closes
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(lock.try_acquire());  // its process lives: another thread may release it
  lock.release();
  EXPECT_TRUE(lock.try_acquire());
  lock.release();
}

TEST_P(ManagerLockTest, OnlyTheLocksOfTheDeadHolderPassOn) {
  Manager m = manager();
  auto theirs = m.lock();
  auto ours = m.lock();
  const pid_t holder = child_holding(theirs);
  ours.acquire();
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  EXPECT_TRUE(theirs.acquire(5s));
  EXPECT_FALSE(ours.try_acquire());  // still ours
}

TEST_P(ManagerLockTest, AReleasedLockIsNotTakenFromItsNextHolder) {
  Manager m = manager();
  auto lock = m.lock();
  const pid_t first = child_holding(lock);
  // Another process releases it (allowed) and a third takes it; then the first dies.
  Process releaser([lock]() mutable { lock.release(); });
  releaser.start();
  releaser.join();
  EXPECT_TRUE(lock.try_acquire());
  ::kill(first, SIGKILL);
  ::waitpid(first, nullptr, 0);
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(lock.try_acquire());  // still ours
  lock.release();
}

INSTANTIATE_TEST_SUITE_P(Endpoints, ManagerLockTest, ::testing::Values("private", "tcp"),
                         [](const auto& info) { return std::string(info.param); });

// Over tcp a holder whose connection stops answering (here: a stopped process, as a
// host that went away) loses its lock once ZeroMQ's heartbeats time out (10 s).
TEST(ManagerLockTcpTest, ALockOfAHolderThatStopsAnsweringPassesOn) {
  Manager m = Manager::serve("tcp://127.0.0.1:0");
  auto lock = m.lock();
  const pid_t holder = child_holding(lock);
  ::kill(holder, SIGSTOP);
  EXPECT_FALSE(lock.acquire(2s));  // a pause is not yet a departure
  EXPECT_TRUE(lock.acquire(30s));
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
}

// A lock taken over tcp by a thread that then ended stays held until released, and the
// connection kept open for it is closed then.
TEST(ManagerLockTcpTest, ReleasingTheLockOfAnEndedThreadStillWorks) {
  Manager m = Manager::serve("tcp://127.0.0.1:0");
  auto first = m.lock();
  auto second = m.lock();
  std::thread([first, second]() mutable {
    first.acquire();
    second.acquire();
  }).join();
  first.release();
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(second.try_acquire());  // still held: the thread's connection stays open
  second.release();
  EXPECT_TRUE(first.try_acquire());
  EXPECT_TRUE(second.try_acquire());
}

}  // namespace
}  // namespace shoal
