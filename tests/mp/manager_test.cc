#include "shoal/manager.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "shoal/connection.hpp"
#include "shoal/process.hpp"
#include "shoal/queue.hpp"
#include "tests/mp/child_test_util.h"
#include "tests/mp/run_command.h"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A TCP port on 127.0.0.1 that nothing listens on (bound, then released).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool process_gone(pid_t pid) { return ::kill(pid, 0) == -1 && errno == ESRCH; }

int open_descriptors() {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++n;
  }
  return n;
}

// The message of what `f` throws as E ("" if it throws nothing).
template <class E, class F>
std::string message_of(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

TEST(ManagerTest, DictOperations) {
  Manager m;
  auto d = m.dict<std::string, int>();
  EXPECT_EQ(d.size(), 0u);
  d.set("b", 2);
  d.set("a", 1);
  d.set("b", 20);
  EXPECT_EQ(d.get("b"), 20);
  EXPECT_THROW(d.get("zz"), std::out_of_range);
  EXPECT_EQ(d.get("zz", -1), -1);
  EXPECT_TRUE(d.contains("a"));
  EXPECT_FALSE(d.contains("zz"));
  EXPECT_EQ(d.size(), 2u);
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"b", "a"}));  // insertion order
  d.update(std::map<std::string, int>{{"c", 3}, {"a", 10}});
  EXPECT_EQ(d.items(), (std::map<std::string, int>{{"a", 10}, {"b", 20}, {"c", 3}}));
  EXPECT_TRUE(d.erase("a"));
  EXPECT_FALSE(d.erase("a"));
  EXPECT_EQ(d.size(), 2u);
  d.clear();
  EXPECT_EQ(d.size(), 0u);
  auto wrong =
      DictProxy<std::string, std::string>(internal::ProxyRef{m.endpoint(), d.name(), "dict"});
  d.set("k", 5);
  EXPECT_THROW(wrong.get("k"), SerializationError);
}

TEST(ManagerTest, ListOperations) {
  Manager m;
  auto l = m.list<int>({1, 2, 3});
  l.append(4);
  l.extend(std::vector<int>{5, 6});
  EXPECT_EQ(l.size(), 6u);
  EXPECT_EQ(l.get(0), 1);
  EXPECT_EQ(l.get(-1), 6);
  l.set(1, 20);
  EXPECT_EQ(l.pop(), 6);
  EXPECT_EQ(l.pop(0), 1);
  EXPECT_EQ(l.snapshot(), (std::vector<int>{20, 3, 4, 5}));
  EXPECT_THROW(l.get(4), std::out_of_range);
  EXPECT_THROW(l.set(-5, 0), std::out_of_range);
  auto empty = m.list<std::string>();
  EXPECT_THROW(empty.pop(), std::out_of_range);
}

TEST(ManagerTest, QueueProxyInterface) {
  Manager m;
  auto q = m.queue<std::string>(2);
  EXPECT_TRUE(q.empty());
  EXPECT_THROW(q.get_nowait(), Empty);
  EXPECT_THROW(q.get(20ms), Empty);
  q.put("a");
  q.put_nowait("b");
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_THROW(q.put_nowait("c"), Full);
  EXPECT_THROW(q.put("c", 20ms), Full);
  EXPECT_EQ(q.get(), "a");
  EXPECT_EQ(q.get_nowait(), "b");

  Process producer([q]() mutable {
    for (int i = 0; i < 5; ++i) q.put(std::to_string(i));  // blocks at 2 queued
  });
  producer.start();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(q.get(30s), std::to_string(i));
  producer.join();
  EXPECT_EQ(producer.exitcode(), 0);
  q.close();
  EXPECT_THROW(q.put("x"), std::logic_error);
}

