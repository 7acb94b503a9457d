// Engine, the lifecycle half: start, submit, cancel, close/terminate/join, and the
// supervisor thread.

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <new>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "shared/engine/engine_internal.h"
#include "shared/engine/zygote.h"
#include "shared/mp/futex.h"

namespace shoal::engine {

using internal::ErrorInfo;
using internal::ErrorKind;

namespace {

// The supervisor spins this long for more replies before it sleeps.
constexpr std::int64_t kCollectorSpinNs = 50'000;
// Sleep bounds: time limits are checked at least this often while one is armed, and
// the zygote's health otherwise.
constexpr std::int64_t kTimeLimitTickNs = 5'000'000;
constexpr std::int64_t kIdleTickNs = 200'000'000;
// A submitter tries the lock this often before it sleeps on it (see lock_for_submit).
constexpr int kSubmitLockTries = 4096;

// The collector holds mu_ for tens of microseconds per round. A submitter that went to
// sleep on it paid a context switch and a wake-up each time (W1: thousands a second,
// and the submitting thread is the bottleneck), so it retries for a while first,
// yielding now and then in case the holder waits for this core.
void lock_for_submit(std::unique_lock<std::mutex>& lock) {
  for (int i = 0; i < kSubmitLockTries; ++i) {
    if (lock.try_lock()) return;
    if ((i & 63) == 63) {
      sched_yield();
    } else {
      cpu_relax();
    }
  }
  lock.lock();
}

// Sets aside, never joined nor destroyed, the handle of a thread that does not exist in
// this process (a fork() child's copy of its parent's): a joinable std::thread's destructor
// would std::terminate, and join() or detach() would act on a thread id of the parent's.
void abandon(std::thread& thread) {
  if (!thread.joinable()) return;
  alignas(std::thread) static unsigned char set_aside[sizeof(std::thread)];
  new (set_aside) std::thread(std::move(thread));  // a move only copies the id
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> Engine::start(EngineOptions options) {
  if (options.processes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("a pool needs at least one process, not ", options.processes));
  }
  options.layout.workers = options.processes;
  auto shared = SharedState::create(options.layout);
  if (!shared.ok()) return shared.status();
  internal::where_am_i();  // initialise its statics here, not in a child
  std::unique_ptr<Engine> engine(new Engine(std::move(options), std::move(*shared)));
  ZygoteConfig config;
  config.shared = &engine->shared_;
  config.initializer = &engine->options_.initializer;
  config.max_tasks_per_child = engine->options_.max_tasks_per_child;
  config.pool = getpid();
  config.detached = engine->options_.detached;
  auto zygote = start_zygote(config, &engine->command_fd_);
  if (!zygote.ok()) return zygote.status();
  engine->zygote_ = *zygote;
  engine->supervisor_ = std::thread([e = engine.get()] { e->supervise(); });
  engine->supervisor_id_ = engine->supervisor_.get_id();
  return engine;
}

Engine::Engine(EngineOptions options, SharedState shared)
    : options_(std::move(options)),
      owner_pid_(getpid()),
      shared_(std::move(shared)),
      slab_(shared_.slab_region().size()),
      inflight_(shared_.record_count()),
      partial_(static_cast<std::size_t>(options_.processes)),
      discarding_(static_cast<std::size_t>(options_.processes), false) {
  for (Inflight& in : inflight_) in.gen = options_.first_generation;
  free_records_.reserve(inflight_.size());
  for (std::size_t i = inflight_.size(); i-- > 0;) {
    free_records_.push_back(static_cast<std::uint32_t>(i));
  }
}

bool Engine::in_other_process(bool cached) const {
  return (cached ? internal::self_pid() : getpid()) != owner_pid_;
}

Engine::~Engine() {
  if (in_other_process(false)) {
    // A fork() child's copy (exit() or a return from main destroys it there): the pool is
    // the parent's, which goes on using it. Only our copy of the command socket goes; the
    // supervisor thread does not exist here. The parent's threads that waited on idle_cv_
    // do not either: its destructor must not wait for them.
    if (command_fd_ >= 0) close_command(command_fd_);
    abandon(supervisor_);
    new (&idle_cv_) std::condition_variable();
    return;
  }
  bool joined;
  {
    std::lock_guard lock(join_mu_);
    joined = joined_;
  }
  if (!joined) {
    terminate();
    join().IgnoreError();
  }
  stop_supervisor();
  run_deferred_callbacks();  // a waiter's, deferred as the pool stopped
  if (command_fd_ >= 0) close_command(command_fd_);
}

absl::Status Engine::submit(std::vector<Job>& jobs) {
  absl::Status status = submit_jobs(jobs.data(), jobs.size());
  if (status.ok()) jobs.clear();
  return status;
}

absl::Status Engine::submit(Job& job) { return submit_jobs(&job, 1); }

absl::Status Engine::submit_jobs(Job* jobs, std::size_t count) {
  if (in_other_process(true)) {
    return absl::FailedPreconditionError(absl::StrCat("the pool belongs to process ", owner_pid_,
                                                      "; a process forked from it cannot use it"));
  }
  std::vector<Outcome> out;
  Resolver resolver;
  int pushed = 0;
  bool wake_join = false;
  {
    std::unique_lock lock(mu_, std::defer_lock);
    lock_for_submit(lock);
    if (closed_) {
      return absl::FailedPreconditionError(
          failed_.load(std::memory_order_relaxed) ? failure_ : "the pool is closed");
    }
    ++staging_;  // join() waits for every job of this call
    std::size_t i = 0;
    for (; i < count; ++i) {
      Job& job = jobs[i];
      const bool in_order = pending_.empty() && repush_.empty();
      if (in_order && job.args.size() >= kStageBytes && stage(job)) {
        // Copy big arguments without the lock, so that the jobs placed so far run and
        // their replies are collected meanwhile.
        if (pushed) shared_.wake_workers(std::exchange(pushed, 0));
        lock.unlock();
        if (options_.while_copying) options_.while_copying();
        std::memcpy(shared_.slab() + job.staged, job.args.data(), job.args.size());
        lock.lock();
        // Accepted, then the pool ended before it was placed: terminated, or its zygote
        // died (check_zygote() failed what was queued, but not this batch, on our stack).
        if (terminated_ || failed_.load(std::memory_order_relaxed)) break;
        if (!(pending_.empty() && repush_.empty())) {
          // Another thread's job was queued meanwhile and goes first, maybe waiting for
          // the slab room this block holds: queued behind it with the block, neither would
          // ever run. Give the block back (placing copies the arguments again).
          unstage(job);
          pump(out);
        }
      }
      if (!(pending_.empty() && repush_.empty() && place(job, out, &pushed))) {
        pending_.push_back(std::move(job));
      }
    }
    if (i < count) {
      // As the jobs queued by then were failed.
      const ErrorInfo ended =
          terminated_ ? ErrorInfo{ErrorKind::kCancelled, "", "the pool was terminated", ""}
                      : ErrorInfo{ErrorKind::kWorkerLost, "", failure_, ""};
      for (; i < count; ++i) drop(jobs[i], out, ended);
    }
    // A join() that waits for this call alone returns now, not at the supervisor's next
    // idle tick (up to 200 ms).
    wake_join = --staging_ == 0 && closed_;
    // Failures found here are resolved below, without the lock: join() waits for them.
    if (!out.empty()) list_resolver(resolver);
  }
  if (wake_join) {
    idle_cv_.notify_all();
    wake_supervisor_waits();
  }
  if (pushed) shared_.wake_workers(pushed);
  if (!out.empty()) resolve_taken(resolver, out, /*defer_callbacks=*/false);
  return absl::OkStatus();
}

bool Engine::cancel(std::uint64_t seq) {
  if (in_other_process(true)) return false;
  std::vector<Outcome> out;
  Resolver resolver;
  {
    std::lock_guard lock(mu_);
    const ErrorInfo cancelled{
        ErrorKind::kCancelled, "",
        absl::StrCat("task ", internal::task_id_string(seq), " was cancelled"), ""};
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (it->seq != seq) continue;
      drop(*it, out, cancelled);
      pending_.erase(it);
      break;
    }
    for (std::uint32_t i = 0; out.empty() && i < inflight_.size(); ++i) {
      Inflight& in = inflight_[i];
      if (!in.active || in.job.seq != seq) continue;
      // Win the claim against the workers: a queued record becomes free, never run.
      std::uint64_t expected = make_state(in.gen, 0, kQueued);
      if (!shared_.record(i).state.compare_exchange_strong(expected, make_state(in.gen, 0, kFree),
                                                           std::memory_order_acq_rel)) {
        return false;  // started (or finished) already
      }
      out.push_back(Outcome{std::move(in.job.sink), in.job.index, {}, cancelled});
      release(i);
    }
    if (!out.empty()) list_resolver(resolver);
  }
  if (out.empty()) return false;
  // The last job gone: a join() waiting for it returns once its sink is resolved, not at
  // the supervisor's next idle tick (up to 200 ms). Its callbacks run here.
  resolve_taken(resolver, out, /*defer_callbacks=*/false);
  return true;
}

void Engine::close() {
  if (in_other_process(false)) return;  // a fork() child: the pool is its parent's
  std::lock_guard lock(mu_);
  closed_ = true;
}

void Engine::terminate() {
  if (in_other_process(false)) return;  // a fork() child: the pool is its parent's
  {
    std::lock_guard lock(mu_);
    closed_ = terminated_ = shutting_down_ = true;
  }
  idle_cv_.notify_all();
  std::vector<Outcome> out;
  {
    std::unique_lock teardown(join_mu_, std::defer_lock);
    // In a done-callback while another thread tears the pool down: that one fails what
    // is left once this thread ends.
    if (!lock_teardown(teardown) || !tear_down(out)) return;
  }
  idle_cv_.notify_all();
  resolve(out);  // no lock held: callbacks may use the pool
  run_deferred_callbacks();  // the supervisor has stopped: what it left runs here
}

bool Engine::lock_teardown(std::unique_lock<std::mutex>& teardown) {
  if (!on_supervisor_thread()) {
    teardown.lock();
    return true;
  }
  // terminate() or join() in another thread may hold join_mu_ while it waits for this
  // thread to end: waiting for the lock would deadlock. Once that one has stopped the
  // supervisor, the pool's processes are gone. Meanwhile collect, as the supervisor would.
  while (!teardown.try_lock()) {
    if (stop_.load(std::memory_order_seq_cst)) return false;
    run_deferred_callbacks();
    if (!collect(true)) sleep_until_news();
  }
  return true;
}

bool Engine::tear_down(std::vector<Outcome>& out) {
  if (joined_) return false;
  bool kill;
  {
    // Read here, under join_mu_: a join() that found the work done may take the teardown
    // after a terminate() began, and its workers wait for a shutdown flag it never set
    // (a quit then waited for ever), so a terminate() requested by then always kills.
    std::lock_guard lock(mu_);
    kill = terminated_;
  }
  if (!kill) shared_.wake_workers(INT_MAX);
  send_command(command_fd_, {kill ? ZygoteCommand::kTerminate : ZygoteCommand::kQuit, 0, 0});
  wait_zygote();  // the zygote kills (or waits for) and reaps every worker first
  stop_supervisor();
  {
    // After an orderly quit nothing is left; this only guards the contract that every
    // accepted job is resolved once join() returns.
    std::lock_guard lock(mu_);
    take_what_is_left(out);
  }
  joined_ = true;
  return true;
}

absl::Status Engine::join() {
  if (in_other_process(false)) return absl::OkStatus();  // the parent's pool: not ours to end
  {
    std::unique_lock lock(mu_);
    if (!closed_) {
      return absl::FailedPreconditionError("join() needs close() or terminate() first");
    }
    auto done = [&] {
      return terminated_ || failed_.load(std::memory_order_relaxed) ||
             (pending_.empty() && repush_.empty() && active_ == 0 && staging_ == 0 &&
              !others_resolving());
    };
    if (on_supervisor_thread()) {
      // A done-callback: the replies waited for are this thread's to collect. (It slept
      // here, and nobody else collects unasked: join() waited for ever.) Listed as waiting,
      // it is woken when another thread resolves what it waits for or ends a submit(), as
      // it is by a reply, not at the next idle tick.
      supervisor_waits_.fetch_add(1, std::memory_order_seq_cst);
      absl::Cleanup unlisted = [this] {
        supervisor_waits_.fetch_sub(1, std::memory_order_relaxed);
      };
      auto done_now = [&] {
        std::lock_guard relock(mu_);
        return done();
      };
      while (!done()) {
        lock.unlock();
        run_deferred_callbacks();  // this is the result thread: nobody else runs them
        if (!collect(true)) sleep_until_news(done_now);
        lock.lock();
      }
    } else {
      idle_cv_.wait(lock, done);
    }
    if (!terminated_) {
      shutting_down_ = true;
      shared_.control().shutdown.store(1, std::memory_order_seq_cst);
    }
  }
  std::vector<Outcome> out;
  {
    std::unique_lock teardown(join_mu_, std::defer_lock);
    // In a done-callback while another thread tears the pool down: after terminate(), that
    // one fails what is left once this thread ends.
    if (!lock_teardown(teardown) || !tear_down(out)) return absl::OkStatus();
  }
  resolve(out);
  run_deferred_callbacks();  // the supervisor has stopped: what it left runs here
  return absl::OkStatus();
}

bool Engine::poll() {
  if (in_other_process(true)) return false;  // a fork() child: the rings are the parent's
  if (stop_.load(std::memory_order_relaxed) || !has_news()) return false;
  const bool any = collect(false);
  // Stopping meanwhile: join() or terminate() may have run the deferred callbacks before
  // ours came (both orders are seq_cst), and nobody would run these.
  if (stop_.load(std::memory_order_seq_cst)) run_deferred_callbacks();
  return any;
}

void Engine::take_what_is_left(std::vector<Outcome>& out) {
  for (int w = 0; w < shared_.workers(); ++w) drain_ring(w, out, SIZE_MAX);
  fail_everything(out, ErrorInfo{ErrorKind::kCancelled, "", "the pool was terminated", ""});
}

bool Engine::collect_until(const std::function<bool()>& done,
                           internal::Clock::time_point deadline) {
  if (!on_supervisor_thread() || in_other_process(true)) return false;
  // A done-callback waits (get(), apply(), map() ...): this is the result thread, and
  // nobody else collects unasked. Collect here, as join() does, running the callbacks of
  // what is resolved on the way (they may wait in turn).
  supervisor_waits_.fetch_add(1, std::memory_order_seq_cst);
  absl::Cleanup unlisted = [this] { supervisor_waits_.fetch_sub(1, std::memory_order_relaxed); };
  while (!done()) {
    if (stop_.load(std::memory_order_seq_cst)) {
      // terminate() or join() waits for this thread to end before it fails what is left;
      // the pool's processes are gone by then (stop_ is set after the zygote is reaped).
      std::vector<Outcome> out;
      {
        std::lock_guard lock(mu_);
        take_what_is_left(out);
      }
      resolve(out);
      return done();
    }
    const internal::Clock::time_point now = internal::Clock::now();
    if (now >= deadline) return true;  // the caller sees it is not ready: a timeout
    run_deferred_callbacks();
    if (collect(true)) continue;
    std::int64_t until_ns = 0;
    if (deadline != internal::Clock::time_point::max()) {
      until_ns =
          now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now).count();
    }
    sleep_until_news(done, until_ns);
  }
  return true;
}

