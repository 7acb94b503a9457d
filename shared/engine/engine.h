#pragma once
// The local pool engine, pool side: places jobs in shared task records, collects
// replies from the workers' result rings, handles worker deaths and time limits, and
// drives the zygote. Used by the local Pool backend (client/local_backend.cc) and
// meant for shoal-worker too.
//
// Threads: one supervisor thread collects results when nobody else does; any thread
// waiting on a future may collect too (poll(), the ProgressSource contract). Sinks
// are resolved with no engine lock held, so callbacks may submit more work.

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shared/engine/layout.h"
#include "shared/engine/slab.h"
#include "shoal/internal/future_state.h"
#include "shoal/task.hpp"

namespace shoal::engine {

// One unit of work: `items` argument sets of one task, resolved through `sink`.
struct Job {
  std::uint64_t seq = 0;
  internal::Invoker invoke = nullptr;
  std::uintptr_t fn = 0;
  std::string args;
  std::size_t items = 1;
  std::int64_t time_limit_ms = 0;  // 0: none
  int max_retries = 0;             // re-runs after the worker is lost
  std::shared_ptr<internal::Sink> sink;
  std::size_t index = 0;
  // Engine-internal: the slab block already holding `args`, if any.
  static constexpr std::size_t kNotStaged = ~std::size_t{0};
  std::size_t staged = kNotStaged;
};

struct EngineOptions {
  int processes = 1;                  // >= 1
  std::function<void()> initializer;  // run in each worker before its first task
  int max_tasks_per_child = 0;        // 0: unlimited
  LayoutOptions layout;               // `workers` is set from `processes`
  // The zygote and workers get a process group of their own and stdin from /dev/null:
  // signals to the caller's group (a terminal's Ctrl-C, a group-wide SIGTERM) leave
  // running tasks alone (shoal-worker drains them instead).
  bool detached = false;
  // Tests only: run by submit() without the engine lock while it copies a job's big
  // arguments into shared memory, to hold that window open.
  std::function<void()> while_copying;
  // Tests only: the generation every task record starts at (a test of its wrap-around
  // starts near 2^32 instead of running 4 billion tasks). Never 0.
  std::uint32_t first_generation = 1;
};

class Engine : public internal::ProgressSource {
 public:
  // Maps the shared memory, forks the zygote (which forks the workers) and starts the
  // supervisor thread. Fails with kResourceExhausted when the shared memory cannot be
  // mapped or the zygote cannot be forked, kInvalidArgument when options.processes < 1.
  // Workers that cannot be forked are retried; once none has been alive and forks kept
  // failing for 10 s, the pool stops (failure() says why, naming fork's error) and every
  // job fails with kWorkerLost.
  static absl::StatusOr<std::unique_ptr<Engine>> start(EngineOptions options);

  // Terminates and reaps everything unless join() already returned: no process of
  // this pool outlives the engine, and every accepted job has been resolved. In another
  // process (a fork() child's copy of its parent's engine, destroyed by exit() or a return
  // from main) it only closes that process's copy of the command socket: the pool, its
  // shared memory and its processes are left to the process that started it.
  ~Engine() override;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Accepts `jobs` (moving from them) in order; never blocks: what does not fit the
  // shared records waits in the engine. kFailedPrecondition after close()/terminate(),
  // and in a process other than the one that started the engine (a fork() child).
  // Thread-safe.
  absl::Status submit(std::vector<Job>& jobs);
  // As submit() with one job (moving from it), without a batch to allocate.
  // Thread-safe.
  absl::Status submit(Job& job);
  // True if job `seq` had not started: its sink then fails with kCancelled and it
  // never runs. False in another process than the one that started the engine.
  // Thread-safe.
  bool cancel(std::uint64_t seq);
  // No new jobs; accepted ones still run. Idempotent. Thread-safe. This and terminate()
  // and join() do nothing in another process than the one that started the engine (a
  // fork() child): the pool is its parent's.
  void close();
  // Kills the workers now and fails every unfinished job with kCancelled (a reply that
  // had already arrived still wins). Returns once every process of the pool is reaped.
  void terminate();
  // After close(): waits until every job has been resolved (including failures another
  // thread's submit() or cancel() is still resolving) and every process has exited; after
  // terminate(): returns at once. kFailedPrecondition otherwise. Thread-safe.
  // In a done-callback on the supervisor thread (the one that collects replies), it
  // collects them itself meanwhile, running other callbacks on the way, and returns as soon
  // as the work is done. There, while terminate() or join() in another thread tears the pool
  // down (which waits for this thread to end), it returns once the pool's processes are gone
  // instead of waiting for that teardown; after terminate() what is left is failed when this
  // thread ends.
  absl::Status join();