TEST(ManagerTest, BlockingGetWaitsLongerThanOneSlice) {
  Manager m;
  auto q = m.queue<int>();
  auto go = m.queue<int>();
  Process p([q, go]() mutable {
    go.get();  // until the parent is about to wait in q.get()
    // Long enough that its wait takes several slices (under load only longer).
    std::this_thread::sleep_for(3 * internal::kManagerSlice);
    q.put(99);
  });
  p.start();
  go.put(1);
  EXPECT_EQ(q.get(), 99);
  p.join();
}

TEST(ManagerTest, LockProxyMutualExclusion) {
  Manager m;
  auto lock = m.lock();
  auto d = m.dict<std::string, int>();
  d.set("n", 0);
  EXPECT_TRUE(lock.try_acquire());
  EXPECT_FALSE(lock.try_acquire());
  EXPECT_FALSE(lock.acquire(20ms));
  lock.release();
  EXPECT_THROW(lock.release(), std::logic_error);
  std::vector<Process> procs;
  for (int i = 0; i < 3; ++i) {
    procs.emplace_back([lock, d]() mutable {
      for (int k = 0; k < 50; ++k) {
        std::lock_guard guard(lock);
        d.set("n", d.get("n") + 1);
      }
    });
  }
  for (auto& p : procs) p.start();
  for (auto& p : procs) p.join();
  EXPECT_EQ(d.get("n"), 150);
}

TEST(ManagerTest, NamedObjectsAreFoundAgain) {
  Manager m;
  auto d1 = m.dict<int, int>("shared");
  d1.set(1, 100);
  auto d2 = m.dict<int, int>("shared");
  EXPECT_EQ(d2.get(1), 100);
  auto l1 = m.list<int>({1, 2}, "items");
  auto l2 = m.list<int>({7, 7, 7}, "items");  // found: the initial value is not used
  EXPECT_EQ(l2.snapshot(), (std::vector<int>{1, 2}));
  EXPECT_THROW(m.list<int>({}, "shared"), Error);
  auto fresh1 = m.dict<int, int>();
  auto fresh2 = m.dict<int, int>();
  EXPECT_NE(fresh1.name(), fresh2.name());
}

TEST(ManagerTest, ProxiesTravelThroughQueuesAndPipes) {
  Manager m;
  auto d = m.dict<int, std::string>();
  Queue<DictProxy<int, std::string>> q;
  Connection a, b;  // tied, not bound: clang 14 cannot capture a structured binding
  std::tie(a, b) = Pipe();
  Process p([&] {
    auto from_queue = q.get();
    from_queue.set(1, "via queue");
    auto from_pipe = b.recv<ListProxy<int>>();
    from_pipe.append(42);
  });
  p.start();
  auto l = m.list<int>();
  q.put(d);
  a.send(l);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(d.get(1), "via queue");
  EXPECT_EQ(l.snapshot(), std::vector<int>{42});
}

TEST(ManagerTest, ServeAndConnectFromASeparateExecutable) {
  Manager m = Manager::serve("tcp://127.0.0.1:0");
  ASSERT_EQ(m.endpoint().rfind("tcp://127.0.0.1:", 0), 0u) << m.endpoint();
  EXPECT_NE(m.endpoint(), "tcp://127.0.0.1:0");
  auto counts = m.dict<std::string, int>("counts");
  counts.set("from-owner", 1);
  auto result =
      testing_util::run_command(std::string(SHOAL_MANAGER_CONNECT_MAIN) + " " + m.endpoint());
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "from-owner=1\n");
  EXPECT_EQ(counts.get("from-helper"), 2);
  auto log = m.list<std::string>({}, "log");
  EXPECT_EQ(log.snapshot(), std::vector<std::string>{"helper was here"});
  Manager other = Manager::connect(m.endpoint());
  auto again = other.dict<std::string, int>("counts");
  EXPECT_EQ(again.get("from-helper"), 2);
}

