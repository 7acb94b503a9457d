// Engine, the collecting half: replies, deaths, time limits, and placing queued jobs.
// Everything here runs with mu_ held.

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <new>

#include "absl/strings/str_cat.h"
#include "shared/engine/engine_internal.h"
#include "shared/engine/zygote.h"
#include "shoal/internal/reply.h"

namespace shoal::engine {

using internal::ErrorInfo;
using internal::ErrorKind;

std::string describe_death(const char* what, pid_t pid, int wait_status) {
  if (wait_status == -1) return absl::StrCat("a ", what, " could not be forked");
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    const char* abbrev = sigabbrev_np(sig);
    return absl::StrCat(what, " ", pid, " was killed by signal ",
                        abbrev ? absl::StrCat("SIG", abbrev) : absl::StrCat(sig), " (",
                        strsignal(sig), ")");
  }
  return absl::StrCat(what, " ", pid, " exited with code ", WEXITSTATUS(wait_status));
}

void Engine::drain_ring(int worker, std::vector<Outcome>& out, std::size_t limit) {
  ByteRing& ring = shared_.results(worker);
  std::string& part = partial_[worker];
  for (std::size_t n = 0; n < limit;) {
    const MessageHeader* m = ring.peek();
    if (!m) return;
    if (n == 0) out.reserve(out.size() + std::min(limit, kDrainBatch));  // one allocation
    const std::uint64_t token = m->token;
    const std::uint64_t total = m->total;
    const bool last = !(m->flags & ByteRing::kMore);
    const char* data = reinterpret_cast<const char*>(ByteRing::payload(m));
    std::string reply;
    bool unheld = discarding_[worker];  // an earlier fragment of this reply did not fit
    if (!unheld) {
      try {
        if (last && part.empty()) {
          if (m->length >= internal::kRecycledReplyBytes) {
            reply = internal::take_reply_buffer(m->length);
          }
          reply.assign(data, m->length);
        } else {
          if (part.empty()) part = internal::take_reply_buffer(m->total);
          part.append(data, m->length);
          if (last) reply.swap(part);
        }
      } catch (const std::bad_alloc&) {
        // Too big for this process's memory: the job fails, not the process (it escaped
        // supervise() and std::terminate()d it). Its other fragments are skipped.
        std::string().swap(part);
        unheld = true;
      }
    }
    discarding_[worker] = unheld && !last;
    ring.pop(m);
    if (!last) continue;
    const std::uint32_t index = token_index(token);
    if (index >= inflight_.size()) continue;
    Inflight& in = inflight_[index];
    if (!in.active || in.gen != token_gen(token)) continue;
    if (unheld) {
      out.push_back(Outcome{
          std::move(in.job.sink),
          in.job.index,
          {},
          ErrorInfo{ErrorKind::kOther, "",
                    absl::StrCat("the reply of task ", internal::task_id_string(in.job.seq), " (",
                                 total, " bytes) could not be allocated in the pool's ",
                                 "process: out of memory"),
                    ""}});
    } else {
      out.push_back(Outcome{std::move(in.job.sink), in.job.index, std::move(reply), std::nullopt});
    }
    release(index);
    ++n;
  }
}

