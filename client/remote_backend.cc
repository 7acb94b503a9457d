#include "client/remote_backend.h"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "client/remote_channel.h"
#include "client/remote_status.h"
#include "client/remote_wire.h"
#include "shoal/errors.hpp"
#include "shoal/internal/keepalive.h"
#include "shoal/internal/malloc_tuning.h"
#include "shoal/internal/name_limits.h"
#include "shoal/internal/utf8.h"

namespace shoal::internal {
namespace {

constexpr int kMaxWatchIds = 65536;
static_assert(kMaxWatchIds <= internal::kMaxSessionEntries, "the broker refuses such a Watch");
// The id (task_id_string(0)) of no task (sequence numbers start at 1): watched first on
// every session so that the broker answers at once (Unknown), which tells an accepted
// session from a refused one.
constexpr std::uint64_t kHelloKey = 0;
// Between sessions that end unanswered: doubling, as gRPC's reconnects (remote_channel.cc).
constexpr std::chrono::milliseconds kMinReopenDelay{100};
constexpr std::chrono::milliseconds kMaxReopenDelay{1000};
// What a Task adds to a SubmitBatch beyond its strings: the tags and lengths of its 8
// fields (numbers at their widest) and its own tag and length in the batch.
constexpr std::size_t kTaskOverhead = 64;
// What an id adds to a Watch beyond its bytes: its tag and length.
constexpr std::size_t kWatchIdOverhead = 6;

}  // namespace

thread_local const RemoteBackend* RemoteBackend::own_thread_of_ = nullptr;

std::shared_ptr<Backend> make_remote_backend(const std::string& address,
                                             const ConnectOptions& options) {
  if (options.cert_chain_pem.empty() != options.private_key_pem.empty()) {
    throw std::invalid_argument(
        "shoal::Pool::connect: cert_chain_pem and private_key_pem go together");
  }
  if (!options.cert_chain_pem.empty() && !options.tls) {
    throw std::invalid_argument("shoal::Pool::connect: a client certificate needs tls = true");
  }
  if (options.connect_timeout.count() <= 0) {
    throw std::invalid_argument(
        "shoal::Pool::connect: connect_timeout must be positive (milliseconds::max(): no "
        "limit), not " +
        std::to_string(options.connect_timeout.count()) + " ms");
  }
  if (options.keepalive.count() < 0 ||
      (options.keepalive.count() > 0 && options.keepalive.count() < kMinKeepaliveMs)) {
    throw std::invalid_argument(
        "shoal::Pool::connect: keepalive must be 0 (never) or at least 1 s, not " +
        std::to_string(options.keepalive.count()) + " ms");
  }
  retain_payload_memory_until_idle();  // results of many MiB arrive here; see supervise()
  return RemoteBackend::connect(address, options, RemoteBackend::Limits{});
}

RemoteBackend::RemoteBackend(std::string address, ConnectOptions options, Limits limits)
    : address_(std::move(address)), options_(std::move(options)), limits_(limits) {
  channel_ = make_channel(address_, options_);
  stub_ = v1::TaskService::NewStub(channel_);
}

std::shared_ptr<RemoteBackend> RemoteBackend::connect(const std::string& address,
                                                      const ConnectOptions& options,
                                                      Limits limits) {
  // The last handle may go in a done-callback, on one of the backend's own threads, which
  // its teardown waits for (and joins): then it is torn down on a thread of its own.
  std::shared_ptr<RemoteBackend> backend(new RemoteBackend(address, options, limits),
                                         [](RemoteBackend* b) {
                                           if (own_thread_of_ != b) {
                                             delete b;
                                           } else {
                                             std::thread([b] { delete b; }).detach();
                                           }
                                         });
  auto start = Clock::now();
  absl::Status status = wait_connected(*backend->channel_, address, options, limits.tls_names);
  if (!status.ok()) throw_status(status);
  // One unary call checks the credentials and the service before the session opens.
  // In milliseconds, and none below 0: milliseconds::max() (no limit) overflowed in
  // nanoseconds, which left 100 ms.
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  const auto left = options.connect_timeout > elapsed ? options.connect_timeout - elapsed
                                                      : std::chrono::milliseconds(0);
  auto context = make_context(options, std::max(left, std::chrono::milliseconds(100)));
  v1::Stats stats;
  status = from_grpc(backend->stub_->GetStats(context.get(), v1::StatsRequest(), &stats),
                     "broker at " + address);
  if (!status.ok()) throw_status(status);
  backend->broker_max_bytes_ = stats.max_message_bytes();
  std::vector<Delivery> none;  // nothing is outstanding yet
  {
    absl::MutexLock lock(&backend->mu_);
    backend->disconnected_since_ = Clock::now();  // the broker answered GetStats
    backend->open_session(none);
  }
  backend->supervisor_ = std::thread([b = backend.get()] { b->supervise(); });
  backend->pump();  // the session's hello (open_session), so that the broker answers it
  return backend;
}

RemoteBackend::~RemoteBackend() {
  std::vector<Delivery> out;
  {
    absl::MutexLock lock(&mu_);
    fail_all({ErrorKind::kCancelled, "", "the pool was destroyed before the task ended", ""},
             out);
  }
  deliver(out);
  stop_sessions();
}

void RemoteBackend::submit(std::vector<Submission>& batch) {
  submit_until(batch, Clock::time_point::max());
}

bool RemoteBackend::submit_until(std::vector<Submission>& batch, Clock::time_point deadline) {
  auto room = [this] {
    mu_.AssertHeld();
    return closed_ || terminated_ ||
           (unaccepted_ < limits_.max_unaccepted &&
            unaccepted_bytes_ < limits_.max_unaccepted_bytes);
  };
  // Only a session's thread makes room (it reads Accepted): on one, or on the supervisor
  // (which resends what waits for room), a callback's submission must not wait for it.
  const bool may_wait = own_thread_of_ == nullptr;
  const bool timed = deadline != Clock::time_point::max();
  if (timed && may_wait) {  // waits before taking the batch, which it may leave as it was
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(&room), absl::FromChrono(deadline - Clock::now()))) {
      return false;
    }
  }
  std::vector<Entry> entries;
  entries.reserve(batch.size());
  std::vector<Delivery> refused;  // bigger than the broker takes: failed here, never sent
  const std::uint64_t max_bytes = broker_max_bytes_.load(std::memory_order_relaxed);
  for (Submission& s : batch) {
    Entry e;
    e.key = s.seq;
    e.name = std::move(s.name);
    if (s.items <= 1) {
      e.args = std::move(s.args);  // a single call travels as is: no copy
    } else {
      e.args = wire_args(s.args, s.items);
    }
    e.items = static_cast<std::uint32_t>(s.items);
    e.queue = s.options.queue.empty() ? options_.queue : s.options.queue;
    e.priority = static_cast<std::uint32_t>(s.options.priority);
    e.time_limit_ms = static_cast<std::uint64_t>(s.options.time_limit.count());
    e.max_retries = s.options.max_retries;
    e.sink = std::move(s.sink);
    e.index = s.index;
    std::optional<ErrorInfo> refusal;
    if (max_bytes > 0 && e.args.size() > max_bytes) {
      refusal = too_big(e.args.size(), max_bytes);
    } else if (e.name.empty() || !is_utf8(e.name)) {  // no worker can have it
      refusal = ErrorInfo{ErrorKind::kNotRegistered, "",
                          "no task is registered as '" + utf8_or_escaped(e.name) + "'" +
                              (e.name.empty() ? "" : ": a task name must be UTF-8"),
                          ""};
    } else if (!is_utf8(e.queue)) {
      refusal = ErrorInfo{ErrorKind::kInvalid, "",
                          "queue '" + utf8_or_escaped(e.queue) + "' is not UTF-8", ""};
    }
    if (refusal) {
      Delivery d;
      d.sink = std::move(e.sink);
      d.index = e.index;
      d.failed = true;
      d.error = std::move(*refusal);
      refused.push_back(std::move(d));
      continue;
    }
    entries.push_back(std::move(e));
  }
  batch.clear();
  for (Delivery& d : refused) d.sink->fail(d.index, d.error);  // never outstanding
  if (entries.empty()) {  // still an error after close(), as it is for any submission
    absl::MutexLock lock(&mu_);
    if (closed_ || terminated_) throw PoolClosedError("the pool is closed");
    return true;
  }
  {
    absl::MutexLock lock(&mu_);
    // (A timed submission found room above: by what others took since, it may exceed the
    // window, as a callback's does.)
    if (!timed && may_wait && !room()) mu_.Await(absl::Condition(&room));
    if (closed_ || terminated_) throw PoolClosedError("the pool is closed");
    for (Entry& e : entries) {
      Key key = e.key;
      pending_.push_back(key);
      ++unaccepted_;
      unaccepted_bytes_ += e.args.size();
      outstanding_.insert_or_assign(key, std::move(e));
    }
  }
  pump();
  return true;
}