TEST(ManagerTest, ServedAndReachedOverIpv6) {
  Manager m = Manager::serve("tcp://[::1]:0");
  ASSERT_EQ(m.endpoint().rfind("tcp://[::1]:", 0), 0u) << m.endpoint();
  m.dict<std::string, int>("counts").set("from-owner", 1);
  auto result =
      testing_util::run_command(std::string(SHOAL_MANAGER_CONNECT_MAIN) + " " + m.endpoint());
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "from-owner=1\n");
}

// Whether `call` throws ConnectionError. It runs on a thread of its own and owns what it
// uses (capture by value), so that a call still blocked after 30 s (a hang guard) can be
// left behind: the test then fails instead of hanging.
template <class F>
::testing::AssertionResult throws_connection_error(F call) {
  auto outcome = std::make_shared<std::promise<std::string>>();
  std::future<std::string> done = outcome->get_future();
  std::thread([call = std::move(call), outcome]() mutable {
    std::string what;
    {
      F mine = std::move(call);  // destroyed before the test goes on
      try {
        mine();
        what = "no exception";
      } catch (const ConnectionError&) {
      } catch (const std::exception& e) {
        what = std::string("another exception: ") + e.what();
      }
    }
    outcome->set_value(what);
  }).detach();
  if (done.wait_for(30s) != std::future_status::ready) {
    return ::testing::AssertionFailure() << "still blocked after 30 s";
  }
  const std::string what = done.get();
  if (!what.empty()) return ::testing::AssertionFailure() << what;
  return ::testing::AssertionSuccess();
}

TEST(ManagerTest, DeadServerIsAConnectionError) {
  Manager m;
  auto d = m.dict<int, int>();
  auto q = m.queue<int>();
  d.set(1, 1);
  const pid_t server = *m.server_pid();
  ::kill(server, SIGKILL);
  ::waitpid(server, nullptr, 0);
  EXPECT_TRUE(throws_connection_error([d]() mutable { (void)d.get(1); }));
  EXPECT_TRUE(throws_connection_error([q]() mutable { (void)q.get(); }));  // a blocking call too
  EXPECT_TRUE(throws_connection_error([d]() mutable { d.set(2, 2); }));
}

// A request bigger than the socket's buffers, to a server that is stopped (not dead): the
// sending has the call's deadline too, so the call throws ConnectionError instead of
// blocking in send() for as long as the server stays stopped.
TEST(ManagerTest, ABigRequestToAStoppedServerIsAConnectionError) {
  Manager m;
  auto d = m.dict<int, std::string>();
  d.set(0, "reachable");
  const pid_t server = *m.server_pid();
  ASSERT_EQ(::kill(server, SIGSTOP), 0);
  auto call = std::async(std::launch::async, [&] {
    try {
      d.set(1, std::string(std::size_t{4} << 20, 'x'));
    } catch (const ConnectionError&) {
      return true;
    }
    return false;
  });
  const bool returned = call.wait_for(60s) == std::future_status::ready;
  ::kill(server, SIGCONT);  // lets a call still blocked go on
  EXPECT_TRUE(returned) << "the call blocked while the server was stopped";
  EXPECT_TRUE(call.get()) << "no ConnectionError";
  EXPECT_EQ(d.get(0), "reachable");  // the server goes on once resumed
}

TEST(ManagerTest, ConnectWithNothingAnsweringFails) {
  const std::string nobody = "tcp://127.0.0.1:" + std::to_string(free_port());
  EXPECT_TRUE(throws_connection_error([nobody] { (void)Manager::connect(nobody); }));
  EXPECT_TRUE(throws_connection_error([] { (void)Manager::connect("ipc://@shoal-nobody-here"); }));
}

TEST(ManagerTest, ShutdownLeavesNoProcess) {
  pid_t first, second;
  {
    Manager m;
    first = *m.server_pid();
    m.dict<int, int>().set(1, 1);
    m.shutdown();
    EXPECT_FALSE(m.server_pid().has_value());
    m.shutdown();  // idempotent
    Manager n;
    second = *n.server_pid();
  }  // ~Manager of the owner shuts `n` down
  for (pid_t pid : {first, second}) {
    EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
    EXPECT_TRUE(process_gone(pid));
  }
  EXPECT_THROW(Manager::serve("tcp://256.0.0.1:1"), Error);
}