void Engine::defer(std::vector<std::function<void()>> callbacks) {
  {
    std::lock_guard lock(deferred_mu_);
    for (auto& cb : callbacks) deferred_.push_back(std::move(cb));
    has_deferred_.store(true, std::memory_order_seq_cst);
  }
  WaitWord& results = shared_.control().results;  // wake the supervisor for them
  results.epoch.fetch_add(1);
  futex_wake(&results.epoch, INT_MAX);
}

void Engine::run_deferred_callbacks() {
  if (!has_deferred_.load(std::memory_order_seq_cst)) return;
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(deferred_mu_);
    callbacks.swap(deferred_);
    has_deferred_.store(false, std::memory_order_relaxed);
  }
  for (auto& cb : callbacks) internal::run_callback(cb);
}

bool Engine::has_news() {
  if (shared_.control().deaths.load(std::memory_order_relaxed) !=
      deaths_seen_.load(std::memory_order_relaxed)) {
    return true;
  }
  for (int w = 0; w < shared_.workers(); ++w) {
    if (!shared_.results(w).empty()) return true;
  }
  std::int64_t deadline = next_deadline_ns_.load(std::memory_order_relaxed);
  return deadline != 0 && now_ns() >= deadline;
}

bool Engine::collect(bool wait_for_lock) {
  std::vector<Outcome> out;
  Resolver resolver;
  {
    std::unique_lock lock(mu_, std::defer_lock);
    if (wait_for_lock) {
      lock.lock();
    } else if (!lock.try_lock()) {
      return false;
    }
    handle_deaths(out);
    for (int w = 0; w < shared_.workers(); ++w) drain_ring(w, out, kDrainBatch);
    check_time_limits();
    if (!pending_.empty() || !repush_.empty()) pump(out);
    if (out.empty()) {
      if (active_ == 0 && pending_.empty()) idle_cv_.notify_all();
      return false;
    }
    list_resolver(resolver);
  }
  // A waiter collecting for itself (poll) leaves the callbacks to the supervisor.
  resolve_taken(resolver, out, /*defer_callbacks=*/!wait_for_lock);
  return true;
}