void RemoteBackend::pump() {
  // Held, not borrowed: the stream may end once mu_ is released, and the supervisor then
  // deletes the session. Whoever drops it last deletes it (joining its thread): this
  // thread is never that one's own, as a session's thread only pumps while its session
  // is live (before its on_done), when the supervisor still holds it.
  std::shared_ptr<RemoteSession> session;
  {
    absl::MutexLock lock(&mu_);
    // No write in flight: the session's message arena is ours until write().
    if (writing_ || session_ == nullptr || !build_message(*session_->begin_write())) return;
    writing_ = true;
    session = session_;
  }
  if (session->write()) return;
  // The stream is closing: what was taken stays kSent and is watched after reconnecting.
  absl::MutexLock lock(&mu_);
  if (session_ == session) writing_ = false;
}

bool RemoteBackend::build_message(v1::ClientMessage& message) {
  // Every message stays under the broker's receive limit (batch_bytes()), counted from
  // all its fields: a batch over it ends the session (RESOURCE_EXHAUSTED).
  const std::size_t max_bytes = batch_bytes();
  if (!watch_.empty()) {
    auto* watch = message.mutable_watch();
    std::size_t bytes = 0;
    while (!watch_.empty() && watch->ids_size() < kMaxWatchIds) {
      std::string id = task_id_string(watch_.front());
      if (watch->ids_size() > 0 && bytes + id.size() + kWatchIdOverhead > max_bytes) break;
      bytes += id.size() + kWatchIdOverhead;
      watch->add_ids(std::move(id));
      watch_.pop_front();
    }
    return true;
  }
  auto* submit = message.mutable_submit();
  // The first submission after sessions that it ended goes alone (see on_done()).
  const bool first = !submitted_;
  // More tasks than kMaxSessionEntries would end the session (INVALID_ARGUMENT).
  const std::size_t max_tasks =
      first && solo_next_ ? 1 : std::min(limits_.max_batch_tasks, internal::kMaxSessionEntries);
  std::size_t bytes = 0;
  while (!pending_.empty() && static_cast<std::size_t>(submit->tasks_size()) < max_tasks) {
    auto it = outstanding_.find(pending_.front());
    if (it == outstanding_.end() || it->second.state != State::kPending) {
      pending_.pop_front();  // cancelled, or already resolved
      continue;
    }
    Entry& e = it->second;
    std::string id = task_id_string(e.key);
    const std::size_t size =
        id.size() + e.name.size() + e.args.size() + e.queue.size() + kTaskOverhead;
    if (submit->tasks_size() > 0 && bytes + size > max_bytes) break;
    if (first && submit->tasks_size() == 0) first_head_ = e.key;
    v1::Task* task = submit->add_tasks();  // in the session's arena: short strings allocate nothing
    task->set_id(std::move(id));
    task->set_name(e.name);
    task->set_args(e.args);
    task->set_items(e.items);
    task->set_queue(e.queue);
    task->set_priority(e.priority);
    task->set_time_limit_ms(e.time_limit_ms);
    task->set_max_retries(e.max_retries);
    e.state = State::kSent;
    e.maybe_at_broker = true;
    bytes += size;
    pending_.pop_front();
  }
  if (submit->tasks_size() == 0) return false;
  if (first) {
    submitted_ = true;
    head_alone_ = submit->tasks_size() == 1;
  }
  return true;
}