// True once `pid` has gone within `limit` (a server that is not our child is reaped by
// whoever inherits it).
bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
  const auto give_up = Clock::now() + limit;
  while (!process_gone(pid) && Clock::now() < give_up) std::this_thread::sleep_for(10ms);
  return process_gone(pid);
}

// The server lives as long as the process that made it, not the thread: it was tied to
// the thread (PR_SET_PDEATHSIG), so a Manager made on a thread that ended lost its
// server at once. A SIGKILLed owner process still takes its servers with it.
TEST(ManagerTest, TheServerOutlivesItsThreadButNotItsProcess) {
  std::optional<Manager> local, tcp;
  pid_t maker = 0;
  std::thread([&] {
    maker = static_cast<pid_t>(::syscall(SYS_gettid));
    local.emplace();
    tcp.emplace(Manager::serve("tcp://127.0.0.1:0"));
  }).join();
  // The thread is gone once the kernel has released it, after any signal its exit sent:
  // a server tied to it would have its SIGKILL pending by then.
  const std::string task = "/proc/self/task/" + std::to_string(maker);
  const auto give_up = Clock::now() + 30s;
  while (std::filesystem::exists(task) && Clock::now() < give_up) std::this_thread::sleep_for(1ms);
  ASSERT_FALSE(std::filesystem::exists(task)) << "thread " << maker << " still listed";
  for (Manager* m : {&*local, &*tcp}) {
    auto d = m->dict<int, int>();
    d.set(1, 2);
    EXPECT_EQ(d.get(1), 2) << m->endpoint();
  }

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  testing::ForkedChild owner = testing::fork_child([&] {  // killed on every path
    ::close(fds[0]);
    Manager mine;
    Manager served = Manager::serve("tcp://127.0.0.1:0");
    const pid_t servers[2] = {*mine.server_pid(), *served.server_pid()};
    if (::write(fds[1], servers, sizeof servers) != sizeof servers) ::_exit(1);
    for (;;) ::pause();
  });
  ::close(fds[1]);
  ASSERT_GT(owner.pid(), 0);
  pid_t servers[2] = {0, 0};
  pollfd p{fds[0], POLLIN, 0};
  const bool told = ::poll(&p, 1, 30'000) == 1 &&
                    ::read(fds[0], servers, sizeof servers) == static_cast<ssize_t>(sizeof servers);
  ::close(fds[0]);
  ASSERT_TRUE(told) << "the owner did not say its servers within 30 s";
  owner.kill_and_reap();
  for (pid_t server : servers) EXPECT_TRUE(gone_within(server, 30s)) << server;
}

// Only the process that started the server stops it: a forked child's shutdown of its
// copy (or its exit running a static Manager's destructor) stopped it for everyone.
TEST(ManagerTest, AForkedChildsCopyDoesNotStopTheServer) {
  Manager m;
  auto d = m.dict<int, int>();
  d.set(1, 1);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    m.shutdown();
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(d.get(1), 1);
  EXPECT_TRUE(m.server_pid().has_value());
}

// A Manager with static storage duration: its destructor runs after the thread's
// thread_local connection caches are destroyed, and used them (a segfault at exit).
TEST(ManagerTest, StaticManagersEndCleanlyAtExit) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    static Manager local;
    static Manager tcp = Manager::serve("tcp://127.0.0.1:0");
    local.dict<int, int>().set(1, 1);
    tcp.dict<int, int>().set(1, 1);
    const pid_t servers[2] = {*local.server_pid(), *tcp.server_pid()};
    if (::write(fds[1], servers, sizeof servers) != sizeof servers) ::_exit(1);
    std::exit(0);  // static destructors run
  }
  ::close(fds[1]);
  pid_t servers[2] = {0, 0};
  ASSERT_EQ(::read(fds[0], servers, sizeof servers), static_cast<ssize_t>(sizeof servers));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
  for (pid_t server : servers) EXPECT_TRUE(gone_within(server, 30s)) << server;
}