void Engine::handle_deaths(std::vector<Outcome>& out) {
  const std::uint32_t deaths = shared_.control().deaths.load(std::memory_order_acquire);
  if (deaths == deaths_seen_.load(std::memory_order_relaxed)) return;
  deaths_seen_.store(deaths, std::memory_order_relaxed);
  bool any = false;
  int fork_errno = 0;  // of a worker that could not be forked; 0: none
  for (int w = 0; w < shared_.workers(); ++w) {
    WorkerSlot& slot = shared_.slot(w);
    if (slot.life.load(std::memory_order_acquire) != kDead) continue;
    any = true;
    // Replies sent before the death win over it: exactly once.
    drain_ring(w, out, SIZE_MAX);
    std::string().swap(partial_[w]);
    discarding_[w] = false;
    const int status = slot.wait_status.load();
    const pid_t pid = slot.dead_pid.load();
    if (status == -1) {
      fork_errno = slot.fork_errno.load();
    } else {
      forks_failing_since_ns_ = 0;  // a worker ran
    }
    const std::uint64_t token = slot.current.load(std::memory_order_acquire);
    if (token != 0 && !shutting_down_) {
      const std::uint32_t index = token_index(token);
      const std::uint32_t gen = token_gen(token);
      Inflight& in = inflight_[index];
      if (in.active && in.gen == gen &&
          shared_.record(index).state.load(std::memory_order_acquire) ==
              make_state(gen, static_cast<std::uint32_t>(w), kRunning)) {
        const std::string id = internal::task_id_string(in.job.seq);
        if (in.timed_out) {
          out.push_back(Outcome{
              std::move(in.job.sink),
              in.job.index,
              {},
              ErrorInfo{
                  ErrorKind::kTimeLimit, "",
                  absl::StrCat("task ", id, " exceeded its time limit of ", in.job.time_limit_ms,
                               " ms; ", describe_death("worker process", pid, status)),
                  ""}});
          release(index);
        } else if (in.attempts < in.job.max_retries) {
          ++in.attempts;
          requeue(index);
        } else {
          out.push_back(
              Outcome{std::move(in.job.sink),
                      in.job.index,
                      {},
                      ErrorInfo{ErrorKind::kWorkerLost, "",
                                absl::StrCat(describe_death("worker process", pid, status),
                                             " while running task ", id),
                                ""}});
          release(index);
        }
      }
    }
    slot.current.store(0);
    slot.wake.asleep.store(0);
    shared_.results(w).space_word().sleepers.store(0);
    slot.life.store(kStarting, std::memory_order_release);
    if (!shutting_down_) send_command(command_fd_, {ZygoteCommand::kSpawn, w, 0});
  }
  if (!any || shutting_down_) return;
  if (fork_errno != 0 && give_up_on_forks(out, fork_errno)) return;
  // A worker that died between taking a token and claiming its record took the token
  // with it: push every such token again (a duplicate of a live claim is harmless).
  const std::uint64_t head = shared_.tasks().head();
  for (std::uint32_t i = 0; i < inflight_.size(); ++i) {
    Inflight& in = inflight_[i];
    if (in.active && in.ring_pos < head &&
        shared_.record(i).state.load(std::memory_order_acquire) == make_state(in.gen, 0, kQueued)) {
      repush_.push_back(make_token(in.gen, i));
    }
  }
}

bool Engine::give_up_on_forks(std::vector<Outcome>& out, int fork_errno) {
  for (int w = 0; w < shared_.workers(); ++w) {
    if (shared_.slot(w).life.load(std::memory_order_acquire) == kAlive) {
      forks_failing_since_ns_ = 0;  // the pool still works, if with fewer processes
      return false;
    }
  }
  const std::int64_t now = now_ns();
  if (forks_failing_since_ns_ == 0) forks_failing_since_ns_ = now;
  if (now - forks_failing_since_ns_ < kForkFailureLimitNs) return false;
  // Nothing would ever run: fail the pool as a dead zygote does (check_zygote). The
  // zygote stays, idle, until join(), terminate() or ~Engine ends it.
  closed_ = shutting_down_ = true;
  failure_ = absl::StrCat("the pool stopped: no worker process could be forked for ",
                          kForkFailureLimitNs / 1'000'000'000,
                          " s (fork: ", std::strerror(fork_errno), ")");
  failed_.store(true, std::memory_order_release);
  fail_everything(out, ErrorInfo{ErrorKind::kWorkerLost, "", failure_, ""});
  idle_cv_.notify_all();
  return true;
}

namespace {
constexpr std::int64_t kLongestTimeLimitMs = std::int64_t{100} * 366 * 24 * 3600 * 1000;
// A task over its limit on a worker whose pid is not in its slot yet: checked again after.
constexpr std::int64_t kPidRetryNs = 1'000'000;
}  // namespace