std::size_t RemoteBackend::batch_bytes() const {
  // The broker takes messages up to 4 × its limit + 1 MiB: half of that, so that one task
  // of up to its limit (which may go alone over this) still fits.
  const std::uint64_t max_bytes = broker_max_bytes_.load(std::memory_order_relaxed);
  if (max_bytes == 0) return limits_.max_batch_bytes;
  return static_cast<std::size_t>(
      std::min<std::uint64_t>(limits_.max_batch_bytes, 2 * max_bytes + (512 << 10)));
}

ErrorInfo RemoteBackend::too_big(std::size_t bytes, std::uint64_t max_bytes) {
  return ErrorInfo{ErrorKind::kResourceExhausted, "",
                   absl::StrCat("task arguments are ", bytes,
                                " bytes, more than the broker's limit of ", max_bytes,
                                " (--max-message-bytes)"),
                   ""};
}

bool RemoteBackend::fits(Entry& entry, std::vector<Delivery>& out) {
  const std::uint64_t max_bytes = broker_max_bytes_.load(std::memory_order_relaxed);
  if (max_bytes == 0 || entry.args.size() <= max_bytes) return true;
  drop(entry.key, too_big(entry.args.size(), max_bytes), out);
  return false;
}

void RemoteBackend::set_state(Entry& entry, State state) {
  // Every state but kAccepted counts against the unaccepted window.
  bool was = entry.state != State::kAccepted;
  bool now = state != State::kAccepted;
  if (was && !now) {
    --unaccepted_;
    unaccepted_bytes_ -= entry.args.size();
  } else if (!was && now) {
    ++unaccepted_;
    unaccepted_bytes_ += entry.args.size();
  }
  entry.state = state;
  if (state == State::kAccepted) entry.rejected_full = false;  // there was room after all
}

