// How the sync primitives tell a live holder or waiter from a dead one (without /proc, with
// a process whose main thread ended, a waiter killed mid-wait), and how their sleepers get
// past a process killed between a state change and its wake-up.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "shoal/process.hpp"
#include "shoal/shared_value.hpp"
#include "shoal/sync.hpp"
#include "tests/mp/child_test_util.h"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using testing::wait_for_state;

// The exit code of a child that cannot set up what its test needs (not root, no namespaces).
constexpr int kCannotSetUp = 77;

// Four processes count under `lock` with a read-modify-write that other processes would
// undo if they took the lock while it is held; true if no count was lost.
template <class L>
bool counts_under(L& lock) {
  constexpr int kProcesses = 4;
  constexpr int kEach = 5000;
  Value<long> counter(0);
  std::vector<Process> procs;
  for (int i = 0; i < kProcesses; ++i) {
    procs.emplace_back([&] {
      for (int k = 0; k < kEach; ++k) {
        std::lock_guard guard(lock);
        long& value = counter.value();
        const long seen = value;
        std::this_thread::yield();  // the others run meanwhile, and find the lock held
        value = seen + 1;
      }
    });
  }
  for (auto& p : procs) p.start();
  for (auto& p : procs) p.join();
  return counter.load() == long{kProcesses} * kEach;
}

// Without /proc (a chroot, a sandbox) every live holder looked dead: a contended Lock or
// RLock was taken while held, and counts were lost.
TEST(LockLivenessTest, LiveHoldersCountAsAliveWithoutProc) {
  Process child([] {
    // A mount namespace of our own, private, with an empty /proc over the real one.
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("none", "/proc", "tmpfs", 0, nullptr) != 0) {
      ::_exit(kCannotSetUp);
    }
    if (::access("/proc/self/stat", F_OK) == 0) ::_exit(kCannotSetUp);
    Lock lock;
    if (!counts_under(lock)) ::_exit(2);
    RLock rlock;
    if (!counts_under(rlock)) ::_exit(3);
  });
  child.start();
  if (!child.join(120s)) {
    child.kill();
    child.join();
    FAIL() << "the counting processes hung";
  }
  if (child.exitcode() == kCannotSetUp) {
    GTEST_SKIP() << "needs root: unshare(CLONE_NEWNS) and mount";
  }
  EXPECT_NE(child.exitcode(), 2) << "a Lock was taken while held";
  EXPECT_NE(child.exitcode(), 3) << "an RLock was taken while held";
  EXPECT_EQ(child.exitcode(), 0);
}

// A process whose main thread ended while another thread holds its Lock: /proc calls the
// main thread a zombie, and the lock was taken over at once although its holder lives.
TEST(LockLivenessTest, AProcessWhoseMainThreadEndedStillHoldsItsLock) {
  Lock lock;
  Event held;
  Event let_go;
  Process holder([&] {
    std::thread([&] {
      lock.acquire();
      held.set();
      let_go.wait();
      lock.release();
      ::_exit(0);
    }).detach();
    ::syscall(SYS_exit, 0);  // the main thread alone ends (pthread_exit would unwind)
  });
  holder.start();
  held.wait();
  ASSERT_TRUE(wait_for_state(*holder.pid(), 'Z'));  // the main thread has ended
  EXPECT_FALSE(lock.try_acquire());
  EXPECT_FALSE(lock.acquire(200ms));
  let_go.set();
  holder.join();
  EXPECT_EQ(holder.exitcode(), 0);
  EXPECT_TRUE(lock.try_acquire());
  lock.release();
}

// An RLock records the thread: held by a main thread that ended, it is free for the taking
// although the thread's process lives on.
TEST(LockLivenessTest, AnRLockHeldByAnEndedMainThreadIsTakenOver) {
  RLock rlock;
  Event held;
  Event let_go;
  Process holder([&] {
    rlock.acquire();
    std::thread([&] {
      held.set();
      let_go.wait();
      ::_exit(0);
    }).detach();
    ::syscall(SYS_exit, 0);
  });
  holder.start();
  held.wait();
  ASSERT_TRUE(wait_for_state(*holder.pid(), 'Z'));
  EXPECT_TRUE(rlock.try_acquire());
  rlock.release();
  let_go.set();
  holder.join();
  EXPECT_EQ(holder.exitcode(), 0);
}

// Runs `wait` in a child process, and once it sleeps, `wake` in another one that dies at
// its futex wake-up, after changing the state `wait` waits on. Returns how the sleeper
// fared: 0 if it returned (its wait looked again on its own), -1 if it still slept after
// 30 s, kCannotSetUp if no seccomp filter could make the waker die there.
template <class Wait, class Wake>
int exit_of_sleeper_whose_waker_dies_at_its_wake_up(Wait wait, Wake wake) {
  Process sleeper(std::move(wait));
  sleeper.start();
  if (!testing::wait_for_futex_sleep(*sleeper.pid())) {
    ADD_FAILURE() << "the sleeper never slept";
  }
  Process waker([wake = std::move(wake)]() mutable {
    if (!testing::die_at_next_shared_futex_wake()) ::_exit(kCannotSetUp);
    wake();
  });
  waker.start();
  waker.join();
  if (waker.exitcode() == kCannotSetUp) {
    sleeper.kill();
    sleeper.join();
    return kCannotSetUp;
  }
  EXPECT_EQ(waker.exitcode(), -SIGSYS) << "the waker did not die at its wake-up";
  if (!sleeper.join(30s)) {
    sleeper.kill();
    sleeper.join();
    return -1;
  }
  return *sleeper.exitcode();
}

