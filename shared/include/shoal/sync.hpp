#pragma once
// Process-shared synchronisation (API.md §6): Lock, RLock, Semaphore, BoundedSemaphore,
// Event, Condition, Barrier — the shapes of Python's multiprocessing.synchronize.
//
//   shoal::Lock lock;                                // create before forking
//   shoal::Process p([&] { std::lock_guard g(lock); ... });
//
// Every object lives in an anonymous MAP_SHARED mapping made by its constructor, so
// processes forked afterwards share it. Objects are handles: copies (in this process or
// a forked child) refer to the same shared object, and the mapping lives as long as
// any copy in this process. Every member is thread-safe and process-safe.
//
// Robustness (better than Python): a Lock records the pid of its holder, an RLock the
// kernel tid. A waiter that finds the holder gone (exited, killed, or a zombie not yet
// reaped) takes the lock over, so a SIGKILLed holder never deadlocks the others; a
// blocked waiter notices within about 50 ms, try_acquire() and a timed acquire that
// expires look at once. This holds in pool workers too (forked without atfork handlers,
// they renew the cached pid themselves). Like Python's, a Lock may be released by any
// process or thread (the recorded holder is only used to detect death); an RLock, and
// the re-entrant Lock of a Value or Array, may only be released by their owner thread.
// A Lock's holder is its process, alive while any of its threads runs (its main thread
// may have ended). Without /proc and pidfds (some sandboxes) a holder killed but not yet
// reaped by its parent looks alive until it is reaped.
// A dead holder is only detected by waiters on the same host (pids are local). A holder
// whose pid is reused by a new process before anyone looks is indistinguishable from a
// live holder (pid reuse is rare on Linux).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "shoal/errors.hpp"
#include "shoal/internal/deadline.h"

namespace shoal {
namespace internal {

using Deadline = std::optional<std::chrono::steady_clock::time_point>;

// An anonymous MAP_SHARED mapping, zero-filled; unmapped when the last handle in this
// process goes. Processes forked after create() share it.
class SharedRegion {
 public:
  // Maps `bytes` (rounded up to pages). `reserve_only`: MAP_NORESERVE, pages cost memory
  // only once touched. Throws shoal::Error when the mapping fails.
  static std::shared_ptr<SharedRegion> create(std::size_t bytes, bool reserve_only = false);
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;
  ~SharedRegion();
  std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  SharedRegion(std::byte* data, std::size_t size) : data_(data), size_(size) {}
  std::byte* data_;
  std::size_t size_;
};

// A place for a sync object inside another object's region (Value, Array, Queue).
struct Slot {
  std::shared_ptr<SharedRegion> region;
  void* at = nullptr;  // 8-byte aligned, zero-filled, kSlotBytes long
};
inline constexpr std::size_t kSlotBytes = 64;
// A slot in a new region of its own. Throws shoal::Error if it cannot be mapped.
Slot new_slot();

// What an owner word's ids name: processes (pids: a Lock, whose holder is its process)
// or threads (kernel tids: an RLock). A process lives while any of its threads does.
enum class TaskKind { kProcess, kThread };

// The owner-word lock every mp/ primitive builds on: 0 = free, else the holder's id
// (pid or tid, as `kind` says) with bit 31 set when someone may be waiting. Both take the
// lock over from a holder that has died; owner_acquire blocks until `deadline` at most.
bool owner_acquire(std::atomic<uint32_t>* word, uint32_t self, const Deadline& deadline,
                   TaskKind kind = TaskKind::kProcess);
bool owner_try_acquire(std::atomic<uint32_t>* word, uint32_t self,
                       TaskKind kind = TaskKind::kProcess);
// Returns the previous word (0 if it was not held).
uint32_t owner_release(std::atomic<uint32_t>* word);
uint32_t self_pid_u32();
uint32_t self_tid_u32();

}  // namespace internal

// A non-recursive lock shared by processes. BasicLockable and Lockable, so
// std::lock_guard / std::unique_lock / std::scoped_lock work.
//
// The lock of a Value or Array (get_lock()) is re-entrant instead, like the RLock Python
// gives them: the thread holding it may acquire it again (each acquire needs a release),
// so their own load()/store()/to_vector() work under it; only that thread may release
// it (others: std::logic_error). A Condition on it releases it whole while it waits.
class Lock {
 public:
  // A new, unlocked lock. Throws shoal::Error if shared memory cannot be mapped.
  Lock();
  // Internal: a lock living in `slot` (used by Value, Array, Condition, Queue);
  // `recursive`: re-entrant, as described above (Value's and Array's).
  explicit Lock(internal::Slot slot, bool recursive = false);

