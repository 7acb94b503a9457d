// The remote backend's lifecycle: the supervisor (reconnects, backpressure resends),
// close/join/terminate, cancel and the unary queries.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>

#include "client/remote_backend.h"
#include "client/remote_channel.h"
#include "shoal/errors.hpp"
#include "shoal/internal/deadline.h"

namespace shoal::internal {
namespace {

// terminate() on a broker older than CancelRequest.more_ids: one call per task, up to
// this many (best effort beyond).
constexpr std::size_t kMaxRemoteCancels = 10000;

}  // namespace

void RemoteBackend::supervise() {
  own_thread_of_ = this;
  absl::MutexLock lock(&mu_);
  // A closed pool with nothing outstanding opens no session. (Counted as due, it had the
  // loop go round with nothing to do, never letting go of mu_: join() waited for ever.)
  auto wants_session = [this] {
    mu_.AssertHeld();
    return session_ == nullptr && !(closed_ && outstanding_.empty());
  };
  // A condition is evaluated when another thread releases mu_, not when time passes: what
  // falls due later is waited for by `wait`, computed anew whenever a new due time is set
  // (backoff_armed_; reopen_at_ is set with a finished session). Without that, a task
  // rejected as full waited for the next tick (1 s) instead of its backoff (1-200 ms).
  auto due = [this, &wants_session] {
    mu_.AssertHeld();
    return stopping_ || !finished_.empty() || backoff_armed_ ||
           (wants_session() && Clock::now() >= reopen_at_) ||
           (!backoff_.empty() && Clock::now() >= backoff_until_);
  };
  // Failures taken out of outstanding_ are delivered on every way out of the loop: join()
  // waits for them (undelivered_), and a sink dropped here never resolved (join() returned
  // while its future waited for ever).
  std::vector<Delivery> out;
  for (;;) {
    absl::Duration wait = absl::FromChrono(limits_.supervisor_tick);
    auto wake_at = [&wait](Clock::time_point at) {
      wait = std::min(wait, std::max(absl::ZeroDuration(), absl::FromChrono(at - Clock::now())));
    };
    if (!backoff_.empty()) wake_at(backoff_until_);
    if (wants_session()) wake_at(reopen_at_);
    mu_.AwaitWithTimeout(absl::Condition(&due), wait);
    backoff_armed_ = false;  // the next round's `wait` covers backoff_until_
    std::vector<std::shared_ptr<RemoteSession>> dead;  // deleted here unless pump() holds one
    for (RemoteSession* s : finished_) {
      for (auto& owned : sessions_) {
        if (owned.get() == s) dead.push_back(std::move(owned));
      }
    }
    std::erase(sessions_, nullptr);
    finished_.clear();
    if (stopping_) break;
    bool kick = false;
    if (!backoff_.empty() && Clock::now() >= backoff_until_) {
      // Resent in order, but not all at once: a full broker takes about as many as it
      // accepted lately, and a backlog of many thousands sent again each round only to be
      // refused again cost both sides their CPU. The rest wait for the next round.
      const std::size_t quota = std::max(kMinResend, 2 * accepted_since_resend_);
      accepted_since_resend_ = 0;
      std::size_t taken = 0;
      for (; taken < backoff_.size() && taken < quota; ++taken) {
        auto it = outstanding_.find(backoff_[taken]);
        if (it == outstanding_.end() || it->second.state != State::kBackoff) continue;
        set_state(it->second, State::kPending);
        pending_.push_back(backoff_[taken]);
      }
      backoff_.erase(backoff_.begin(), backoff_.begin() + std::ptrdiff_t(taken));
      if (!backoff_.empty()) {
        backoff_until_ = Clock::now() + std::max(backoff_delay_, std::chrono::milliseconds(1));
      }
      kick = true;
    }
    if (wants_session() && Clock::now() >= reopen_at_) {
      mu_.Unlock();
      bool up = channel_->WaitForConnected(std::chrono::system_clock::now() +
                                           std::chrono::milliseconds(200));
      mu_.Lock();
      if (stopping_) break;
      // A connection whose sessions the broker ends unanswered is no reconnection.
      if (session_ == nullptr && !outstanding_.empty() &&
          Clock::now() - disconnected_since_ > limits_.reconnect_window) {
        std::string message = "lost the broker at " + address_ + " and could not reconnect";
        if (!last_refusal_.empty()) message += "; it ended the session: " + last_refusal_;
        fail_all({ErrorKind::kConnection, "", message, ""}, out);
        up = false;  // delivered first; a session is opened next round if one is wanted
      }
      if (up && session_ == nullptr) {
        // The broker may have restarted with another --max-message-bytes: batches are
        // sized by it, and what it no longer takes must fail rather than be sent again.
        mu_.Unlock();
        auto context = make_context(
            options_, std::min(options_.connect_timeout, std::chrono::milliseconds(2000)));
        v1::Stats stats;
        const bool asked = stub_->GetStats(context.get(), v1::StatsRequest(), &stats).ok();
        mu_.Lock();
        if (stopping_) break;
        if (asked && stats.max_message_bytes() > 0) {
          broker_max_bytes_ = stats.max_message_bytes();
        }
        if (session_ == nullptr) {
          open_session(out);
          kick = true;
        }
      }
    }
    if (kick || !out.empty()) {
      mu_.Unlock();
      deliver(out);
      pump();
      mu_.Lock();
    }
    if (idle_memory_.due(!outstanding_.empty(),
                         Clock::now().time_since_epoch() / std::chrono::milliseconds(1))) {
      mu_.Unlock();
      IdleMemoryRelease::release();  // what payloads left mapped (make_remote_backend)
      mu_.Lock();
    }
  }
  mu_.Unlock();
  deliver(out);
  mu_.Lock();
}

void RemoteBackend::stop_sessions() {
  // join() from two threads at once joined the supervisor twice (the second hung).
  absl::MutexLock stop(&stop_mu_);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    session_ = nullptr;
  }
  if (supervisor_.joinable()) supervisor_.join();
  // Only this thread deletes sessions now.
  std::vector<std::shared_ptr<RemoteSession>> live;
  {
    absl::MutexLock lock(&mu_);
    for (auto& s : sessions_) {
      if (std::find(finished_.begin(), finished_.end(), s.get()) == finished_.end()) {
        live.push_back(s);
      }
    }
  }
  for (auto& s : live) s->cancel();
  live.clear();
  absl::MutexLock lock(&mu_);
  auto all_done = [this] {
    mu_.AssertHeld();
    return finished_.size() >= sessions_.size();
  };
  mu_.Await(absl::Condition(&all_done));
  sessions_.clear();
  finished_.clear();
}

