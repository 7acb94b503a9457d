#include "broker/broker_loop.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <type_traits>

#include "absl/strings/str_cat.h"

namespace shoal::broker {

void BrokerLoop::stop() {
  stop_.store(true, std::memory_order_release);
  deps_.inbox->wake();
}

void BrokerLoop::run() {
  Scheduler& scheduler = *deps_.scheduler;
  zmq::pollitem_t items[] = {
      {deps_.workers->router().handle(), 0, ZMQ_POLLIN, 0},
      {deps_.workers->monitor().handle(), 0, ZMQ_POLLIN, 0},
      {nullptr, deps_.inbox->fd(), ZMQ_POLLIN, 0},
      {deps_.workers->zap().handle(), 0, ZMQ_POLLIN, 0},
  };
  const int polled = deps_.workers->zap() ? 4 : 3;  // the ZAP socket only with a key list
  std::vector<ClientEvent> events;
  int64_t next_tick = deps_.clock->now_ms();
  // Time in which the loop read no worker frame is not the workers' silence: after a
  // long round, or with the process stopped (SIGSTOP), their heartbeats wait unread (on
  // resuming, even past the first poll: ZeroMQ's I/O thread has yet to move them from
  // the kernel). Such a gap is excused before liveness is judged.
  int64_t read_at = next_tick;  // when worker frames were last read
  auto excuse_deafness = [&](int64_t deaf_ms) {
    if (deaf_ms >= kDeafMs) scheduler.excuse_silence(deaf_ms);
  };
  while (!stop_.load(std::memory_order_acquire)) {
    int64_t before = deps_.clock->now_ms();
    int64_t wait = std::clamp<int64_t>(next_tick - before, 0, kTickMs);
    try {
      zmq::poll(items, polled, std::chrono::milliseconds(wait));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) deps_.log->warning("poll: ", e.what());
      continue;
    }
    // Waiting in poll is listening, but not beyond `wait`: then the process was stopped
    // (or starved of CPU).
    int64_t after = deps_.clock->now_ms();
    excuse_deafness(after - read_at - std::min(after - before, wait));
    read_at = after;
    if (polled > 3 && (items[3].revents & ZMQ_POLLIN)) deps_.workers->answer_zap();
    if (items[1].revents & ZMQ_POLLIN) deps_.workers->receive_events(*this);
    if (items[0].revents & ZMQ_POLLIN) deps_.workers->receive(*this, kMaxFramesPerRound);
    bool client_events = false;
    if (items[2].revents & ZMQ_POLLIN) {
      deps_.inbox->drain(events);
      for (ClientEvent& event : events) handle(event);
      answer_cancels();
      client_events = !events.empty();
    }
    // Deadlines are looked up after a tick or a client event (GetResult waits); worker
    // frames only add lease deadlines seconds away, which the regular tick covers.
    int64_t now = deps_.clock->now_ms();
    if (now >= next_tick) {
      excuse_deafness(now - read_at);  // frames that came in this round are read next round
      read_at = now;
      scheduler.tick(actions_);
      send_held_accepted(0);
      next_tick = std::min(now + kTickMs, scheduler.next_deadline_ms());
      shoal::v1::Stats stats = scheduler.stats();
      if (idle_memory_.due(stats.queued() + stats.running() > 0, now)) {
        internal::IdleMemoryRelease::release();
      }
      if (deps_.store->wants_rewrite() && commit_store()) rewrite_store();
    } else if (client_events) {
      next_tick = std::min(next_tick, scheduler.next_deadline_ms());
    }
    flush();
    release_handled(events);
  }
  // Shutting down: take in what was posted, answer it, tell the workers, and leave.
  deps_.inbox->close();
  deps_.inbox->drain(events);
  for (ClientEvent& event : events) handle(event);
  answer_cancels();
  scheduler.shutdown("the broker is shutting down", actions_);
  send_actions();
  undelivered_.clear();  // a worker gone now changes nothing: the broker leaves
  send_held_accepted(0);
  for (auto& [token, call] : waiting_) {
    call.responder->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the broker is shutting down"));
  }
  waiting_.clear();
  waiting_tokens_.clear();
}

// A hello may replace a worker's connection and a close ends one, and the scheduler
// then takes the tasks leased to the old one and not named again for lost. Those sent in
// this round are sent first: a connection that is gone refuses them, and they come back
// (Scheduler::undeliverable) before they could cost a retry. After a stall the loop may
// read several hellos of one worker at once, the earlier ones from connections that
// closed since; each registered a worker that was given tasks.
void BrokerLoop::on_frame(const std::string& peer, shoal::v1::WorkerMessage* msg) {
  if (msg->has_hello()) flush();
  deps_.scheduler->worker_message(peer, msg, actions_);
}

