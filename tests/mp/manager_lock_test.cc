// LockProxy and the processes that hold it: a holder that dies frees the lock, on the
// private endpoint (the server watches the holder's process) and over tcp (the holder's
// connection closes); a holder thread that ends does not, since any thread or process
// may release a Lock. Every case runs on both endpoints.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "shoal/manager.hpp"
#include "shoal/process.hpp"
#include "tests/mp/child_test_util.h"

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

using testing::ForkedChild;

// Forks a child that acquires `lock`, says so on a pipe, and waits to be killed; returns
// it once it holds the lock (killed and reaped, pid -1, if it did not within 30 s).
ForkedChild child_holding(LockProxy lock) {
  int fds[2];
  if (::pipe(fds) != 0) {
    ADD_FAILURE() << "pipe failed";
    return ForkedChild();
  }
  ForkedChild child = testing::fork_child([&] {
    ::close(fds[0]);
    lock.acquire();
    if (::write(fds[1], "x", 1) != 1) ::_exit(1);
    for (;;) ::pause();
  });
  ::close(fds[1]);
  pollfd p{fds[0], POLLIN, 0};
  char c = 0;
  const bool holds = ::poll(&p, 1, 30'000) == 1 && ::read(fds[0], &c, 1) == 1;
  ::close(fds[0]);
  if (!holds) {
    ADD_FAILURE() << "the child did not take the lock within 30 s";
    child.kill_and_reap();
  }
  return child;
}

TEST_P(ManagerLockTest, ALockOfAKilledProcessPassesOn) {
  Manager m = manager();
  auto lock = m.lock();
  ForkedChild holder = child_holding(lock);
  ASSERT_GT(holder.pid(), 0);
  EXPECT_FALSE(lock.acquire(300ms));  // held while the holder lives
  ::kill(holder.pid(), SIGKILL);
  // Not reaped yet: a zombie is gone for the server too.
  EXPECT_TRUE(lock.acquire(30s));
  holder.kill_and_reap();
  lock.release();
  EXPECT_TRUE(lock.try_acquire());  // and it works as before
}

TEST_P(ManagerLockTest, AWaiterGetsTheLockWhenItsHolderIsKilled) {
  Manager m = manager();
  auto lock = m.lock();
  auto d = m.dict<int, int>();
  ForkedChild holder = child_holding(lock);
  ASSERT_GT(holder.pid(), 0);
  Process waiter([lock, d]() mutable {
    if (lock.acquire(30s)) d.set(1, 1);
  });
  waiter.start();
  std::this_thread::sleep_for(200ms);  // the waiter is parked in the server
  EXPECT_FALSE(d.contains(1));
  holder.kill_and_reap();
  waiter.join();
  EXPECT_EQ(d.get(1, 0), 1);
  // The waiter exited holding it: the lock passes on again.
  EXPECT_TRUE(lock.acquire(30s));
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
  ForkedChild holder = child_holding(theirs);
  ASSERT_GT(holder.pid(), 0);
  ours.acquire();
  holder.kill_and_reap();
  EXPECT_TRUE(theirs.acquire(30s));
  EXPECT_FALSE(ours.try_acquire());  // still ours
}

TEST_P(ManagerLockTest, AReleasedLockIsNotTakenFromItsNextHolder) {
  Manager m = manager();
  auto lock = m.lock();
  ForkedChild first = child_holding(lock);
  ASSERT_GT(first.pid(), 0);
  // Another process releases it (allowed) and a third takes it; then the first dies.
  Process releaser([lock]() mutable { lock.release(); });
  releaser.start();
  releaser.join();
  EXPECT_TRUE(lock.try_acquire());
  first.kill_and_reap();
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
  ForkedChild holder = child_holding(lock);  // SIGKILLed, stopped or not, on every path
  ASSERT_GT(holder.pid(), 0);
  ::kill(holder.pid(), SIGSTOP);
  EXPECT_FALSE(lock.acquire(2s));  // a pause is not yet a departure
  EXPECT_TRUE(lock.acquire(30s));
  holder.kill_and_reap();
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