  int processes() const { return options_.processes; }
  pid_t zygote_pid() const { return zygote_; }
  // Why the pool stopped by itself ("the pool stopped: its zygote process ... was
  // killed ...", or "... no worker process could be forked for 10 s (fork: ...)"), or ""
  // while it works. Thread-safe.
  std::string failure() const {
    return failed_.load(std::memory_order_acquire) ? failure_ : std::string();
  }

  // ProgressSource: one bounded round of collection; true if anything happened. The
  // done-callbacks of what it resolves run on the supervisor thread (the pool's result
  // thread), not in the caller, which may hold a lock one of them takes. False at once in
  // another process than the one that started the engine.
  bool poll() override;
  // ProgressSource: on the supervisor thread (a done-callback waiting for a result, which
  // only this thread would collect), collects until `done()` or `deadline`, running the
  // done-callbacks of what it resolves meanwhile; once terminate() or join() waits for this
  // thread, fails what is left as they would (kCancelled) instead. False on other threads.
  bool collect_until(const std::function<bool()>& done,
                     internal::Clock::time_point deadline) override;
  // True on the engine's supervisor thread, where the sinks it resolves run their
  // done-callbacks: the engine must not be destroyed there (it would join itself).
  bool on_supervisor_thread() const { return std::this_thread::get_id() == supervisor_id_; }

 private:
  struct Inflight;
  struct Outcome;
  explicit Engine(EngineOptions options, SharedState shared);

  // True in a process other than the one that started the engine: a fork() child's copy,
  // which must touch no shared state and send no command (the pool is its parent's).
  // `cached`: internal::self_pid() (hot paths), else getpid() (the teardown).
  bool in_other_process(bool cached) const;

  absl::Status submit_jobs(Job* jobs, std::size_t count);
  bool collect(bool wait_for_lock);
  void supervise();
  // The supervisor's idle step: checks the zygote now and then, and sleeps until a reply,
  // a death or a time limit is news (at most kIdleTickNs), or `done()` holds (if given),
  // or now_ns() reaches `until_ns` (if not 0). Supervisor thread only.
  void sleep_until_news(const std::function<bool()>& done = nullptr, std::int64_t until_ns = 0);
  bool has_news();
  // All below: with mu_ held.
  void drain_ring(int worker, std::vector<Outcome>& out, std::size_t limit);
  void handle_deaths(std::vector<Outcome>& out);
  void check_time_limits();
  void pump(std::vector<Outcome>& out);
  bool place(Job& job, std::vector<Outcome>& out, int* pushed);
  void release(std::uint32_t index);
  void requeue(std::uint32_t index);
  void fail_everything(std::vector<Outcome>& out, const internal::ErrorInfo& error);
  // Once the pool's processes are gone (terminate/join): takes the replies left in the
  // rings and fails every other unfinished job with kCancelled.
  void take_what_is_left(std::vector<Outcome>& out);
  void drop(Job& job, std::vector<Outcome>& out, const internal::ErrorInfo& error);
  bool stage(Job& job);
  // Gives back the slab block `job` was staged in, if any; its arguments stay in job.args.
  void unstage(Job& job);
  void check_zygote(std::vector<Outcome>& out);
  // After a worker could not be forked (fork's `fork_errno`): once none has been alive
  // and forks kept failing for kForkFailureLimitNs, fails the pool (kWorkerLost, as a
  // dead zygote does) and returns true.
  bool give_up_on_forks(std::vector<Outcome>& out, int fork_errno);
  // Without mu_.
  void wait_zygote();
  void stop_supervisor();
  // Resolves every outcome, each on its own (internal::fail_undelivered when its sink
  // throws), and clears `outcomes`. Never throws.
  static void resolve(std::vector<Outcome>& outcomes) noexcept;
  // Leaves callbacks of futures poll() resolved to the supervisor, and wakes it.
  void defer(std::vector<std::function<void()>> callbacks);
  // Runs the deferred callbacks (the supervisor; join/terminate once it stopped).
  void run_deferred_callbacks();
  // A thread resolving, without mu_, outcomes it took under it: a node on that thread's
  // stack, linked into resolving_ under mu_. Listing it cannot fail: had it thrown
  // (bad_alloc), what was taken would never have been resolved.
  struct Resolver {
    std::thread::id id;
    Resolver* prev = nullptr;
    Resolver* next = nullptr;
  };
  // With mu_ held: lists `resolver` (this thread) in resolving_. Never throws.
  void list_resolver(Resolver& resolver) noexcept;
  // Resolves outcomes taken under mu_ by this thread (which listed `resolver` then), drops
  // it from the list and wakes join() if the pool is idle; then runs their done-callbacks,
  // or leaves them to the supervisor if `defer_callbacks`.
  void resolve_taken(Resolver& resolver, std::vector<Outcome>& outcomes, bool defer_callbacks);
  // Without mu_: takes `teardown` (on join_mu_) for terminate() or join(); false, without
  // it, when called in a done-callback while another thread's teardown has stopped the
  // supervisor (waiting for the lock there would deadlock: that teardown waits for this
  // thread to end).
  bool lock_teardown(std::unique_lock<std::mutex>& teardown);
  // With join_mu_: ends the pool's processes (killed if terminate() was called, else once
  // they finish), stops the supervisor and takes what is left into `out`; false if the
  // pool was torn down already.
  bool tear_down(std::vector<Outcome>& out);
  // Without mu_, after a change it guards: wakes a done-callback waiting on the supervisor
  // thread (collect_until() or join()), which sleeps on the results word, not on idle_cv_.
  void wake_supervisor_waits();
  // With mu_ held: a thread other than this one is resolving outcomes it took.
  bool others_resolving() const;