void BrokerLoop::on_disconnect(const std::string& peer) {
  deps_.log->info("a worker's connection closed");
  flush();
  deps_.scheduler->worker_disconnected(peer, actions_);
}

void BrokerLoop::handle(ClientEvent& event) {
  Scheduler& scheduler = *deps_.scheduler;
  std::visit(
      [&](auto& e) {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, SessionOpened>) {
          scheduler.open_session(e.session);
        } else if constexpr (std::is_same_v<E, SessionClosed>) {
          scheduler.close_session(e.session);
        } else if constexpr (std::is_same_v<E, SessionHalfClosed>) {
          scheduler.half_close_session(e.session, actions_);
        } else if constexpr (std::is_same_v<E, SubmitEvent>) {
          scheduler.submit(e.session, e.batch->mutable_tasks(), actions_);
        } else if constexpr (std::is_same_v<E, WatchEvent>) {
          scheduler.watch(e.session, e.watch->ids(), actions_);
        } else if constexpr (std::is_same_v<E, BadClientMessage>) {
          scheduler.count_bad_client_message();
          if (e.session != 0) end_session(e.session, std::move(e.status));
        } else if constexpr (std::is_same_v<E, GetResultCall>) {
          uint64_t token = next_token_++;
          if (!scheduler.get_result(e.request->id(),
                                    std::min(e.request->wait_ms(), deps_.max_wait_ms), token,
                                    actions_)) {
            e.responder->Finish(grpc::Status(
                grpc::StatusCode::RESOURCE_EXHAUSTED,
                absl::StrCat("too many GetResult calls wait already (", scheduler.waiting_results(),
                             "): ask again later, with wait_ms 0, or watch on a Session")));
            return;
          }
          waiting_.emplace(token, e);  // answered in send_actions(), maybe this round
          waiting_tokens_.emplace(e.responder, token);
        } else if constexpr (std::is_same_v<E, UnaryCallEnded>) {
          auto it = waiting_tokens_.find(e.responder);
          if (it == waiting_tokens_.end()) return;  // answered already
          scheduler.forget_waiter(it->second);
          waiting_.erase(it->second);
          waiting_tokens_.erase(it);
          e.responder->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the call ended"));
        } else if constexpr (std::is_same_v<E, CancelCall>) {
          // At most kMaxCancelIds more_ids: the gateway refused calls with more.
          const bool even_if_unknown = e.request->even_if_unknown();
          *e.response = scheduler.cancel(e.request->id(), even_if_unknown, actions_);
          // Several ids in one call (a CLI interrupted in a map of 100,000 tasks): each as
          // `id`, answered in order.
          for (const std::string& id : e.request->more_ids()) {
            shoal::v1::CancelResponse one = scheduler.cancel(id, even_if_unknown, actions_);
            e.response->add_more_cancelled(one.cancelled());
            e.response->add_more_states(one.state());
          }
          cancels_.push_back(e.responder);  // answered after the round's one commit
        } else if constexpr (std::is_same_v<E, StatsCall>) {
          fill_stats(e.response);
          e.responder->Finish(grpc::Status::OK);
        } else if constexpr (std::is_same_v<E, ListWorkersCall>) {
          *e.response = scheduler.list_workers();
          e.responder->Finish(grpc::Status::OK);
        } else if constexpr (std::is_same_v<E, ListQueuesCall>) {
          *e.response = scheduler.list_queues();
          e.responder->Finish(grpc::Status::OK);
        }
      },
      event);
}

void BrokerLoop::release_handled(std::vector<ClientEvent>& events) {
  // After flush(): the replies are in their sessions' outboxes, where they count instead.
  for (ClientEvent& event : events) {
    if (const auto* e = std::get_if<SubmitEvent>(&event)) {
      deps_.sessions->handled(e->session, e->bytes);
    } else if (const auto* e = std::get_if<WatchEvent>(&event)) {
      deps_.sessions->handled(e->session, e->bytes);
    }
  }
  events.clear();  // frees the batches' arenas now, not at the next drain
}

void BrokerLoop::end_session(SessionId s, grpc::Status status) {
  // The replies to what the session sent before are in this round's actions and the
  // held Accepted: they go first (the Accepted once the store has committed them).
  flush();
  send_held_accepted(s);
  // Results of its tasks that end from now on are kept for a Watch (from a new session),
  // not written to a stream that is ending.
  deps_.scheduler->close_session(s);
  deps_.sessions->fail(s, std::move(status));
}

void BrokerLoop::rewrite_store() {
  auto start = std::chrono::steady_clock::now();
  absl::Status s = deps_.scheduler->rewrite_store();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start).count();
  if (!s.ok()) {
    deps_.log->warning("cannot rewrite the task store (its journal keeps growing): ", s.message());
  } else {
    shoal::v1::Stats stats = deps_.scheduler->stats();
    deps_.log->info("rewrote the task store's journal: ", stats.queued(), " queued and ",
                    stats.results_retained(), " retained results in ", ms, " ms");
  }
}