  // Blocks until acquired. A holder that died is replaced by the caller.
  void acquire();
  // Blocks at most `timeout`; true if acquired.
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return acquire_until(internal::deadline_after(timeout));
  }
  // Never blocks; true if acquired (also from a holder that died).
  bool try_acquire();
  // Releases; any process or thread may (like Python). std::logic_error if not held.
  // A re-entrant lock: one level, by its holding thread only, else std::logic_error.
  void release();
  // True while some process holds it (a snapshot).
  bool locked() const;

  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return try_acquire(); }

  // Internal.
  bool acquire_until(const internal::Deadline& deadline);
  // True if the calling thread acquired it and it was not released since.
  bool held_by_this_thread() const;
  // Internal (Condition::wait): releases every level the caller holds; returns how many.
  uint32_t release_save();
  // Internal: acquires (blocking) and holds `levels` levels, as release_save() found.
  void acquire_restore(uint32_t levels);

 private:
  std::atomic<uint32_t>* tid_word() const;    // the acquiring thread's tid, 0 when free
  std::atomic<uint32_t>* depth_word() const;  // re-entrant: the levels held
  bool acquired(bool acquired);               // notes the caller as the holder if `acquired`
  std::shared_ptr<internal::SharedRegion> region_;
  std::atomic<uint32_t>* word_;
  bool recursive_ = false;
};

// A re-entrant lock: the owning thread (of the owning process) may acquire it again;
// each acquire needs a release. release() by any other thread: std::logic_error.
class RLock {
 public:
  RLock();
  void acquire();
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return acquire_until(internal::deadline_after(timeout));
  }
  bool try_acquire();
  // std::logic_error unless the calling thread holds it.
  void release();
  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return try_acquire(); }
  bool acquire_until(const internal::Deadline& deadline);

 private:
  struct State;
  std::shared_ptr<internal::SharedRegion> region_;
  State* state_;
};

// A counting semaphore shared by processes. Semaphore(0) starts with no permits.
// std::invalid_argument if value < 0.
class Semaphore {
 public:
  explicit Semaphore(int value = 1);
  // Blocks until a permit is available and takes it.
  void acquire();
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return acquire_until(internal::deadline_after(timeout));
  }
  bool try_acquire();
  // Returns a permit and wakes one waiter. BoundedSemaphore: std::logic_error above
  // the initial value.
  void release();
  // The permits available now (a snapshot).
  int get_value() const;
  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return try_acquire(); }
  bool acquire_until(const internal::Deadline& deadline);

 protected:
  Semaphore(int value, bool bounded);

 private:
  struct State;
  std::shared_ptr<internal::SharedRegion> region_;
  State* state_;
};

// A Semaphore whose release() above the initial value throws std::logic_error.
class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(int value = 1) : Semaphore(value, true) {}
};

// A flag processes can wait on.
class Event {
 public:
  Event();
  // Raises the flag and wakes every waiter. Each one waiting then returns true, even if
  // clear() follows at once (as in Python).
  void set();
  void clear();
  bool is_set() const;
  // Blocks until the flag is set, or until a set() since the call began.
  void wait();
  // As wait(), at most `timeout`; true if set (or set since the call began).
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(internal::deadline_after(timeout));
  }
  bool wait_until(const internal::Deadline& deadline);

 private:
  std::shared_ptr<internal::SharedRegion> region_;
  std::atomic<uint32_t>* flag_;
};