void RemoteBackend::drop(Key key, const ErrorInfo& error, std::vector<Delivery>& out) {
  auto it = outstanding_.find(key);
  if (it == outstanding_.end()) return;
  set_state(it->second, State::kAccepted);
  Delivery d;
  d.sink = std::move(it->second.sink);
  d.index = it->second.index;
  d.error = error;
  d.failed = true;
  out.push_back(std::move(d));
  outstanding_.erase(it);
  ++undelivered_;
}

void RemoteBackend::fail_all(const ErrorInfo& error, std::vector<Delivery>& out) {
  for (auto& [id, e] : outstanding_) {
    Delivery d;
    d.sink = std::move(e.sink);
    d.index = e.index;
    d.error = error;
    d.failed = true;
    out.push_back(std::move(d));
  }
  undelivered_ += outstanding_.size();
  outstanding_.clear();
  pending_.clear();
  watch_.clear();
  backoff_.clear();
  unaccepted_ = 0;
  unaccepted_bytes_ = 0;
}

void RemoteBackend::deliver(std::vector<Delivery>& deliveries) noexcept {
  for (Delivery& d : deliveries) {
    // Each on its own: a sink that throws (out of memory) fails its own task only.
    try {
      if (d.failed) {
        d.sink->fail(d.index, d.error);
      } else {
        resolve_with_result(*d.result, d.items, *d.sink, d.index);
      }
    } catch (...) {
      internal::fail_undelivered(*d.sink, d.index);
    }
  }
  if (deliveries.empty()) return;
  const std::size_t n = deliveries.size();
  deliveries.clear();
  absl::MutexLock lock(&mu_);
  undelivered_ -= n;
}