void RemoteBackend::close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

void RemoteBackend::join() {
  if (own_thread_of_ == this) {  // it would wait for results this very thread reads
    throw Error(
        "shoal::Pool::join() called in a done-callback of the same remote pool: the "
        "callback runs on a thread of the pool that join() waits for");
  }
  {
    absl::MutexLock lock(&mu_);
    if (!closed_ && !terminated_) {
      throw std::logic_error("shoal::Pool::join() needs close() or terminate() first");
    }
    auto drained = [this] {
      mu_.AssertHeld();
      return outstanding_.empty() && undelivered_ == 0;
    };
    mu_.Await(absl::Condition(&drained));
  }
  stop_sessions();
}

void RemoteBackend::terminate() {
  std::vector<Delivery> out;
  std::vector<std::string> cancels;
  {
    absl::MutexLock lock(&mu_);
    if (terminated_) return;
    terminated_ = closed_ = true;
    for (auto& [key, e] : outstanding_) {
      if (may_be_at_broker(e)) cancels.push_back(task_id_string(e.key));
    }
    fail_all({ErrorKind::kCancelled, "", "the pool was terminated", ""}, out);
  }
  deliver(out);
  // Best effort: queued tasks at the broker should not run for nobody. even_if_unknown:
  // a task sent but not yet read by the broker (or a resend of one it rejected as full)
  // may arrive after its cancel; the broker then remembers the cancel and refuses it. A
  // task the broker lost in a restart is remembered too, harmlessly (for its result ttl):
  // this pool sends nothing again. Up to kMaxCancelIds ids a call (more_ids); a broker
  // older than more_ids answers only each call's first, and is sent the others one call
  // each, the whole within about 3 s.
  //
  // On a completion queue of this call's own, not gRPC's callback API: its callbacks run
  // on threads of a queue all channels share, which the last channel's end shuts down,
  // and a pool destroyed just after terminate() aborted the process now and then (gRPC
  // 1.51: "ref_counted.h: assertion failed: prior > 0" on its "nexting_thread").
  struct Call {
    std::unique_ptr<grpc::ClientContext> context;
    v1::CancelRequest request;
    v1::CancelResponse response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::CancelResponse>> reader;
  };
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<Call>> calls;
  std::size_t pending = 0;
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(3);
  auto send = [&](std::vector<std::string>::const_iterator first,
                  std::vector<std::string>::const_iterator last) {
    auto call = std::make_unique<Call>();
    call->context = make_context(options_, std::chrono::milliseconds(2000));
    call->request.set_id(*first);
    for (auto it = first + 1; it != last; ++it) call->request.add_more_ids(*it);
    call->request.set_even_if_unknown(true);
    call->reader = stub_->AsyncCancel(call->context.get(), call->request, &cq);
    call->reader->Finish(&call->response, &call->status, call.get());
    ++pending;
    calls.push_back(std::move(call));
  };
  // Waits for every call sent; false when the deadline passed first (those left are
  // cancelled and their ends taken, so that the queue may go).
  auto wait_all = [&] {
    bool in_time = true;
    void* tag;
    bool ok;
    while (pending > 0) {
      auto got = in_time ? cq.AsyncNext(&tag, &ok, deadline)
                         : cq.AsyncNext(&tag, &ok, gpr_inf_future(GPR_CLOCK_REALTIME));
      if (got == grpc::CompletionQueue::TIMEOUT) {
        in_time = false;
        for (auto& call : calls) call->context->TryCancel();
        continue;
      }
      if (got != grpc::CompletionQueue::GOT_EVENT) break;  // shut down: cannot happen
      --pending;
    }
    return in_time;
  };
  for (std::size_t at = 0; at < cancels.size(); at += kMaxCancelIds) {
    const std::size_t n = std::min(kMaxCancelIds, cancels.size() - at);
    send(cancels.cbegin() + at, cancels.cbegin() + at + n);
  }
  std::vector<std::string> singles;
  if (wait_all()) {
    for (const auto& call : calls) {
      if (!call->status.ok() ||
          call->response.more_cancelled_size() == call->request.more_ids_size()) {
        continue;
      }
      for (const std::string& id : call->request.more_ids()) {
        if (singles.size() < kMaxRemoteCancels) singles.push_back(id);
      }
    }
    for (auto it = singles.cbegin(); it != singles.cend(); ++it) send(it, it + 1);
    wait_all();
  }
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

bool RemoteBackend::cancel(std::uint64_t seq) {
  std::string id = task_id_string(seq);
  const ErrorInfo cancelled{ErrorKind::kCancelled, "", "the task was cancelled", ""};
  std::vector<Delivery> out;
  {
    absl::MutexLock lock(&mu_);
    auto it = outstanding_.find(seq);
    if (it == outstanding_.end() || terminated_) return false;
    if (!may_be_at_broker(it->second)) drop(seq, cancelled, out);  // never left this process
  }
  if (!out.empty()) {
    deliver(out);
    return true;
  }
  auto context = make_context(options_, options_.connect_timeout);
  v1::CancelRequest request;
  request.set_id(id);
  // It may have left this process: written to the session, where the broker may read it
  // only after this call (the two are not ordered), or written to a session that ended
  // before its Accepted and waiting to be sent again on the next. A broker that does not
  // know it yet remembers the cancel and refuses it when it arrives (cancelled = true), so
  // the task cannot run after a true answer.
  request.set_even_if_unknown(true);
  v1::CancelResponse response;
  if (!stub_->Cancel(context.get(), request, &response).ok() || !response.cancelled()) {
    return false;
  }
  {
    absl::MutexLock lock(&mu_);
    drop(seq, cancelled, out);  // unless its CANCELLED result already arrived
  }
  deliver(out);
  return true;
}

std::vector<RemoteBackend::CancelOutcome> RemoteBackend::cancel_all(
    const std::vector<std::uint64_t>& seqs) {
  const ErrorInfo cancelled{ErrorKind::kCancelled, "", "the task was cancelled", ""};
  std::vector<CancelOutcome> outcomes(seqs.size(), CancelOutcome::kNoAnswer);
  std::vector<std::size_t> remote;  // indexes of the tasks that left this process
  std::vector<Delivery> out;
  {
    absl::MutexLock lock(&mu_);
    if (terminated_) return outcomes;
    for (std::size_t i = 0; i < seqs.size(); ++i) {
      auto it = outstanding_.find(seqs[i]);
      if (it == outstanding_.end()) {
        outcomes[i] = CancelOutcome::kEnded;
      } else if (!may_be_at_broker(it->second)) {
        drop(seqs[i], cancelled, out);  // never left this process
        outcomes[i] = CancelOutcome::kCancelled;
      } else {
        remote.push_back(i);
      }
    }
  }
  deliver(out);
  // even_if_unknown, as cancel() says. A call answers up to kMaxCancelIds; a broker that
  // ignored more_ids (older than it) answered `id` only: the rest go one call each.
  auto answer = [&](std::size_t i, bool was_cancelled, v1::TaskState state) {
    if (was_cancelled) {
      outcomes[i] = CancelOutcome::kCancelled;
    } else if (state == v1::TASK_STATE_RUNNING || state == v1::TASK_STATE_QUEUED) {
      outcomes[i] = CancelOutcome::kRunning;  // (queued: a retry, about to run again)
    } else if (state == v1::TASK_STATE_DONE) {
      outcomes[i] = CancelOutcome::kEnded;
    }
  };
  bool batches = true;  // until the broker shows it ignores more_ids
  Clock::time_point singles_until = Clock::time_point::max();  // once batches is false
  for (std::size_t at = 0; at < remote.size();) {
    if (!batches && Clock::now() >= singles_until) break;  // the rest: kNoAnswer
    const std::size_t n = batches ? std::min(kMaxCancelIds, remote.size() - at) : 1;
    v1::CancelRequest request;
    request.set_even_if_unknown(true);
    request.set_id(task_id_string(seqs[remote[at]]));
    for (std::size_t k = 1; k < n; ++k) request.add_more_ids(task_id_string(seqs[remote[at + k]]));
    v1::CancelResponse response;
    auto context = make_context(options_, options_.connect_timeout);
    if (!stub_->Cancel(context.get(), request, &response).ok()) {
      break;  // kNoAnswer, for the rest too: a broker that did not answer would not answer
              // more, and each call would wait connect_timeout again
    }
    answer(remote[at], response.cancelled(), response.state());
    if (static_cast<std::size_t>(response.more_cancelled_size()) == n - 1 &&
        response.more_states_size() == response.more_cancelled_size()) {
      for (std::size_t k = 1; k < n; ++k) {
        answer(remote[at + k], response.more_cancelled(static_cast<int>(k - 1)),
               response.more_states(static_cast<int>(k - 1)));
      }
      at += n;
    } else {
      at += 1;  // an older broker: one id a call from now on, for at most a few seconds
      batches = false;
      // Saturating: connect_timeout may be milliseconds::max(), over Clock's range.
      singles_until =
          deadline_after(std::max(options_.connect_timeout, std::chrono::milliseconds(3000)));
    }
  }
  {
    absl::MutexLock lock(&mu_);
    for (std::size_t i : remote) {
      if (outcomes[i] == CancelOutcome::kCancelled) drop(seqs[i], cancelled, out);
    }
  }
  deliver(out);
  return outcomes;
}

int RemoteBackend::processes() const { return slots_hint(options_.queue, Clock::duration::zero()); }

int RemoteBackend::processes_hint(const std::string& queue) const {
  return slots_hint(queue.empty() ? options_.queue : queue, std::chrono::seconds(1));
}

int RemoteBackend::slots_hint(const std::string& queue, Clock::duration max_age) const {
  const Clock::time_point now = Clock::now();
  {
    absl::MutexLock lock(&hints_mu_);
    if (auto it = hints_.find(queue); it != hints_.end() && now - it->second.at < max_age) {
      return it->second.slots;
    }
  }
  std::optional<int> slots = slots_serving(queue);
  absl::MutexLock lock(&hints_mu_);
  if (hints_.size() >= 256 && !hints_.contains(queue)) hints_.clear();  // queues are few
  // Stamped even when unanswered: a broker that is down is not asked again per map.
  SlotsHint& hint = hints_[queue];
  hint.at = now;
  if (slots) hint.slots = *slots;
  return hint.slots;
}

std::optional<int> RemoteBackend::slots_serving(const std::string& queue) const {
  const std::string& name = queue.empty() ? std::string("default") : queue;
  auto context = make_context(
      options_, std::min(options_.connect_timeout, std::chrono::milliseconds(2000)));
  v1::ListWorkersResponse response;
  if (!stub_->ListWorkers(context.get(), v1::ListWorkersRequest(), &response).ok()) {
    return std::nullopt;
  }
  int64_t slots = 0;  // a worker may say up to 2^32 - 1: summed wide, then capped
  for (const auto& w : response.workers()) {
    // Only the workers that serve the queue run its tasks.
    if (std::find(w.queues().begin(), w.queues().end(), name) != w.queues().end()) {
      slots += w.slots();
    }
  }
  return static_cast<int>(std::min<int64_t>(slots, INT_MAX));
}

std::optional<v1::Stats> RemoteBackend::stats() const {
  auto context =
      make_context(options_, std::min(options_.connect_timeout, std::chrono::milliseconds(2000)));
  v1::Stats stats;
  if (!stub_->GetStats(context.get(), v1::StatsRequest(), &stats).ok()) return std::nullopt;
  return stats;
}

RemoteBackend::Link RemoteBackend::link() const {
  absl::MutexLock lock(&mu_);
  return {.losses = losses_, .up = session_ != nullptr && answered_};
}

std::size_t RemoteBackend::outstanding() const {
  absl::MutexLock lock(&mu_);
  return outstanding_.size();
}

bool RemoteBackend::waiting_for_room() const {
  absl::MutexLock lock(&mu_);
  return std::any_of(outstanding_.begin(), outstanding_.end(),
                     [](const auto& entry) { return entry.second.rejected_full; });
}

bool RemoteBackend::wait_accepted(std::chrono::milliseconds timeout) {
  absl::MutexLock lock(&mu_);
  auto accepted = [this] {
    mu_.AssertHeld();
    return unaccepted_ == 0;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&accepted), absl::FromChrono(timeout));
}

}  // namespace shoal::internal