// A condition variable bound to a Lock (its own, or one given). wait/notify need the
// lock held by the calling thread (as in Python), else std::logic_error. No spurious wake-ups:
// wait() returns after a notify; notify(n) wakes at most n waiters, all of them asleep in
// wait() when it was called (a wait begun later never takes their place). On a re-entrant
// lock (a Value's or Array's), wait() releases every level it holds and takes them back.
class Condition {
 public:
  // On a re-entrant lock of its own, as Python's Condition() (an RLock): the holder may
  // acquire it again, and only the holder may release it.
  Condition();
  // Shares `lock` (a handle copy): acquiring either acquires both.
  explicit Condition(Lock& lock);
  void acquire() { lock_.acquire(); }
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return lock_.acquire(timeout);
  }
  void release() { lock_.release(); }
  void lock() { lock_.acquire(); }
  void unlock() { lock_.release(); }
  bool try_lock() { return lock_.try_acquire(); }

  // Releases the lock, blocks until notified, re-acquires it.
  void wait() { wait_until(std::nullopt); }
  // As wait(); false if `timeout` passed first (the lock is re-acquired either way).
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(internal::deadline_after(timeout));
  }
  // Waits until pred() holds (checked under the lock); false if it still does not
  // after `timeout`.
  template <class Rep, class Period, class Pred>
  bool wait_for(std::chrono::duration<Rep, Period> timeout, Pred pred) {
    auto deadline = internal::deadline_after(timeout);
    while (!pred()) {
      if (!wait_until(deadline)) return pred();
    }
    return true;
  }
  // Wakes at most n of the waiters asleep now (as many as there are, up to n).
  void notify(int n = 1);
  // Wakes every waiter asleep now.
  void notify_all();
  bool wait_until(const internal::Deadline& deadline);

 private:
  struct State;
  void check_held(const char* what) const;
  Lock lock_;
  std::shared_ptr<internal::SharedRegion> region_;
  State* state_;
};

// A barrier for `parties` processes (or threads). The last to arrive runs `action`
// (in its own process) before anyone is released. `timeout`: the default for wait().
// std::invalid_argument if parties < 1. The action may call broken(), n_waiting(),
// abort() and reset(); abort() or reset() there breaks its round (every waiter of it,
// the action's caller included, gets BrokenBarrierError). An action that throws, or whose
// process dies in it, breaks the barrier (as in Python, where an action that raises does):
// the other waiters get BrokenBarrierError, and the dead process no longer counts as one.
// So does a process killed while waiting (Python's waiters would wait for ever): no round
// passes with it counted as a party, a waiter asleep learns of it within about 100 ms,
// and reset() forgets it.
class Barrier {
 public:
  explicit Barrier(int parties, std::function<void()> action = {},
                   std::optional<std::chrono::milliseconds> timeout = {});
  // Blocks until `parties` callers wait; returns this caller's arrival index in
  // [0, parties). Throws BrokenBarrierError if the barrier is or becomes broken
  // (abort, reset while waiting, a timeout, or an action that threw or whose process
  // died in it).
  int wait();
  // As wait(); after `timeout` the barrier breaks and BrokenBarrierError is thrown.
  template <class Rep, class Period>
  int wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(internal::deadline_after(timeout));
  }
  // Breaks the barrier: current and future waiters get BrokenBarrierError until reset().
  void abort();
  // Back to the initial state; current waiters get BrokenBarrierError. A waiter whose
  // process was killed no longer counts.
  void reset();
  // True while the barrier is broken, also by a process that died in the action (a
  // snapshot; never blocks).
  bool broken() const;
  int parties() const { return parties_; }
  // Callers waiting now (a snapshot; never blocks). In the action: all parties.
  int n_waiting() const;
  int wait_until(const internal::Deadline& deadline);

 private:
  struct State;
  std::shared_ptr<internal::SharedRegion> region_;
  State* state_;
  int parties_;
  std::function<void()> action_;
  std::optional<std::chrono::milliseconds> timeout_;
};

}  // namespace shoal
