#include "shoal/sync.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "shoal/process.hpp"
#include "shoal/queue.hpp"
#include "shoal/shared_value.hpp"
#include "tests/mp/child_test_util.h"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using testing::finishes_in_a_child;
using testing::wait_for_futex_sleep;
using testing::wait_for_state;

TEST(LockTest, MutualExclusionAcrossProcesses) {
  Lock lock;
  Value<long> counter(0);
  std::vector<Process> procs;
  for (int i = 0; i < 4; ++i) {
    procs.emplace_back([&] {
      for (int k = 0; k < 20000; ++k) {
        std::lock_guard guard(lock);
        counter.value() += 1;
      }
    });
  }
  for (auto& p : procs) p.start();
  for (auto& p : procs) p.join();
  EXPECT_EQ(counter.load(), 80000);
}

TEST(LockTest, TimedAndTryAcquire) {
  Lock lock;
  EXPECT_TRUE(lock.try_acquire());
  EXPECT_FALSE(lock.try_acquire());
  EXPECT_FALSE(lock.acquire(10ms));
  lock.release();
  EXPECT_TRUE(lock.acquire(10ms));
  lock.release();
  EXPECT_THROW(lock.release(), std::logic_error);
}

TEST(LockTest, AnyProcessMayRelease) {
  Lock lock;
  lock.acquire();
  Process p([&] { lock.release(); });
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_TRUE(lock.try_acquire());
  lock.release();
}

TEST(LockTest, HolderKilledReleasesForNextWaiter) {
  Lock lock;
  Event held;
  Process holder([&] {
    lock.acquire();
    held.set();
    Event().wait();  // hold forever
  });
  holder.start();
  held.wait();
  EXPECT_FALSE(lock.try_acquire());
  holder.kill();  // not reaped yet: a zombie holder counts as dead
  EXPECT_TRUE(lock.acquire(5s));
  lock.release();
  holder.join();
  EXPECT_EQ(holder.exitcode(), -SIGKILL);
}

// try_acquire() and a short timed acquire take over from a dead holder too (only a
// blocked acquire looked, every 50 ms, so a lock polled with try_acquire stayed taken).
TEST(LockTest, TryAcquireTakesOverFromADeadHolder) {
  for (bool reaped : {false, true}) {
    Lock lock;
    Process holder([&] {
      lock.acquire();
      std::_Exit(0);
    });
    holder.start();
    while (!lock.locked()) std::this_thread::yield();
    if (reaped) {
      holder.join();
      EXPECT_TRUE(lock.acquire(1ms)) << "reaped";
    } else {
      siginfo_t info{};  // until it has exited, leaving it unreaped (a zombie)
      ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(*holder.pid()), &info, WEXITED | WNOWAIT), 0);
      EXPECT_TRUE(lock.try_acquire()) << "zombie";
      holder.join();
    }
    EXPECT_FALSE(lock.try_acquire());  // ours now
    lock.release();
  }
}

TEST(LockTest, UniqueLockAndScopedLock) {
  Lock a;
  Lock b;
  {
    std::scoped_lock both(a, b);
    EXPECT_TRUE(a.locked());
    EXPECT_TRUE(b.locked());
  }
  std::unique_lock u(a, std::try_to_lock);
  EXPECT_TRUE(u.owns_lock());
}

