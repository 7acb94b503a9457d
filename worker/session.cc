#include "worker/session.h"

#include <poll.h>

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "absl/container/flat_hash_set.h"

namespace shoal::worker {
namespace {

constexpr std::size_t kMaxBatchBytes = 4u << 20;
constexpr int kMaxBatchResults = 8192;
constexpr int kHellosBeforeWarning = 5;
// A Welcome's liveness is taken up to this: any uint32 heartbeat_ms times it (times 2,
// the resend window) still fits a nanosecond duration, and it stays a positive int.
constexpr std::uint32_t kMaxLiveness = 1000;
// What a ResultBatch frame adds to its results' encoded sizes: per result a field tag
// and a length (at most 1 + 10 bytes), per frame the version, the results field's tag
// and length and the credit (well within 32 bytes).
constexpr std::size_t kFrameBytesPerResult = 11;
constexpr std::size_t kFrameBytes = 32;
// The largest hello: every broker takes a frame of 1 MiB (worker.proto, Limits), and the
// hello's credit and version, added after its size is taken, fit in the margin. What
// one more `running` id adds besides its bytes: a field tag and a length.
constexpr std::size_t kMaxHelloBytes = (1u << 20) - 64;
constexpr std::size_t kHelloBytesPerId = 11;

std::uint64_t unix_ms() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

}  // namespace

WorkerSession::WorkerSession(SessionConfig config, zmq::context_t& context, TaskRunner& runner,
                             CompletionQueue& done, const Log& log)
    : config_(std::move(config)), context_(context), runner_(runner), done_(done), log_(log) {}

absl::Status WorkerSession::run(int stop_fd, const std::function<void()>& on_ready) {
  stop_fd_ = stop_fd;
  if (absl::Status s = reconnect(""); !s.ok()) return s;
  for (;;) {
    auto poll_ms = std::clamp<long>(heartbeat_.count() / 4, 10, 250);
    zmq::pollitem_t items[] = {{transport_->socket().handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, done_.fd(), ZMQ_POLLIN, 0},
                               {transport_->events().handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, stop_fd, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, stopping_ ? 3 : 4, std::chrono::milliseconds(poll_ms));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) return zmq_status(e, "poll");
    }
    auto now = Clock::now();
    if (items[2].revents & ZMQ_POLLIN) transport_->connected();  // takes the events in
    if (items[0].revents & ZMQ_POLLIN) receive_all(now, on_ready);
    // After what came: a Welcome read first spares the stop a new hello (begin_stop).
    if (fatal_.ok() && !stopping_ && (items[3].revents & ZMQ_POLLIN)) begin_stop();
    if (!fatal_.ok()) {
      transport_.reset();
      return fatal_;
    }
    flush_results((items[1].revents & ZMQ_POLLIN) != 0);
    if (!stopping_) {
      // Its processes gone, the engine fails every task at once: a worker that stayed
      // would keep taking tasks and spend their retries. Leave, to be started again.
      if (std::string failure = runner_.failure(); !failure.empty()) {
        log_.error(failure + "; leaving the broker");
        engine_lost_ = absl::UnavailableError(failure);
        begin_stop();
        if (!fatal_.ok()) return fatal_;
      }
    }
    if (idle_memory_.due(leased_ > 0, now.time_since_epoch() / std::chrono::milliseconds(1))) {
      internal::IdleMemoryRelease::release();
    }

    // A stopping worker has said Bye{draining}: the broker keeps its tasks leased to it
    // while heartbeats say it lives, and sends it nothing new. It says no hello again
    // and does not give a silent broker up: its last results go out on this socket, and
    // a broker that forgot it (restarted) still takes them if it knows the tasks.
    if (stopping_) {
      if (ready_ && now - last_send_ >= heartbeat_) {
        v1::WorkerMessage beat;
        beat.mutable_heartbeat()->set_sent_unix_ms(unix_ms());
        send(beat);
      }
    } else if (!ready_ && now - hello_sent_ >= config_.hello_retry) {
      // Said once per silence: a broker that is down, or one that refuses this worker's
      // CURVE handshake (which ZeroMQ reports to neither side's application).
      if (++unanswered_hellos_ == kHellosBeforeWarning) {
        log_.warning("no answer from the broker at " + config_.broker + " after " +
                     std::to_string(kHellosBeforeWarning) +
                     " hellos; still trying (is it running? if it uses CURVE, is "
                     "--broker-public-key its key and is this worker's key allowed?)");
      }
      if (absl::Status s = reconnect("no Welcome yet"); !s.ok()) return s;
    } else if (ready_ && now - last_recv_ > heartbeat_ * liveness_) {
      log_.warning("the broker has been silent for " +
                   std::to_string((now - last_recv_) / std::chrono::milliseconds(1)) +
                   " ms; reconnecting");
      if (absl::Status s = reconnect("broker lost"); !s.ok()) return s;
    } else if (ready_ && now - last_send_ >= heartbeat_) {
      v1::WorkerMessage beat;
      beat.mutable_heartbeat()->set_sent_unix_ms(unix_ms());
      send(beat);
    }

    if (stopping_) {
      std::size_t running = runner_.running();
      if (running == 0) {
        flush_results(true);  // running() hit 0 only after the last result was queued
        if ((unsent_.empty() && to_return_.empty()) || now >= drain_deadline_) {
          break;  // unsent: queue full
        }
      }
      if (running > 0 && !killed_ && now >= drain_deadline_) {
        log_.warning("drain timeout: killing " + std::to_string(running) + " running tasks");
        runner_.terminate();
        killed_ = true;
        kill_deadline_ = now + std::chrono::seconds(2);
      }
      if (killed_ && now >= kill_deadline_) break;
    }
  }
  if (ready_) {
    // After the results: what the broker still counts as ours is run elsewhere now.
    send_bye(/*draining=*/false);
  }
  // Give the last results and the Bye a moment to leave before the socket closes, but
  // only over a live connection: to a broker never reached, or whose connection closed,
  // they have nowhere to go, and lingering only held the process up for 2 s.
  stats_.exit_linger_ms = transport_->connected() ? kExitLingerMs : 0;
  transport_->set_linger(stats_.exit_linger_ms);
  transport_.reset();
  return engine_lost_;
}

