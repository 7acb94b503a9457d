#pragma once
// Spin-then-sleep waiting on words in shared memory, across processes.
//
// A WaitWord is an event count: waiters sleep on `epoch` with FUTEX_WAIT (not
// FUTEX_PRIVATE: the word lives in a MAP_SHARED region inherited through fork), and a
// notifier makes one FUTEX_WAKE only when `sleepers` says someone sleeps, so a busy
// queue costs no system call.
//
//   Waiter:   uint32_t key = w.prepare_wait();
//             if (condition()) w.cancel_wait(); else w.commit_wait(key, timeout_ns);
//   Notifier: publish(); w.notify(n);

#include <atomic>
#include <cstdint>

namespace shoal::engine {

// CLOCK_MONOTONIC in nanoseconds (the same clock in every process).
std::int64_t now_ns();

// One pause instruction: tells the CPU we are spinning.
inline void cpu_relax() { __builtin_ia32_pause(); }

// Sleeps while `*word == expected`, at most `timeout_ns` (< 0: no limit). Returns on
// a wake-up, a changed value, a signal or the timeout; the caller re-checks.
void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected, std::int64_t timeout_ns);
// Wakes at most `n` sleepers of `word`.
void futex_wake(std::atomic<std::uint32_t>* word, int n);

// Lives in shared memory; zero-initialised memory is a valid WaitWord.
struct WaitWord {
  std::atomic<std::uint32_t> epoch{0};
  std::atomic<std::uint32_t> sleepers{0};

  // Announces a waiter. Check the condition after this and before commit_wait().
  std::uint32_t prepare_wait() {
    sleepers.fetch_add(1, std::memory_order_seq_cst);
    return epoch.load(std::memory_order_seq_cst);
  }
  // The condition held: stop waiting.
  void cancel_wait() { sleepers.fetch_sub(1, std::memory_order_relaxed); }
  // Sleeps until notified (or `timeout_ns` passes, < 0: never).
  void commit_wait(std::uint32_t key, std::int64_t timeout_ns) {
    futex_wait(&epoch, key, timeout_ns);
    sleepers.fetch_sub(1, std::memory_order_relaxed);
  }
  // Call after publishing: wakes up to `n` sleepers, if there are any.
  void notify(int n) {
    if (!has_sleepers_ordered()) return;
    epoch.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(&epoch, n);
  }
  // True if someone sleeps (or is about to); ordered after the caller's earlier
  // stores (Dekker-style against prepare_wait()). A fence and a plain load keep the
  // word shared between cores; ThreadSanitizer does not model fences, so under it a
  // seq_cst read-modify-write (equally correct, but it takes the line) stands in.
  bool has_sleepers_ordered() {
#if defined(__SANITIZE_THREAD__)
    return sleepers.fetch_add(0, std::memory_order_seq_cst) != 0;
#else
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return sleepers.load(std::memory_order_relaxed) != 0;
#endif
  }
};

// A WaitWord for exactly one waiter (a worker's own slot), whose notifier claims the
// sleeper: a worker that was woken but has not run yet no longer counts as asleep, so
// the next notification goes to another worker. (With WaitWord's count, a second task
// pushed in that window "woke" the same worker again and the task waited, with another
// worker asleep, until the first worker's task ended: for ever if it hung.)
//
//   Waiter:   uint32_t key = w.prepare_wait();
//             if (condition()) w.cancel_wait(); else w.commit_wait(key, timeout_ns);
//   Notifier: publish(); if (w.wake()) ...one waiter was woken...
struct SingleWaiterWord {
  std::atomic<std::uint32_t> epoch{0};
  std::atomic<std::uint32_t> asleep{0};  // 1 from prepare_wait() until woken or done

  // The key is read before `asleep` is raised: a notifier that claims this wait has
  // raised the epoch past the key, so commit_wait() returns at once. (Read after, a
  // claim in between left the waiter asleep on the new epoch, marked awake, for ever.)
  std::uint32_t prepare_wait() {
    std::uint32_t key = epoch.load(std::memory_order_seq_cst);
    asleep.exchange(1, std::memory_order_seq_cst);
    return key;
  }
  void cancel_wait() { asleep.store(0, std::memory_order_relaxed); }
  void commit_wait(std::uint32_t key, std::int64_t timeout_ns) {
    futex_wait(&epoch, key, timeout_ns);
    asleep.store(0, std::memory_order_relaxed);
  }
  // Call after publishing: wakes the waiter if it sleeps (or is about to) and no other
  // notifier claimed it first. True if this call woke it.
  bool wake() {
#if !defined(__SANITIZE_THREAD__)  // see WaitWord::has_sleepers_ordered()
    // The publish comes first; a plain load keeps the line shared while nobody sleeps.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (asleep.load(std::memory_order_relaxed) == 0) return false;
#endif
    if (asleep.exchange(0, std::memory_order_seq_cst) == 0) return false;
    epoch.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(&epoch, 1);
    return true;
  }
};

}  // namespace shoal::engine