TEST(RLockTest, ReentrantAndOwnerOnlyRelease) {
  RLock r;
  r.acquire();
  r.acquire();
  EXPECT_TRUE(r.try_acquire());
  r.release();
  r.release();
  std::thread other([&] {
    EXPECT_FALSE(r.try_acquire());
    EXPECT_THROW(r.release(), std::logic_error);
  });
  other.join();
  r.release();
  EXPECT_THROW(r.release(), std::logic_error);
  Process p([&] {
    if (!r.acquire(1s)) ::_exit(3);
    r.release();
  });
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(SemaphoreTest, CountsAcrossProcesses) {
  Semaphore s(2);
  EXPECT_EQ(s.get_value(), 2);
  s.acquire();
  EXPECT_TRUE(s.try_acquire());
  EXPECT_FALSE(s.try_acquire());
  EXPECT_FALSE(s.acquire(10ms));
  Process p([&] { s.release(); });
  p.start();
  EXPECT_TRUE(s.acquire(5s));  // the child's release wakes us
  p.join();
  EXPECT_EQ(s.get_value(), 0);
  s.release();
  s.release();
  s.release();
  EXPECT_EQ(s.get_value(), 3);  // a plain Semaphore is not bounded
  EXPECT_THROW(Semaphore(-1), std::invalid_argument);
}

TEST(SemaphoreTest, BoundedRejectsReleaseAboveInitial) {
  BoundedSemaphore zero(0);  // bound 0 was taken for "no bound"
  EXPECT_THROW(zero.release(), std::logic_error);
  EXPECT_EQ(zero.get_value(), 0);
  BoundedSemaphore s(1);
  EXPECT_THROW(s.release(), std::logic_error);
  s.acquire();
  s.release();
  EXPECT_THROW(s.release(), std::logic_error);
  EXPECT_EQ(s.get_value(), 1);
}

TEST(EventTest, SetWakesWaitersInOtherProcesses) {
  Event go;
  Event done;
  EXPECT_FALSE(go.is_set());
  EXPECT_FALSE(go.wait(10ms));
  Process p([&] {
    go.wait();
    done.set();
  });
  p.start();
  go.set();
  EXPECT_TRUE(done.wait(5s));
  p.join();
  go.clear();
  EXPECT_FALSE(go.is_set());
}

// set() at once followed by clear(): waiters asleep at set() return true, as with
// Python's threading.Event; they used to find the flag clear and sleep on for ever (or,
// timed, until their timeout, returning false).
TEST(EventTest, SetThenClearAtOnceWakesWhoWasWaiting) {
  Event event;
  Process untimed([&] { event.wait(); });
  Process timed([&] {
    if (!event.wait(60s)) ::_exit(3);
  });
  untimed.start();
  timed.start();
  // Both asleep inside wait(), then stopped, so that neither can look at the flag before
  // clear() (as one woken slowly would not).
  for (Process* p : {&untimed, &timed}) {
    ASSERT_TRUE(wait_for_futex_sleep(*p->pid()));
    ::kill(*p->pid(), SIGSTOP);
    ASSERT_TRUE(wait_for_state(*p->pid(), 'T'));
  }
  event.set();
  event.clear();
  for (Process* p : {&untimed, &timed}) ::kill(*p->pid(), SIGCONT);
  const bool untimed_returned = untimed.join(30s);
  if (!untimed_returned) untimed.kill();
  EXPECT_TRUE(untimed_returned) << "an untimed wait() slept through set(); clear()";
  untimed.join();
  timed.join();
  EXPECT_EQ(timed.exitcode(), 0) << "a timed wait() returned false after set(); clear()";
  EXPECT_FALSE(event.is_set());
  EXPECT_FALSE(event.wait(1ms));  // a wait that starts after clear() waits for the next set()
}

TEST(ConditionTest, ProducerConsumer) {
  Condition cond;
  Value<int> items(0);
  Process consumer([&] {
    std::unique_lock guard(cond);
    for (int taken = 0; taken < 100; ++taken) {
      cond.wait_for(10s, [&] { return items.value() > 0; });
      --items.value();
    }
  });
  consumer.start();
  for (int i = 0; i < 100; ++i) {
    std::lock_guard guard(cond);
    ++items.value();
    cond.notify();
  }
  consumer.join();
  EXPECT_EQ(consumer.exitcode(), 0);
  EXPECT_EQ(items.load(), 0);
}

TEST(ConditionTest, NotifyWakesAtMostN) {
  Lock lock;
  Condition cond(lock);
  Value<int> waiting(0);
  Value<int> woken(0);
  Event all_waiting;
  std::vector<Process> procs;
  for (int i = 0; i < 3; ++i) {
    procs.emplace_back([&] {
      std::lock_guard guard(lock);
      if (++waiting.value() == 3) all_waiting.set();
      cond.wait();
      ++woken.value();
    });
  }
  for (auto& p : procs) p.start();
  ASSERT_TRUE(all_waiting.wait(10s));
  {
    std::lock_guard guard(lock);  // every waiter is inside wait() once we hold the lock
    cond.notify(2);
  }
  // Exactly two can finish; wait for them, then check the third is still waiting.
  int finished = 0;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (finished < 2 && std::chrono::steady_clock::now() < deadline) {
    finished = 0;
    for (auto& p : procs) finished += p.join(5ms) ? 1 : 0;
  }
  EXPECT_EQ(finished, 2);
  EXPECT_EQ(woken.load(), 2);
  {
    std::lock_guard guard(lock);
    cond.notify_all();
  }
  for (auto& p : procs) p.join();
  EXPECT_EQ(woken.load(), 3);
}

// A notify goes to a waiter asleep when it came. A wait that began after it (here one
// that gives up at once) took its token, and the notified waiter slept on.
TEST(ConditionTest, ANotifyIsNotTakenByALaterWaiter) {
  Lock lock;
  Condition cond(lock);
  Value<int> waiting(0);
  Process child([&] {
    bool notified;
    {
      std::lock_guard guard(lock);
      waiting.value() = 1;
      notified = cond.wait(20s);
    }
    ::_exit(notified ? 0 : 3);
  });
  child.start();
  // Once we hold the lock and see waiting == 1, the child is inside wait(); stopped, it
  // cannot take the lock back before our own wait does.
  for (;;) {
    std::lock_guard guard(lock);
    if (waiting.value() == 1) break;
  }
  ::kill(*child.pid(), SIGSTOP);
  ASSERT_TRUE(wait_for_state(*child.pid(), 'T'));
  {
    std::lock_guard guard(lock);
    cond.notify();
    EXPECT_FALSE(cond.wait(0ms)) << "a later waiter took the notify";
  }
  ::kill(*child.pid(), SIGCONT);
  child.join();
  EXPECT_EQ(child.exitcode(), 0) << "the notified waiter was not woken";
}

TEST(ConditionTest, TimedWaitAndMisuse) {
  Condition cond;
  EXPECT_THROW(cond.wait(1ms), std::logic_error);  // lock not held
  std::lock_guard guard(cond);
  EXPECT_FALSE(cond.wait(10ms));
  EXPECT_FALSE(cond.wait_for(10ms, [] { return false; }));
  EXPECT_TRUE(cond.wait_for(10ms, [] { return true; }));
}

// Another thread of the holder's process does not hold the lock either (Python raises
// for it too); before, its wait released the holder's lock and its notify went through.
TEST(ConditionTest, AnotherThreadOfTheHoldersProcessMayNotWaitOrNotify) {
  Condition cond;
  std::lock_guard guard(cond);
  std::thread([&] {
    EXPECT_THROW(cond.wait(50ms), std::logic_error);
    EXPECT_THROW(cond.notify(), std::logic_error);
    EXPECT_THROW(cond.notify_all(), std::logic_error);
  }).join();
  EXPECT_FALSE(cond.wait(10ms));  // still held by this thread, as before
}

// Condition() is on a re-entrant lock, as Python's (an RLock): a helper that takes the
// condition while its caller holds it does not deadlock, and wait() releases every level.
TEST(ConditionTest, ADefaultConditionIsReentrant) {
  Condition cond;
  cond.acquire();
  ASSERT_TRUE(cond.acquire(1s));  // was a self-deadlock (timed out)
  Value<int> woken(0);
  Process waker([&] {
    std::lock_guard guard(cond);  // only once the waiter released both levels
    woken.value() = 1;
    cond.notify();
  });
  waker.start();
  EXPECT_TRUE(cond.wait(30s));
  EXPECT_EQ(woken.value(), 1);
  cond.release();
  cond.release();
  waker.join();
  EXPECT_EQ(waker.exitcode(), 0);
  EXPECT_TRUE(cond.acquire(1s));  // free again
  cond.release();
}

TEST(BarrierTest, FiveProcessesThousandRoundsInLockstep) {
  constexpr int kParties = 5;
  constexpr int kRounds = 1000;
  Barrier barrier(kParties);
  Array<int> indices(kParties * kRounds);
  Value<long> arrivals(0);
  Value<int> out_of_step(0);
  std::vector<Process> procs;
  for (int i = 0; i < kParties; ++i) {
    procs.emplace_back([&, i] {
      for (int round = 0; round < kRounds; ++round) {
        {
          std::lock_guard g(arrivals.get_lock());
          ++arrivals.value();
        }
        int index = barrier.wait();
        indices[static_cast<std::size_t>(round * kParties + i)] = index;
        // Everyone of this round has arrived, and nobody can arrive for round+2 yet.
        long seen = std::atomic_ref<long>(arrivals.value()).load();
        if (seen < (round + 1L) * kParties || seen > (round + 2L) * kParties) {
          std::atomic_ref<int>(out_of_step.value()).fetch_add(1);
        }
      }
    });
  }
  for (auto& p : procs) p.start();
  for (auto& p : procs) p.join();
  for (auto& p : procs) EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(out_of_step.load(), 0);
  for (int round = 0; round < kRounds; ++round) {
    std::set<int> seen;
    for (int i = 0; i < kParties; ++i)
      seen.insert(indices[static_cast<std::size_t>(round * kParties + i)]);
    ASSERT_EQ(seen, (std::set<int>{0, 1, 2, 3, 4})) << "round " << round;
  }
}

TEST(BarrierTest, ActionRunsOncePerRound) {
  Value<int> actions(0);
  Barrier barrier(2, [&] { ++actions.value(); });
  Process p([&] {
    barrier.wait();
    barrier.wait();
  });
  p.start();
  barrier.wait();
  barrier.wait();
  p.join();
  EXPECT_EQ(actions.load(), 2);
  EXPECT_EQ(barrier.parties(), 2);
}

TEST(BarrierTest, TimeoutBreaksTheBarrier) {
  Barrier barrier(2);
  EXPECT_THROW(barrier.wait(20ms), BrokenBarrierError);
  EXPECT_TRUE(barrier.broken());
  EXPECT_THROW(barrier.wait(), BrokenBarrierError);
  barrier.reset();
  EXPECT_FALSE(barrier.broken());
  Barrier with_default(2, {}, std::chrono::milliseconds(20));
  EXPECT_THROW(with_default.wait(), BrokenBarrierError);
}

// A process that dies in the action breaks the barrier, as an action that throws does
// (Python: BrokenBarrierError for every waiter). The waiters slept for ever (a timed wait
// timed out), and the dead process stayed counted: even reset() left the barrier unusable.
TEST(BarrierTest, AProcessThatDiesInTheActionBreaksTheBarrier) {
  const pid_t parent = ::getpid();
  Barrier barrier(2, [parent] {
    if (::getpid() != parent) ::_exit(7);
  });
  Process arriving_last([&] {
    while (barrier.n_waiting() != 1) std::this_thread::yield();
    barrier.wait();  // the last to arrive: runs the action, which ends this process
  });
  arriving_last.start();
  const auto start = std::chrono::steady_clock::now();
  try {
    barrier.wait(10s);
    ADD_FAILURE() << "the round passed although its action never ended";
  } catch (const BrokenBarrierError& e) {
    EXPECT_EQ(std::string(e.what()).find("timed out"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  arriving_last.join();
  EXPECT_EQ(arriving_last.exitcode(), 7);
  EXPECT_TRUE(barrier.broken());
  EXPECT_THROW(barrier.wait(), BrokenBarrierError);  // broken until reset(), as in Python

  barrier.reset();
  EXPECT_FALSE(barrier.broken());
  EXPECT_EQ(barrier.n_waiting(), 0);
  std::atomic<bool> other_passed{false};
  std::thread other([&] {
    try {
      barrier.wait(10s);
      other_passed.store(true);
    } catch (const BrokenBarrierError&) {
    }
  });
  EXPECT_NO_THROW(barrier.wait(10s));  // a full round again; the action runs here
  other.join();
  EXPECT_TRUE(other_passed.load());
}

// The action runs while the barrier's state is held by its caller: broken(), n_waiting(),
// abort() and reset() called from it hung.
TEST(BarrierTest, TheActionMayLookAtAndBreakItsBarrier) {
  Value<int> seen_waiting(-1);
  Value<int> seen_broken(-1);
  EXPECT_TRUE(finishes_in_a_child([&] {
    Barrier* self = nullptr;
    Barrier barrier(1, [&] {
      seen_waiting.value() = self->n_waiting();
      seen_broken.value() = self->broken() ? 1 : 0;
    });
    self = &barrier;
    if (barrier.wait() != 0) ::_exit(3);
  }));
  EXPECT_EQ(seen_waiting.load(), 1);  // the caller itself, as in Python
  EXPECT_EQ(seen_broken.load(), 0);

  // abort() from the action breaks this round: every waiter gets BrokenBarrierError.
  EXPECT_TRUE(finishes_in_a_child([] {
    Barrier* self = nullptr;
    Barrier barrier(2, [&] { self->abort(); });
    self = &barrier;
    Process other([&] {
      try {
        barrier.wait();
      } catch (const BrokenBarrierError&) {
        ::_exit(0);
      }
      ::_exit(3);
    });
    other.set_daemon(true);  // killed with this child if the action hangs
    other.start();
    bool broken = false;
    try {
      barrier.wait();
    } catch (const BrokenBarrierError&) {
      broken = true;
    }
    other.join();
    if (!broken || other.exitcode() != 0 || !barrier.broken()) ::_exit(4);
  }));

  // reset() from the action breaks this round too, then the barrier is usable again.
  EXPECT_TRUE(finishes_in_a_child([] {
    Barrier* self = nullptr;
    int actions = 0;
    Barrier barrier(1, [&] {
      if (actions++ == 0) self->reset();
    });
    self = &barrier;
    try {
      barrier.wait();
      ::_exit(3);
    } catch (const BrokenBarrierError&) {
    }
    if (barrier.broken() || barrier.n_waiting() != 0) ::_exit(4);
    if (barrier.wait() != 0) ::_exit(5);
  }));
}

TEST(BarrierTest, AbortAndResetWakeWaitersWithBrokenBarrierError) {
  Barrier barrier(3);
  Value<int> broken_seen(0);
  std::vector<Process> procs;
  for (int i = 0; i < 2; ++i) {
    procs.emplace_back([&] {
      try {
        barrier.wait();
      } catch (const BrokenBarrierError&) {
        std::atomic_ref<int>(broken_seen.value()).fetch_add(1);
      }
    });
  }
  for (auto& p : procs) p.start();
  while (barrier.n_waiting() < 2) std::this_thread::yield();
  barrier.abort();
  for (auto& p : procs) p.join();
  EXPECT_EQ(broken_seen.load(), 2);
  EXPECT_THROW(barrier.wait(), BrokenBarrierError);

  barrier.reset();
  Process waiter([&] {
    try {
      barrier.wait();
    } catch (const BrokenBarrierError&) {
      ::_exit(9);
    }
  });
  waiter.start();
  while (barrier.n_waiting() < 1) std::this_thread::yield();
  barrier.reset();
  waiter.join();
  EXPECT_EQ(waiter.exitcode(), 9);
  EXPECT_FALSE(barrier.broken());
}

}  // namespace
}  // namespace shoal