  const EngineOptions options_;
  const pid_t owner_pid_;  // the process that started the engine
  SharedState shared_;
  pid_t zygote_ = 0;
  int command_fd_ = -1;

  std::mutex mu_;
  std::condition_variable idle_cv_;          // all work resolved, or the pool broke
  SlabAllocator slab_;                       // guarded by mu_
  std::vector<Inflight> inflight_;           // by record index; guarded by mu_
  std::vector<std::uint32_t> free_records_;  // guarded by mu_
  // Accepted, not yet placed; guarded by mu_. Only the front may hold a slab block (staged
  // by submit()), and then it waits for a record or ring slot, never for slab room.
  std::deque<Job> pending_;
  std::vector<std::uint64_t> repush_;        // tokens to push again; guarded by mu_
  std::vector<std::string> partial_;         // per worker: a reply being reassembled
  // Per worker: the rest of a reply too big to allocate is skipped (its job has failed).
  std::vector<bool> discarding_;
  std::size_t active_ = 0;                   // placed, unresolved records; guarded by mu_
  std::size_t timed_ = 0;                    // active records with a time limit
  std::size_t staging_ = 0;                  // submit() calls copying without the lock
  // Threads resolving, without the lock, outcomes they took under it (collect, cancel, and
  // submit's own failures; a thread may be listed more than once: a done-callback that
  // collects or cancels): a list of their Resolver nodes, newest first; guarded by mu_.
  // join() waits for the others' (its own callbacks may join).
  Resolver* resolving_ = nullptr;
  // Done-callbacks waiting in collect_until() or join() on the supervisor thread: a thread
  // that resolves outcomes (poll, cancel, submit) or ends a submit() join() waited for
  // wakes it (wake_supervisor_waits).
  std::atomic<int> supervisor_waits_{0};
  std::atomic<std::uint32_t> deaths_seen_{0};
  std::atomic<std::int64_t> next_deadline_ns_{0};  // nearest time limit; 0: none
  bool closed_ = false;
  bool terminated_ = false;
  bool shutting_down_ = false;  // no respawns, deaths expected
  bool zygote_reaped_ = false;
  // The zygote died under us: why, written once (under mu_) before failed_ is set.
  std::string failure_;
  std::atomic<bool> failed_{false};
  std::int64_t next_zygote_check_ns_ = 0;
  // Since when no worker has been alive and forks of workers have failed; 0: they work.
  std::int64_t forks_failing_since_ns_ = 0;  // guarded by mu_

  std::mutex deferred_mu_;
  std::vector<std::function<void()>> deferred_;  // guarded by deferred_mu_
  std::atomic<bool> has_deferred_{false};

  std::mutex join_mu_;  // serialises join/terminate's teardown
  bool joined_ = false;
  std::atomic<bool> stop_{false};
  std::thread supervisor_;
  // supervisor_'s id, kept: joining supervisor_ clears its own while others may ask.
  std::thread::id supervisor_id_;
};

}  // namespace shoal::engine