namespace {

// Takes the done-callbacks of what this thread resolves while it lives.
class CallbackCollector final : public internal::CallbackDeferral {
 public:
  CallbackCollector() : outer_(internal::callback_deferral()) {
    internal::callback_deferral() = this;
  }
  ~CallbackCollector() override { internal::callback_deferral() = outer_; }
  void defer(std::vector<std::function<void()>> callbacks) override {
    for (auto& cb : callbacks) callbacks_.push_back(std::move(cb));
  }
  std::vector<std::function<void()>>& callbacks() { return callbacks_; }

 private:
  internal::CallbackDeferral* outer_;
  std::vector<std::function<void()>> callbacks_;
};

}  // namespace

void Engine::list_resolver(Resolver& resolver) noexcept {
  resolver.id = std::this_thread::get_id();
  resolver.prev = nullptr;
  resolver.next = resolving_;
  if (resolving_ != nullptr) resolving_->prev = &resolver;
  resolving_ = &resolver;
}

void Engine::resolve_taken(Resolver& resolver, std::vector<Outcome>& out, bool defer_callbacks) {
  std::vector<std::function<void()>> callbacks;
  {
    // join() waits for the sinks only, not for their callbacks: a callback may wait for
    // something join()'s caller holds, or join() itself.
    auto listed = absl::MakeCleanup([this, &resolver] {
      std::lock_guard lock(mu_);
      if (resolver.prev != nullptr) {
        resolver.prev->next = resolver.next;
      } else {
        resolving_ = resolver.next;
      }
      if (resolver.next != nullptr) resolver.next->prev = resolver.prev;
      if (active_ == 0 && pending_.empty()) idle_cv_.notify_all();
    });
    CallbackCollector collector;
    resolve(out);
    callbacks.swap(collector.callbacks());
  }
  // A done-callback on the supervisor thread may be waiting for one of these.
  wake_supervisor_waits();
  if (callbacks.empty()) return;
  if (defer_callbacks) {
    defer(std::move(callbacks));
  } else {
    for (auto& cb : callbacks) internal::run_callback(cb);
  }
}