absl::StatusOr<std::unique_ptr<Transport>> WorkerSession::connect() {
  auto transport = Transport::connect(context_, config_.broker, config_.curve);
  if (transport.ok() || transport.status().code() != absl::StatusCode::kResourceExhausted) {
    return transport;
  }
  // Short of descriptors or memory (a task's process may hold many for a while): the
  // tasks running go on, their results wait, and a worker that left would lose them.
  log_.warning(std::string(transport.status().message()) + "; trying again each second for " +
               std::to_string(config_.connect_retry / std::chrono::seconds(1)) + " s");
  const auto since = Clock::now();
  while (!transport.ok() && transport.status().code() == absl::StatusCode::kResourceExhausted &&
         Clock::now() - since < config_.connect_retry) {
    pollfd stop{stop_fd_, POLLIN, 0};  // (poll skips a negative fd: a plain 1 s wait)
    if (::poll(&stop, 1, 1000) > 0) break;  // asked to stop: no link to wait for
    transport = Transport::connect(context_, config_.broker, config_.curve);
  }
  if (transport.ok()) {
    log_.info("connected again after " +
              std::to_string((Clock::now() - since) / std::chrono::milliseconds(1)) + " ms");
  }
  return transport;
}

absl::Status WorkerSession::reconnect(const std::string& why) {
  if (transport_) {
    ++stats_.reconnects;
    if (ready_) log_.info("reconnecting to " + config_.broker + ": " + why);
  }
  transport_.reset();  // linger 0: frames still queued for the old broker are dropped
  // Read before the results are taken: a task that ends in between is then named (as
  // running, its result sent after the Welcome), never nowhere.
  const std::vector<std::string> running = runner_.running_ids();
  const absl::flat_hash_set<std::string_view> is_running(running.begin(), running.end());
  // Finished but not taken from the runner yet (a Reconnect read before them): named in
  // the hello with the other unsent ones, or the broker takes them for lost.
  for (auto& r : done_.take()) unsent_.push_back(std::move(r));
  // A lost process's report of a task we run again is of an earlier attempt: sent again,
  // the broker would take it for the run going on now (and fail or retry it).
  auto runs_again = [&is_running](const v1::TaskResult& r) {
    return r.has_failure() && r.failure().kind() == v1::ERROR_KIND_WORKER_LOST &&
           is_running.contains(r.id());
  };
  for (auto& [when, frame] : recent_) {
    v1::WorkerMessage sent;
    if (!sent.ParseFromString(frame)) continue;  // we wrote it: cannot happen
    for (auto& r : *sent.mutable_results()->mutable_results()) {
      if (!runs_again(r)) unsent_.push_back(std::move(r));
    }
  }
  recent_.clear();
  recent_bytes_ = 0;
  auto transport = connect();
  if (!transport.ok()) return transport.status();
  transport_ = std::move(*transport);
  ready_ = false;
  auto now = Clock::now();
  hello_sent_ = last_recv_ = now;

  v1::WorkerMessage message;
  auto* hello = message.mutable_hello();
  hello->set_name(config_.name);
  for (const auto& q : config_.queues) hello->add_queues(q);
  for (const auto& t : config_.tasks) hello->add_tasks(t);
  hello->set_slots(static_cast<std::uint32_t>(config_.slots));
  hello->set_prefetch(static_cast<std::uint32_t>(config_.prefetch));
  hello->set_host(config_.host);
  hello->set_pid(config_.pid);
  hello->set_instance(config_.instance);
  for (const auto& id : running) hello->add_running(id);
  // Finished but not yet reported: held too, so that the broker takes their results
  // from us (it takes another's only with the lease of its own dispatch). Only while the
  // hello stays within what any broker takes: a larger one would be dropped with its
  // connection, again at every retry, and the worker would never be welcomed. Results
  // not listed are still sent; the broker takes them while it leases their tasks to us.
  std::size_t hello_bytes = message.ByteSizeLong();
  for (const auto& r : unsent_) {
    if (is_running.contains(r.id())) continue;
    hello_bytes += r.id().size() + kHelloBytesPerId;
    if (hello_bytes > kMaxHelloBytes) break;
    hello->add_running(r.id());
  }
  outstanding_credit_ = 0;
  // Running tasks (re-leased by a broker that knows them) and results still to send.
  leased_ = hello->running_size();
  hello->set_credit(grant());
  send(message);
  return absl::OkStatus();
}