void RemoteBackend::on_message(RemoteSession* session, v1::ServerMessage& message) {
  own_thread_of_ = this;
  std::vector<Delivery> out;
  bool resubmit = false;
  {
    absl::MutexLock lock(&mu_);
    if (session == session_.get()) {
      answered_ = true;  // the session was accepted (on_done() says if it did any good)
      // The broker took or answered tasks on it: the pool has reconnected.
      if (message.has_accepted() || message.has_rejected() || message.has_results()) {
        progressed_ = true;
      }
    }
    switch (message.body_case()) {
      case v1::ServerMessage::kAccepted:
        for (const auto& id : message.accepted().ids()) {
          auto key = task_seq_of(id);
          auto it = key ? outstanding_.find(*key) : outstanding_.end();
          if (it != outstanding_.end()) set_state(it->second, State::kAccepted);
        }
        // Room was made: the next resend comes sooner, and may be as large as what it
        // took (a broker that stays nearly full took a few, and still refuses the rest).
        backoff_delay_ /= 2;
        accepted_since_resend_ += static_cast<std::size_t>(message.accepted().ids_size());
        break;
      case v1::ServerMessage::kRejected: {
        const auto& rejected = message.rejected();
        if (rejected.error().kind() == v1::ERROR_KIND_RESOURCE_EXHAUSTED) {
          // Backpressure: resend after a growing delay; nothing is dropped.
          // A new episode of backpressure: its first resend is sized by what the broker
          // accepts from now on, not by all it accepted while it had room.
          if (backoff_.empty()) accepted_since_resend_ = 0;
          backoff_delay_ = std::clamp(backoff_delay_ * 2, std::chrono::milliseconds(1),
                                      std::chrono::milliseconds(200));
          backoff_until_ = Clock::now() + backoff_delay_;
          for (const auto& id : rejected.ids()) {
            auto key = task_seq_of(id);
            auto it = key ? outstanding_.find(*key) : outstanding_.end();
            if (it == outstanding_.end() || it->second.state == State::kAccepted) continue;
            set_state(it->second, State::kBackoff);
            it->second.rejected_full = true;
            it->second.maybe_at_broker = false;
            backoff_.push_back(*key);
            backoff_armed_ = true;
          }
        } else {
          ErrorInfo error = to_error_info(rejected.error());
          for (const auto& id : rejected.ids()) {
            if (auto key = task_seq_of(id)) drop(*key, error, out);
          }
        }
        break;
      }
      case v1::ServerMessage::kResults:
        for (auto& result : *message.mutable_results()->mutable_results()) {
          auto key = task_seq_of(result.id());
          auto it = key ? outstanding_.find(*key) : outstanding_.end();
          if (it == outstanding_.end()) continue;  // a duplicate, or cancelled here
          set_state(it->second, State::kAccepted);
          Delivery d;
          d.sink = std::move(it->second.sink);
          d.index = it->second.index;
          d.result = &result;  // lives until deliver() below returns
          d.items = it->second.items;
          out.push_back(std::move(d));
          outstanding_.erase(it);
          ++undelivered_;
        }
        break;
      case v1::ServerMessage::kUnknown:
        // Lost with a restarted broker: submit again (ids make this idempotent).
        for (const auto& id : message.unknown().ids()) {
          auto key = task_seq_of(id);
          auto it = key ? outstanding_.find(*key) : outstanding_.end();
          if (it == outstanding_.end() || it->second.state == State::kPending) continue;
          if (it->second.state == State::kBackoff) continue;
          if (!fits(it->second, out)) continue;  // a restarted broker may take less
          set_state(it->second, State::kPending);
          it->second.maybe_at_broker = false;
          pending_.push_back(*key);
          resubmit = true;
        }
        break;
      case v1::ServerMessage::BODY_NOT_SET:
        break;
    }
  }
  deliver(out);
  if (resubmit) pump();
}

void RemoteBackend::on_write_done(RemoteSession* session, bool ok) {
  {
    absl::MutexLock lock(&mu_);
    if (session != session_.get()) return;
    writing_ = false;
  }
  if (ok) pump();
}