// A process killed between changing a primitive's state and waking its sleepers left them
// asleep for good: they sleep in slices now, and look again after each.
TEST(LostWakeUpTest, SemaphoreRelease) {
  Semaphore sem(0);
  const int code = exit_of_sleeper_whose_waker_dies_at_its_wake_up([&] { sem.acquire(); },
                                                                   [&] { sem.release(); });
  if (code == kCannotSetUp) GTEST_SKIP() << "no seccomp filters here";
  EXPECT_EQ(code, 0) << "the acquire never saw the release";
}

TEST(LostWakeUpTest, EventSet) {
  Event event;
  const int code =
      exit_of_sleeper_whose_waker_dies_at_its_wake_up([&] { event.wait(); }, [&] { event.set(); });
  if (code == kCannotSetUp) GTEST_SKIP() << "no seccomp filters here";
  EXPECT_EQ(code, 0) << "the wait never saw the set";
}

TEST(LostWakeUpTest, ConditionNotify) {
  Condition cond;
  const int code = exit_of_sleeper_whose_waker_dies_at_its_wake_up(
      [&] {
        std::lock_guard guard(cond);
        cond.wait();
      },
      [&] {
        cond.acquire();
        cond.notify();  // dies holding the lock: the sleeper takes it over
      });
  if (code == kCannotSetUp) GTEST_SKIP() << "no seccomp filters here";
  EXPECT_EQ(code, 0) << "the wait never saw the notify";
}

TEST(LostWakeUpTest, BarrierWait) {
  Barrier barrier(2);
  const int code = exit_of_sleeper_whose_waker_dies_at_its_wake_up(
      [&] { barrier.wait(); },
      [&] { barrier.wait(); });  // the last to arrive: dies holding the barrier's lock
  if (code == kCannotSetUp) GTEST_SKIP() << "no seccomp filters here";
  EXPECT_EQ(code, 0) << "the first waiter never saw its round pass";
}

// A thread waiting at `barrier` (10 s at most); `passed` is set if its wait returned.
std::thread waiting_thread(Barrier& barrier, std::atomic<bool>& passed) {
  return std::thread([&barrier, &passed] {
    try {
      barrier.wait(10s);
      passed.store(true);
    } catch (const BrokenBarrierError&) {
    }
  });
}

// A process started to sleep in barrier.wait(), returned once the barrier counts it.
Process asleep_in(Barrier& barrier) {
  const int before = barrier.n_waiting();
  Process waiter([&barrier] { barrier.wait(); });
  waiter.start();
  while (barrier.n_waiting() != before + 1) std::this_thread::yield();
  return waiter;
}

// A process killed while asleep in Barrier::wait() stayed counted: the next live parties
// passed a party short. The round breaks instead, as a wait interrupted does in Python.
TEST(BarrierLivenessTest, AWaiterKilledMidWaitDoesNotCountAsAParty) {
  Barrier barrier(3);
  Process killed = asleep_in(barrier);
  killed.kill();
  killed.join();
  std::atomic<bool> other_passed{false};
  std::thread other = waiting_thread(barrier, other_passed);
  try {
    barrier.wait(10s);
    ADD_FAILURE() << "a round of three passed with two live parties";
  } catch (const BrokenBarrierError& e) {
    EXPECT_EQ(std::string(e.what()).find("timed out"), std::string::npos) << e.what();
  }
  other.join();
  EXPECT_FALSE(other_passed.load()) << "a round of three passed with two live parties";
  EXPECT_TRUE(barrier.broken());
  EXPECT_EQ(barrier.n_waiting(), 0);
}

// A sleeper learns of a peer killed mid-wait without anyone else arriving: it slept for
// ever, waiting for a round that could not fill.
TEST(BarrierLivenessTest, ASleeperLearnsThatAPeerWasKilledMidWait) {
  constexpr int kBroken = 5;
  Barrier barrier(3);
  Process killed = asleep_in(barrier);
  Process sleeper([&] {
    try {
      barrier.wait();
    } catch (const BrokenBarrierError&) {
      ::_exit(kBroken);
    }
  });
  sleeper.start();
  while (barrier.n_waiting() != 2) std::this_thread::yield();
  killed.kill();
  killed.join();
  if (!sleeper.join(30s)) {
    sleeper.kill();
    sleeper.join();
    FAIL() << "the sleeper still waited for a round that cannot fill";
  }
  EXPECT_EQ(sleeper.exitcode(), kBroken);
  EXPECT_TRUE(barrier.broken());
}

// reset() waited for ever for a waiter killed mid-wait to leave (a timed wait then timed
// out, breaking the barrier): it forgets it, and the barrier is usable at once.
TEST(BarrierLivenessTest, AResetForgetsAWaiterKilledMidWait) {
  Barrier barrier(2);
  Process killed = asleep_in(barrier);
  killed.kill();
  killed.join();
  barrier.reset();
  EXPECT_FALSE(barrier.broken());
  EXPECT_EQ(barrier.n_waiting(), 0);
  std::atomic<bool> other_passed{false};
  std::thread other = waiting_thread(barrier, other_passed);
  EXPECT_NO_THROW(barrier.wait(10s));
  other.join();
  EXPECT_TRUE(other_passed.load());
}

}  // namespace
}  // namespace shoal