void WorkerSession::receive_all(Clock::time_point now, const std::function<void()>& on_ready) {
  Transport* transport = transport_.get();
  // Stop when handle() replaced the socket: what is left belonged to the old one.
  while (transport == transport_.get()) {
    auto frame = transport_->receive();
    if (!frame.ok()) {
      if (frame.status().code() == absl::StatusCode::kUnavailable) {
        log_.warning(std::string(frame.status().message()));
        return;
      }
      bad_frame(frame.status());
      continue;
    }
    if (!frame->has_value()) return;
    last_recv_ = now;
    handle(**frame, on_ready);
  }
}

void WorkerSession::handle(v1::BrokerMessage& message, const std::function<void()>& on_ready) {
  switch (message.body_case()) {
    case v1::BrokerMessage::kWelcome: {
      const auto& welcome = message.welcome();
      ready_ = true;
      unanswered_hellos_ = 0;
      refused_since_.reset();
      ++stats_.welcomes;
      if (welcome.heartbeat_ms() > 0) {
        heartbeat_ = std::chrono::milliseconds(welcome.heartbeat_ms());
      }
      if (welcome.liveness() > 0) {
        liveness_ = static_cast<int>(std::min<std::uint32_t>(welcome.liveness(), kMaxLiveness));
      }
      max_message_bytes_ =
          welcome.max_message_bytes() > 0 ? welcome.max_message_bytes() : kDefaultMaxMessageBytes;
      log_.info("registered with broker " + welcome.broker_id() + " at " + config_.broker);
      if (!announced_) {
        announced_ = true;
        on_ready();
      }
      if (stopping_) send_bye(/*draining=*/true);
      flush_results(false);  // whatever finished while we were away
      break;
    }
    case v1::BrokerMessage::kTasks: {
      std::vector<v1::Task*> tasks;
      for (auto& task : *message.mutable_tasks()->mutable_tasks()) tasks.push_back(&task);
      stats_.tasks += tasks.size();
      outstanding_credit_ = std::max<std::int64_t>(
          0, outstanding_credit_ - static_cast<std::int64_t>(tasks.size()));
      leased_ += static_cast<std::int64_t>(tasks.size());
      runner_.start(tasks);
      if (stopping_) return_unstarted();  // sent before the broker read our Bye
      break;
    }
    case v1::BrokerMessage::kHeartbeat:
      break;
    case v1::BrokerMessage::kRefused: {
      // Our name belongs to a live worker of another process. It may be our own former
      // process (crashed) that the broker has not yet declared lost: hellos go on (every
      // hello_retry) until retry_ms after the first refusal, then we give up.
      const v1::Refused& refused = message.refused();
      auto now = Clock::now();
      unanswered_hellos_ = 0;  // answered: the broker is there
      if (!refused_since_) {
        refused_since_ = now;
        log_.warning("the broker refuses this worker (" + refused.reason() +
                     "); saying hello again for " + std::to_string(refused.retry_ms()) +
                     " ms in case the holder is this worker's own former process, not yet "
                     "known gone");
      } else if (now - *refused_since_ >= std::chrono::milliseconds(refused.retry_ms())) {
        fatal_ = absl::AlreadyExistsError("the broker at " + config_.broker +
                                          " refuses this worker: " + refused.reason());
      }
      break;
    }
    case v1::BrokerMessage::kShutdown:
      if (stopping_) break;
      log_.info("the broker is shutting down (" + message.shutdown().reason() +
                "); waiting for it to come back");
      // The endpoint worked before; a socket that cannot be made now (no descriptors
      // left) ends the session as the same failure in run() does.
      if (absl::Status s = reconnect("broker shutdown"); !s.ok()) fatal_ = s;
      break;
    case v1::BrokerMessage::kReconnect:
      // Stopping: from a broker that forgot us at our Bye (one before Bye.draining) or
      // one restarted meanwhile; our results still get through.
      if (stopping_) break;
      if (absl::Status s =
              reconnect("the broker does not know us: " + message.reconnect().reason());
          !s.ok()) {
        fatal_ = s;
      }
      break;
    case v1::BrokerMessage::BODY_NOT_SET:
      break;
  }
}