void Engine::wake_supervisor_waits() {
  if (supervisor_waits_.load(std::memory_order_seq_cst) > 0 && !on_supervisor_thread()) {
    shared_.control().results.notify(INT_MAX);
  }
}

bool Engine::others_resolving() const {
  for (const Resolver* r = resolving_; r != nullptr; r = r->next) {
    if (r->id != std::this_thread::get_id()) return true;
  }
  return false;
}

void Engine::supervise() {
  while (!stop_.load(std::memory_order_acquire)) {
    run_deferred_callbacks();
    if (collect(true)) continue;
    bool news = false;
    const std::int64_t spin_until = now_ns() + kCollectorSpinNs;
    for (int i = 0; !news; ++i) {
      news = has_news() || has_deferred_.load(std::memory_order_relaxed);
      if ((i & 63) == 63) {
        if (now_ns() >= spin_until) break;
        sched_yield();
      }
      cpu_relax();
    }
    if (news) continue;
    sleep_until_news();
  }
}

void Engine::sleep_until_news(const std::function<bool()>& done, std::int64_t until_ns) {
  WaitWord& results = shared_.control().results;
  std::int64_t now = now_ns();
  if (now >= next_zygote_check_ns_) {
    next_zygote_check_ns_ = now + kIdleTickNs;
    std::vector<Outcome> out;
    {
      std::lock_guard lock(mu_);
      check_zygote(out);
    }
    resolve(out);
  }
  std::int64_t timeout = kIdleTickNs;
  if (std::int64_t deadline = next_deadline_ns_.load(std::memory_order_relaxed)) {
    timeout = std::max<std::int64_t>(0, std::min(deadline - now, kTimeLimitTickNs));
  }
  if (until_ns != 0) timeout = std::max<std::int64_t>(0, std::min(timeout, until_ns - now));
  std::uint32_t key = results.prepare_wait();
  if (has_news() || stop_.load(std::memory_order_acquire) ||
      has_deferred_.load(std::memory_order_acquire) || (done && done())) {
    results.cancel_wait();
  } else {
    results.commit_wait(key, timeout);
  }
}