void RemoteBackend::on_done(RemoteSession* session, const grpc::Status& status) {
  own_thread_of_ = this;
  std::vector<Delivery> out;
  {
    absl::MutexLock lock(&mu_);
    if (session_.get() == session) {
      session_ = nullptr;
      writing_ = false;
      const auto code = status.error_code();
      std::string how =
          absl::StrCat(status.error_message(), " (",
                       absl::StatusCodeToString(static_cast<absl::StatusCode>(code)), ")");
      if (answered_) ++losses_;
      // The broker refused what the session sent (as its gRPC server does a message over
      // its receive limit) before it took or answered any task on it.
      const bool refused_submission = submitted_ && !progressed_ &&
                                      (code == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                                       code == grpc::StatusCode::INVALID_ARGUMENT);
      // Such a session is no reconnection: it counted as one, and the same submission was
      // sent again at once, about 75 times a second for ever, its tasks never failing.
      // (Any other answered session is: a broker may hold its Accepted a while, and one
      // killed before sending it had still been working.)
      const bool reconnected = answered_ && !refused_submission;
      if (reconnected) {
        disconnected_since_ = Clock::now();
        reopen_delay_ = std::chrono::milliseconds(0);
        last_refusal_.clear();
      } else {
        // Refused, or the broker went at once: the reconnect window runs on, and the
        // next session waits (it was reopened at once, for ever, both sides spinning).
        reopen_delay_ = std::clamp(reopen_delay_ * 2, kMinReopenDelay, kMaxReopenDelay);
        reopen_at_ = Clock::now() + reopen_delay_;
        last_refusal_ = how;
      }
      if (progressed_) {
        strikes_ = 0;
        solo_next_ = false;
      } else if (refused_submission) {
        // The broker refused what it was sent: the same first task twice in a row is sent
        // alone next, and fails if the session ends after it alone again.
        strikes_ = first_head_ == strike_head_ ? strikes_ + 1 : 1;
        strike_head_ = first_head_;
        if (strikes_ >= 2 && head_alone_) {
          const ErrorKind kind = code == grpc::StatusCode::INVALID_ARGUMENT
                                     ? ErrorKind::kInvalid
                                     : ErrorKind::kResourceExhausted;
          drop(first_head_,
               {kind, "",
                absl::StrCat("the broker at ", address_,
                             " ended the session each time this task was sent: ", how),
                ""},
               out);
          strikes_ = 0;
          solo_next_ = false;
        } else if (strikes_ >= 2) {
          solo_next_ = true;
        }
      }
      if (code == grpc::StatusCode::UNAUTHENTICATED ||
          code == grpc::StatusCode::PERMISSION_DENIED) {
        // Final for this pool: its credentials never change. Later tasks wait for the
        // next session (the broker may be given the pool's credentials again).
        fail_all({ErrorKind::kConnection, "",
                  "the broker at " + address_ + " refused the session: " + how, ""},
                 out);
      }
    }
  }
  deliver(out);  // before the supervisor may delete the session (joining this thread)
  absl::MutexLock lock(&mu_);
  finished_.push_back(session);
}

void RemoteBackend::open_session(std::vector<Delivery>& out) {
  auto session = std::make_shared<RemoteSession>(
      stub_.get(), make_context(options_, std::chrono::milliseconds(0)),
      static_cast<SessionListener*>(this));
  session_ = session;
  writing_ = false;
  answered_ = false;
  progressed_ = false;
  submitted_ = false;
  first_head_ = 0;
  head_alone_ = false;
  sessions_.push_back(std::move(session));
  // Whatever an earlier session had accepted may be unknown to this broker: ask about it,
  // after the id the broker answers at once. What it sent without an Accepted back is
  // sent again, first, in order: a broker that has it answers Accepted (resubmission is
  // idempotent) and so frees its place in the window, which a Watch never does.
  watch_.clear();
  watch_.push_back(kHelloKey);
  std::vector<Key> resend, unaccepted;
  for (auto& [key, e] : outstanding_) {
    if (e.state == State::kAccepted) {
      watch_.push_back(key);
      continue;
    }
    unaccepted.push_back(key);
    if (e.state == State::kSent) {
      e.state = State::kPending;  // both count against the window; still maybe_at_broker
      resend.push_back(key);
    }
  }
  // What a restarted broker no longer takes fails now: sent, it would end the session
  // (a batch over its receive limit) again at every reconnect. (A key dropped here but
  // left in pending_ is skipped when the batch is built.)
  for (Key key : unaccepted) fits(outstanding_.at(key), out);
  std::sort(resend.begin(), resend.end());  // keys grow with submission
  pending_.insert(pending_.begin(), resend.begin(), resend.end());
}

}  // namespace shoal::internal