std::uint32_t WorkerSession::grant(std::int64_t reporting) {
  if (stopping_) return 0;
  std::int64_t capacity = static_cast<std::int64_t>(config_.slots) * config_.prefetch;
  std::int64_t held =
      std::max(leased_ - reporting, static_cast<std::int64_t>(runner_.running()));
  // Credit travels as 32 bits: what cannot be said is not counted as given.
  std::int64_t more = std::min<std::int64_t>(capacity - held - outstanding_credit_, UINT32_MAX);
  if (more <= 0) return 0;
  // While busy, grant in quarters of the capacity, not one slot at a time: single-task
  // grants would make the broker send single-task batches, and the link would settle
  // into one round trip per task. Never so while a process slot would sit idle for want
  // of a task (7 long tasks on 8 slots left the eighth idle behind a queue).
  const bool slot_uncovered = held + outstanding_credit_ < config_.slots;
  if (held > 0 && !slot_uncovered && more < std::max<std::int64_t>(1, capacity / 4)) return 0;
  outstanding_credit_ += more;
  return static_cast<std::uint32_t>(more);
}

void WorkerSession::flush_results(bool take) {
  if (take) {
    for (auto& r : done_.take()) unsent_.push_back(std::move(r));
  }
  if ((!ready_ && !stopping_) || (unsent_.empty() && to_return_.empty())) return;
  auto now = Clock::now();
  // A frame above the broker's limit would make it drop the connection (and the result
  // would be sent again, forever): several results share a frame only while it stays
  // within the limit, and a result the broker does not take at all fails its task.
  const std::size_t batch_bytes =
      static_cast<std::size_t>(std::min<std::uint64_t>(kMaxBatchBytes, max_message_bytes_));
  while (!unsent_.empty() || !to_return_.empty()) {
    v1::WorkerMessage message;
    auto* batch = message.mutable_results();
    std::size_t bytes = kFrameBytes;
    while (!to_return_.empty() && batch->returned_size() < kMaxBatchResults) {
      TaskRunner::Returned& next = to_return_.back();
      const std::size_t size = next.id.size() + kFrameBytesPerResult * 2;  // and its lease
      if (batch->returned_size() > 0 && bytes + size > batch_bytes) break;
      bytes += size;
      v1::ReturnedTask* returned = batch->add_returned();
      returned->set_id(std::move(next.id));
      returned->set_lease(next.lease);
      to_return_.pop_back();
    }
    while (!unsent_.empty() && batch->results_size() < kMaxBatchResults) {
      v1::TaskResult& next = unsent_.front();
      // Exact, and cheap for the usual packed `values`; items only when a call failed.
      std::size_t size = next.ByteSizeLong();
      if (size > max_message_bytes_) size = fail_oversized(next, size);
      if (batch->results_size() + batch->returned_size() > 0 &&
          bytes + size + kFrameBytesPerResult > batch_bytes) {
        break;
      }
      bytes += size + kFrameBytesPerResult;
      *batch->add_results() = std::move(next);
      unsent_.pop_front();
    }
    const int ended = batch->results_size() + batch->returned_size();
    if (unsent_.empty() && to_return_.empty()) batch->set_credit(grant(ended));
    message.set_version(kProtocolVersion);
    std::string frame = message.SerializeAsString();
    absl::Status status = transport_->send_bytes(frame);
    if (!status.ok()) {
      // Keep them for the next try (or the next session).
      outstanding_credit_ -= batch->credit();
      for (int i = batch->results_size() - 1; i >= 0; --i) {
        unsent_.push_front(std::move(*batch->mutable_results(i)));
      }
      for (auto& r : *batch->mutable_returned()) {
        to_return_.push_back({std::move(*r.mutable_id()), r.lease()});
      }
      log_.warning("could not send results: " + std::string(status.message()));
      return;
    }
    last_send_ = now;
    stats_.results += static_cast<std::uint64_t>(batch->results_size());
    stats_.returned += static_cast<std::uint64_t>(batch->returned_size());
    leased_ = std::max<std::int64_t>(0, leased_ - ended);
    remember(std::move(frame), now);
  }
}