void BrokerLoop::answer_cancels() {
  if (cancels_.empty()) return;
  // A cancel is acknowledged now, not at the round's end: committed first, once for the
  // round's cancels (each alone cost an fdatasync, and the loop waited for each).
  const grpc::Status status =
      commit_store()
          ? grpc::Status::OK
          : grpc::Status(grpc::StatusCode::UNAVAILABLE, "the broker cannot write its task store");
  for (UnaryResponder* responder : cancels_) responder->Finish(status);
  cancels_.clear();
}

bool BrokerLoop::commit_store() {
  if (store_failed_) return false;
  absl::Status s = deps_.store->commit();
  if (s.ok()) return true;
  store_failed_ = true;
  stop_.store(true, std::memory_order_release);
  deps_.log->error("cannot write the task store, stopping so that nothing unsaved is "
                   "acknowledged: ", s.message());
  if (deps_.on_store_failure) deps_.on_store_failure(s);
  return false;
}

void BrokerLoop::flush() {
  send_actions();
  // Each round of this removes or closes the workers whose frames failed, so it ends.
  while (!undelivered_.empty()) {
    size_t returned = deps_.scheduler->undeliverable(undelivered_, actions_);
    if (returned > 0) {
      deps_.log->info(returned,
                      " tasks could not be sent (their worker's connection is "
                      "gone): queued again, no retry spent");
    }
    undelivered_.clear();
    send_actions();
  }
}

void BrokerLoop::send_actions() {
  for (WorkerSend& send : actions_.to_workers) {
    WorkerGateway& gw = *deps_.workers;
    bool sent = send.task_batch.empty() ? gw.send(send.peer, send.message)
                                        : gw.send_task_batch(send.peer, send.task_batch);
    if (sent) continue;
    // A Welcome and a batch to one peer make one entry: the peer is closed once, after
    // every task of it came back.
    auto it = std::find_if(undelivered_.begin(), undelivered_.end(),
                           [&](const UndeliveredSend& u) { return u.peer == send.peer; });
    if (it == undelivered_.end()) {
      it = undelivered_.insert(undelivered_.end(), UndeliveredSend{send.peer, {}});
    }
    const std::vector<uint64_t>& leases = send.task_batch.leases();
    it->leases.insert(it->leases.end(), leases.begin(), leases.end());
  }
  for (SessionSend& send : actions_.to_sessions) {
    if (send.message.body_case() == shoal::v1::ServerMessage::BODY_NOT_SET) continue;
    if (send.message.has_accepted()) {
      hold_accepted(send.session, send.message);
      continue;
    }
    deps_.sessions->send(send.session, std::move(send.message));
  }
  for (ResultReply& reply : actions_.replies) {
    auto it = waiting_.find(reply.token);
    if (it == waiting_.end()) continue;
    *it->second.response = std::move(reply.response);
    it->second.responder->Finish(grpc::Status::OK);
    waiting_tokens_.erase(it->second.responder);
    waiting_.erase(it);
  }
  for (SessionId s : actions_.sessions_to_close) {
    send_held_accepted(s);
    deps_.sessions->close(s);
  }
  actions_.clear();
}

void BrokerLoop::hold_accepted(SessionId s, shoal::v1::ServerMessage& message) {
  auto& ids = *message.mutable_accepted()->mutable_ids();
  if (ids.empty()) return;
  auto [it, inserted] = held_accepted_.try_emplace(s);
  if (inserted) {
    it->second = std::move(message);
  } else {
    auto& held = *it->second.mutable_accepted()->mutable_ids();
    for (std::string& id : ids) held.Add(std::move(id));
  }
  if (it->second.accepted().ids_size() >= kMaxHeldAccepted) send_held_accepted(s);
}

void BrokerLoop::send_held_accepted(SessionId s) {
  if (!commit_store()) {  // an Accepted is a promise: only for what a crash keeps
    held_accepted_.clear();
    return;
  }
  if (s != 0) {
    auto it = held_accepted_.find(s);
    if (it == held_accepted_.end()) return;
    deps_.sessions->send(s, std::move(it->second));
    held_accepted_.erase(it);
    return;
  }
  for (auto& [session, message] : held_accepted_) deps_.sessions->send(session, std::move(message));
  held_accepted_.clear();
}

void BrokerLoop::fill_stats(shoal::v1::Stats* stats) const {
  *stats = deps_.scheduler->stats();
  stats->set_bad_worker_frames(stats->bad_worker_frames() + deps_.workers->bad_frames());
  stats->set_refused_workers(deps_.workers->refused_workers());
  stats->set_journal_bytes(deps_.store->stored_bytes());
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  stats->set_cpu_seconds(double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                         double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6);
}

}  // namespace shoal::broker