void Engine::wait_zygote() {
  {
    std::lock_guard lock(mu_);
    if (zygote_reaped_ || zygote_ <= 0) return;
    zygote_reaped_ = true;  // the supervisor must not reap it too
  }
  while (waitpid(zygote_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

void Engine::stop_supervisor() {
  stop_.store(true, std::memory_order_seq_cst);  // against poll()'s deferral (see there)
  WaitWord& results = shared_.control().results;
  results.epoch.fetch_add(1);
  futex_wake(&results.epoch, INT_MAX);
  if (supervisor_.joinable() && supervisor_.get_id() != std::this_thread::get_id()) {
    supervisor_.join();
  }
}

void Engine::resolve(std::vector<Outcome>& outcomes) noexcept {
  for (Outcome& o : outcomes) {
    if (!o.sink) continue;
    // Each on its own: a sink that throws (a collector out of memory) fails its own
    // submission, and neither strands the rest nor escapes into the supervisor thread
    // (std::terminate) or a caller of submit(), cancel(), poll(), terminate() or join().
    try {
      if (o.error) {
        o.sink->fail(o.index, *o.error);
      } else {
        o.sink->complete(o.index, std::move(o.reply));
      }
    } catch (...) {
      internal::fail_undelivered(*o.sink, o.index);
    }
  }
  outcomes.clear();
}

}  // namespace shoal::engine