void Engine::check_time_limits() {
  std::int64_t next = 0;
  if (timed_ > 0) {
    const std::int64_t now = now_ns();
    for (int w = 0; w < shared_.workers(); ++w) {
      WorkerSlot& slot = shared_.slot(w);
      const std::uint64_t token = slot.current.load(std::memory_order_acquire);
      if (token == 0) continue;
      const std::uint32_t index = token_index(token);
      Inflight& in = inflight_[index];
      if (!in.active || in.gen != token_gen(token) || in.job.time_limit_ms <= 0 || in.timed_out) {
        continue;
      }
      if (shared_.record(index).state.load(std::memory_order_acquire) !=
          make_state(in.gen, static_cast<std::uint32_t>(w), kRunning)) {
        continue;
      }
      // Limits over 100 years are as good as none (and would overflow in ns).
      const std::int64_t deadline =
          slot.started_ns.load(std::memory_order_relaxed) +
          std::min(in.job.time_limit_ms, kLongestTimeLimitMs) * 1'000'000;
      const pid_t pid = slot.pid.load();
      if (now >= deadline && pid == 0) {
        // Not known yet (the worker stores it as it starts): a kill naming pid 0 would be
        // ignored, and the worker would wait for it for ever. Look again soon.
        const std::int64_t soon = now + kPidRetryNs;
        if (next == 0 || soon < next) next = soon;
      } else if (now >= deadline) {
        // Marked first: a worker that ends the task meanwhile sees the mark and waits
        // for the kill instead of taking another task the kill would hit.
        std::uint64_t running = token;
        if (slot.current.compare_exchange_strong(running, token | kKillPending,
                                                 std::memory_order_acq_rel)) {
          in.timed_out = true;
          send_command(command_fd_, {ZygoteCommand::kKill, w, pid});
        }  // else it has just ended: its reply is on the way
      } else if (next == 0 || deadline < next) {
        next = deadline;
      }
    }
  }
  // A limited task may start any moment: look again soon even if none runs yet.
  if (timed_ > 0 && next == 0) next = now_ns() + 5'000'000;
  next_deadline_ns_.store(next, std::memory_order_relaxed);
}

void Engine::pump(std::vector<Outcome>& out) {
  int pushed = 0;
  TokenRing& tasks = shared_.tasks();
  while (!repush_.empty() && tasks.free_slots() > 0) {
    const std::uint64_t token = repush_.back();
    repush_.pop_back();
    Inflight& in = inflight_[token_index(token)];
    if (!in.active || in.gen != token_gen(token)) continue;
    in.ring_pos = tasks.tail();
    tasks.push(token);
    ++pushed;
  }
  if (repush_.empty()) {
    while (!pending_.empty() && place(pending_.front(), out, &pushed)) pending_.pop_front();
  }
  if (pushed) shared_.wake_workers(pushed);
}

bool Engine::place(Job& job, std::vector<Outcome>& out, int* pushed) {
  TokenRing& tasks = shared_.tasks();
  if (free_records_.empty() || tasks.free_slots() == 0) return false;
  const std::size_t size = job.args.size();
  std::size_t offset = 0;
  if (job.staged != Job::kNotStaged) {
    offset = job.staged;  // copied by submit()
  } else if (size > kInlineArgs) {
    auto block = slab_.allocate(size);
    if (!block) {
      if (size <= slab_.capacity()) return false;  // wait for room
      out.push_back(Outcome{std::move(job.sink),
                            job.index,
                            {},
                            ErrorInfo{ErrorKind::kOther, "",
                                      absl::StrCat("task arguments of ", size,
                                                   " bytes exceed the pool's payload slab of ",
                                                   slab_.capacity(), " bytes"),
                                      ""}});
      return true;
    }
    offset = *block;
    std::memcpy(shared_.slab() + offset, job.args.data(), size);
  }
  const std::uint32_t index = free_records_.back();
  free_records_.pop_back();
  TaskRecord& r = shared_.record(index);
  r.invoke = reinterpret_cast<std::uint64_t>(job.invoke);
  r.fn = job.fn;
  r.items = job.items | (job.time_limit_ms > 0 ? kTimedItems : 0);
  r.args_size = size;
  r.args_offset = offset;
  r.seq = job.seq;
  if (size <= kInlineArgs && size > 0) std::memcpy(r.inline_args, job.args.data(), size);
  std::string().swap(job.args);  // the shared copy is the one that runs
  Inflight& in = inflight_[index];
  in.job = std::move(job);
  in.slab_offset = offset;
  in.slab_size = size > kInlineArgs ? size : 0;
  in.attempts = 0;
  in.timed_out = false;
  in.active = true;
  ++active_;
  if (in.job.time_limit_ms > 0) {
    ++timed_;
    // Whoever collects next must watch the limit (check_time_limits() then keeps it
    // looking): a deadline due now is news, seen by a supervisor about to sleep for its
    // idle tick (200 ms), which a wake-up alone could miss, and by a thread in get().
    // Only timed jobs pay this.
    next_deadline_ns_.store(now_ns(), std::memory_order_seq_cst);
    shared_.control().results.notify(INT_MAX);
  }
  r.state.store(make_state(in.gen, 0, kQueued), std::memory_order_release);
  in.ring_pos = tasks.tail();
  tasks.push(make_token(in.gen, index));
  ++*pushed;
  return true;
}

