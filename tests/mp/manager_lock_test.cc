// LockProxy and the processes that hold it: a holder that dies frees the lock (on the
// private endpoint, where the server can watch the holder's process); a holder thread
// that ends does not, since any thread or process may release a Lock.
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

TEST(ManagerLockTest, ALockOfAKilledProcessPassesOn) {
  Manager m;
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

TEST(ManagerLockTest, AWaiterGetsTheLockWhenItsHolderIsKilled) {
  Manager m;
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

TEST(ManagerLockTest, ALockOfAThreadThatEndedStaysHeld) {
  Manager m;
  auto lock = m.lock();
  std::thread([lock]() mutable { lock.acquire(); }).join();  // its connection closes
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(lock.try_acquire());  // its process lives: another thread may release it
  lock.release();
  EXPECT_TRUE(lock.try_acquire());
  lock.release();
}

TEST(ManagerLockTest, OnlyTheLocksOfTheDeadHolderPassOn) {
  Manager m;
  auto theirs = m.lock();
  auto ours = m.lock();
  const pid_t holder = child_holding(theirs);
  ours.acquire();
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  EXPECT_TRUE(theirs.acquire(5s));
  EXPECT_FALSE(ours.try_acquire());  // still ours
}

TEST(ManagerLockTest, AReleasedLockIsNotTakenFromItsNextHolder) {
  Manager m;
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

}  // namespace
}  // namespace shoal