TEST(ManagerTest, ManagersLeaveNoDescriptorOpen) {
  auto use_both = [] {
    Manager local;
    local.dict<int, int>().set(1, 1);
    Manager tcp = Manager::serve("tcp://127.0.0.1:0");
    tcp.dict<int, int>().set(1, 1);
  };
  use_both();  // the ZeroMQ context and its threads stay; they are made once
  const int before = open_descriptors();
  for (int i = 0; i < 10; ++i) use_both();
  Manager unused;  // shut down without a proxy ever used
  unused.shutdown();
  // ZeroMQ's I/O thread closes a closed socket's connections a moment later.
  const auto give_up = Clock::now() + 30s;
  while (open_descriptors() > before && Clock::now() < give_up) std::this_thread::sleep_for(10ms);
  EXPECT_LE(open_descriptors(), before);  // fewer: the first round's may close late too
}

TEST(ManagerTest, BadEndpointsAreShoalErrorsNamingThem) {
  const std::string too_big = message_of<Error>([] { Manager::serve("tcp://127.0.0.1:99999"); });
  EXPECT_NE(too_big.find("99999"), std::string::npos) << too_big;
  EXPECT_NE(message_of<Error>([] { Manager::serve("tcp://127.0.0.1:-1"); }), "");
  EXPECT_NE(message_of<Error>([] { Manager::connect("tcp://127.0.0.1:0"); }), "");
  for (const std::string endpoint : {"garbage", ""}) {
    const std::string what = message_of<Error>([&] { Manager::connect(endpoint); });
    EXPECT_NE(what.find("'" + endpoint + "'"), std::string::npos) << what;
  }
}

TEST(ManagerTest, NothingListeningIsNotBlamedOnAnAuthkey) {
  std::string endpoint;
  {
    Manager m = Manager::serve("tcp://127.0.0.1:0");
    endpoint = m.endpoint();
    m.dict<int, int>().set(1, 1);
  }
  const std::string what = message_of<ConnectionError>([&] { Manager::connect(endpoint); });
  EXPECT_NE(what.find(endpoint), std::string::npos) << what;
  EXPECT_NE(what.find("nothing listens"), std::string::npos) << what;
  EXPECT_EQ(what.find("authkey"), std::string::npos) << what;
}

// A value of hundreds of MiB takes the server (single-threaded) a while to copy in and
// out: neither its client nor others waiting meanwhile may take that for a dead server
// (another client gets the announcement during one small call, and the copy lasts into
// its next ones: under load or ASan they timed out until the announcement was kept).
TEST(ManagerTest, BigValuesAreNotMistakenForADeadServer) {
  for (const std::string endpoint : {"", "tcp://127.0.0.1:0"}) {
    SCOPED_TRACE(endpoint.empty() ? "private endpoint" : endpoint);
    Manager m = endpoint.empty() ? Manager() : Manager::serve(endpoint);
    auto d = m.dict<int, std::string>();
    d.set(0, "small");
    std::atomic<bool> done{false};
    std::atomic<int> small_ops{0};
    std::string small_failure;
    std::thread other([&] {
      try {
        while (!done) {
          EXPECT_EQ(d.get(0), "small");
          ++small_ops;
        }
      } catch (const std::exception& e) {
        small_failure = e.what();
      }
    });
    const std::string big(250u << 20, 'b');
    EXPECT_NO_THROW(d.set(1, big));
    EXPECT_NO_THROW(EXPECT_EQ(d.get(1).size(), big.size()));
    done = true;
    other.join();
    EXPECT_EQ(small_failure, "");
    EXPECT_GT(small_ops.load(), 0);
  }
}

}  // namespace
}  // namespace shoal