void Engine::release(std::uint32_t index) {
  Inflight& in = inflight_[index];
  if (in.slab_size) {
    slab_.free(in.slab_offset, in.slab_size);
    if (in.slab_size >= kReleaseBytes) shared_.slab_region().release(in.slab_offset, in.slab_size);
  }
  in.gen = next_gen(in.gen);
  shared_.record(index).state.store(make_state(in.gen, 0, kFree), std::memory_order_release);
  if (in.job.time_limit_ms > 0) --timed_;
  in.job = Job{};
  in.active = false;
  --active_;
  free_records_.push_back(index);
}

void Engine::requeue(std::uint32_t index) {
  Inflight& in = inflight_[index];
  in.gen = next_gen(in.gen);
  in.timed_out = false;
  shared_.record(index).state.store(make_state(in.gen, 0, kQueued), std::memory_order_release);
  repush_.push_back(make_token(in.gen, index));
}

void Engine::fail_everything(std::vector<Outcome>& out, const ErrorInfo& error) {
  for (Job& job : pending_) drop(job, out, error);
  pending_.clear();
  repush_.clear();
  for (std::uint32_t i = 0; i < inflight_.size(); ++i) {
    Inflight& in = inflight_[i];
    if (!in.active) continue;
    out.push_back(Outcome{std::move(in.job.sink), in.job.index, {}, error});
    release(i);
  }
}

void Engine::drop(Job& job, std::vector<Outcome>& out, const ErrorInfo& error) {
  unstage(job);
  out.push_back(Outcome{std::move(job.sink), job.index, {}, error});
}

void Engine::unstage(Job& job) {
  if (job.staged != Job::kNotStaged) slab_.free(job.staged, job.args.size());
  job.staged = Job::kNotStaged;
}

bool Engine::stage(Job& job) {
  if (free_records_.empty() || shared_.tasks().free_slots() == 0) return false;
  auto block = slab_.allocate(job.args.size());
  if (!block) return false;
  job.staged = *block;
  return true;
}

void Engine::check_zygote(std::vector<Outcome>& out) {
  if (zygote_reaped_ || shutting_down_ || zygote_ <= 0) return;
  int status = 0;
  const pid_t reaped = waitpid(zygote_, &status, WNOHANG);
  // ECHILD: gone, reaped without us (this process ignores SIGCHLD, or reaps children it
  // did not start); its status is lost with it.
  if (reaped != zygote_ && !(reaped < 0 && errno == ECHILD)) return;
  zygote_reaped_ = true;
  closed_ = shutting_down_ = true;
  // Replies already written win over the death, as a worker's do (handle_deaths).
  for (int w = 0; w < shared_.workers(); ++w) drain_ring(w, out, SIZE_MAX);
  const std::string death =
      reaped == zygote_
          ? describe_death("its zygote process", zygote_, status)
          : absl::StrCat("its zygote process ", zygote_,
                         " is gone (reaped elsewhere: SIGCHLD ignored or waited for by others)");
  failure_ = absl::StrCat("the pool stopped: ", death);
  failed_.store(true, std::memory_order_release);
  fail_everything(out, ErrorInfo{ErrorKind::kWorkerLost, "", failure_, ""});
  idle_cv_.notify_all();
}

}  // namespace shoal::engine