std::size_t WorkerSession::fail_oversized(v1::TaskResult& result, std::size_t size) {
  std::string message = "the task's result is " + std::to_string(size) +
                        " bytes, more than the broker's limit of " +
                        std::to_string(max_message_bytes_) + " (shoal-broker --max-message-bytes)";
  log_.warning("task " + result.id() + " failed: " + message);
  v1::TaskResult failed;
  failed.set_id(std::move(*result.mutable_id()));
  failed.set_worker(std::move(*result.mutable_worker()));
  failed.set_attempts(result.attempts());
  failed.set_lease(result.lease());
  v1::TaskError* failure = failed.mutable_failure();
  failure->set_kind(v1::ERROR_KIND_RESOURCE_EXHAUSTED);  // final: it would fail again
  failure->set_message(std::move(message));
  failure->set_where(config_.host + ":" + std::to_string(config_.pid));
  result = std::move(failed);
  return result.ByteSizeLong();
}

void WorkerSession::remember(std::string frame, Clock::time_point now) {
  recent_bytes_ += frame.size();
  recent_.emplace_back(now, std::move(frame));
  auto window = 2 * heartbeat_ * liveness_;
  while (!recent_.empty() &&
         (recent_bytes_ > config_.resend_bytes || now - recent_.front().first > window)) {
    recent_bytes_ -= recent_.front().second.size();
    recent_.pop_front();
  }
}

void WorkerSession::send(v1::WorkerMessage& message) {
  absl::Status status = transport_->send(message);
  if (status.ok()) {
    last_send_ = Clock::now();
  } else {
    log_.warning("send to the broker failed: " + std::string(status.message()));
  }
}

void WorkerSession::bad_frame(const absl::Status& status) {
  ++stats_.bad_frames;
  // Once per kind: garbage on the wire must not flood the log.
  if (logged_bad_kinds_.insert(static_cast<int>(status.code())).second) {
    log_.warning("dropped a bad frame from the broker (" + std::string(status.message()) +
                 "); further ones of this kind are only counted");
  }
}

void WorkerSession::begin_stop() {
  stopping_ = true;
  drain_deadline_ = Clock::now() + config_.drain_timeout;
  // What has not started goes back to the broker now, to run elsewhere at once (no
  // attempt counted), as a Celery worker's warm shutdown gives back its prefetched tasks.
  return_unstarted();
  log_.info("stopping: no new tasks; " + std::to_string(runner_.running()) +
            " running tasks may take up to " + std::to_string(config_.drain_timeout.count()) +
            " ms");
  if (ready_) {
    send_bye(/*draining=*/true);
  } else if (transport_) {
    // Our hello, unanswered yet, granted credit: a broker welcoming it would send tasks
    // before it reads a Bye. A new one grants none (stopping_).
    if (absl::Status s = reconnect("stopping before a Welcome"); !s.ok()) fatal_ = s;
  }
}

void WorkerSession::return_unstarted() {
  for (auto& r : runner_.return_unstarted()) to_return_.push_back(std::move(r));
}

void WorkerSession::send_bye(bool draining) {
  v1::WorkerMessage bye;
  bye.mutable_bye()->set_reason(draining ? "stopping" : "stopped");
  bye.mutable_bye()->set_draining(draining);
  send(bye);
}

}  // namespace shoal::worker
