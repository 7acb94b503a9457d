#pragma once
// The shared state behind futures, map results and result streams, and the Sink
// interface through which a backend (local engine or broker client) resolves them.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/internal/error_info.h"

namespace shoal::internal {

using Clock = std::chrono::steady_clock;

// Receives the outcome of submitted tasks. A backend calls exactly one of complete()
// or fail() exactly once for every submission it accepted, from any thread.
class Sink {
 public:
  virtual ~Sink() = default;
  // Submission `index` ended; `reply` holds one reply item per task item (reply.h).
  virtual void complete(std::size_t index, std::string reply) = 0;
  // Submission `index` failed as a whole (worker lost, time limit, cancelled, ...).
  virtual void fail(std::size_t index, const ErrorInfo& error) = 0;
};

// Call in a catch block, when `sink`'s complete() or fail() for submission `index` threw
// (out of memory, most likely): fails it again with an error saying why (kOther, "the
// outcome of a task could not be delivered: <what()>"), or, if that throws too, with one
// that allocates nothing itself; if even that throws, reports it on stderr (its waiters may
// then wait for ever). Never throws, so a backend resolving a batch strands no other sink.
void fail_undelivered(Sink& sink, std::size_t index) noexcept;

// Lets a future stop a task that has not started. Implemented by backends.
class Canceller {
 public:
  virtual ~Canceller() = default;
  // True when task `id` will never run; the backend then fails its sink with kCancelled.
  virtual bool cancel(std::uint64_t id) = 0;
};

// Lets a waiting thread make progress itself instead of sleeping (optional).
class ProgressSource {
 public:
  virtual ~ProgressSource() = default;
  // Does one bounded round of result collection; true if anything was collected.
  virtual bool poll() = 0;
  // On a thread that alone would deliver the results waited for (a local pool's result
  // thread, in a done-callback): collects them itself until `done()` or `deadline`, and
  // returns true. False at once on any other thread, which waits as usual.
  virtual bool collect_until(const std::function<bool()>& done, Clock::time_point deadline) {
    (void)done;
    (void)deadline;
    return false;
  }
};

// A process-wide unique task id: a random per-process prefix and a counter.
std::uint64_t next_task_seq();
// Digits of task ids: 64 characters safe in JSON, URLs, file names and shell words.
inline constexpr char kTaskIdDigits[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._";
// Characters of the per-process part of a task id (54 random bits).
inline constexpr std::size_t kTaskIdPrefixSize = 9;
// This process's 9 digits, random; a child of fork() makes its own, so processes forked
// from one another never name two tasks alike. Thread-safe.
std::string_view task_id_prefix();
// Makes this process's prefix anew: for a child made without fork()'s atfork handlers
// (_Fork, clone). Async-signal-safe once the prefix exists (task_id_prefix() was called).
void renew_task_id_prefix();
// The printable form of a task id: 9 digits naming the process, then the counter in
// base 64 (most significant first). Up to 2^36 tasks per process the id has at most
// 15 characters and fits a std::string's own buffer: every copy of it, in every
// process it crosses, allocates nothing.
std::string task_id_string(std::uint64_t seq);

// A lock for a few instructions' worth of work (FutureState's resolve and callbacks):
// 4 bytes instead of std::mutex's 40, since every task's future holds one.
class SpinLock {
 public:
  void lock() {
    while (locked_.exchange(true, std::memory_order_acquire)) {
      while (locked_.load(std::memory_order_relaxed)) yield();
    }
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  static void yield();
  std::atomic<bool> locked_{false};
};

// Waits on a ready flag: spins briefly (wake-ups across cores cost ~90 µs here),
// polls `progress` if given, then sleeps on the flag itself (a futex: no mutex or
// condition variable per future) -- or, on the thread that collects `progress`'s results
// (a done-callback on a local pool's result thread), collects until ready.
class Waitable {
 public:
  bool ready() const { return ready_.load(std::memory_order_acquire) != 0; }
  void wait() const;
  bool wait_until(Clock::time_point deadline) const;  // true if ready

  std::weak_ptr<ProgressSource> progress;

 protected:
  // Marks ready and wakes every waiter. Call at most once.
  void set_ready();

 private:
  bool spin_until(Clock::time_point deadline) const;
  mutable std::atomic<std::uint32_t> ready_{0};  // the futex word: 0 -> 1 once
  mutable std::atomic<std::uint32_t> sleepers_{0};
};

// The state of one task's Future: a one-item reply or a failure, and callbacks.
// One is allocated per task, so it is kept small: rare parts live behind pointers.
class FutureState : public Sink, public Waitable {
 public:
  FutureState(std::uint64_t seq, bool raw) : seq_(seq), raw_(raw) {}
  ~FutureState() override;

  void complete(std::size_t index, std::string reply) override;
  void fail(std::size_t index, const ErrorInfo& error) override;

  std::uint64_t seq() const { return seq_; }
  bool raw() const { return raw_; }
  const std::string& id() const;
  // Valid once ready(): the reply, or the failure of the whole task (nullptr if none).
  const std::string& reply() const { return reply_; }
  const ErrorInfo* error() const { return error_.get(); }
  // Runs `cb` once: after the state resolves, or now if it has.
  void add_callback(std::function<void()> cb);
  // Asks the backend to cancel; true if the task will never run.
  bool cancel();

  std::weak_ptr<Canceller> canceller;

 private:
  bool resolve(std::string reply, std::unique_ptr<ErrorInfo> error);

  const std::uint64_t seq_;
  const bool raw_;
  bool resolved_ = false;  // guarded by mu_
  SpinLock mu_;
  mutable std::atomic<std::string*> id_{nullptr};  // made on first id(), then fixed
  std::string reply_;
  std::unique_ptr<ErrorInfo> error_;
  std::vector<std::function<void()>> callbacks_;  // guarded by mu_
};

// Runs a user callback, reporting (not propagating) what it throws.
void run_callback(const std::function<void()>& cb) noexcept;

// Takes the callbacks of futures a thread resolves for others (a thread waiting in get()
// that collects results itself), so that they run on the pool's result thread as
// promised, not inside that waiter (which may hold a lock a callback takes).
class CallbackDeferral {
 public:
  virtual ~CallbackDeferral() = default;
  // Runs `callbacks` later on the result thread. Thread-safe.
  virtual void defer(std::vector<std::function<void()>> callbacks) = 0;
};
// This thread's deferral while it collects for others, else nullptr: FutureState runs
// the callbacks of what it resolves on the resolving thread.
CallbackDeferral*& callback_deferral();

}  // namespace shoal::internal
