// The scheduler simulator observing the scheduler: what each call produced, the
// invariants checked after every step, and the model they are checked against
// (scheduler_sim_runner.h).
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "scheduler_sim_runner.h"

namespace shoal::broker::sim {

using shoal::v1::ErrorKind;

// --- Driving and observing the scheduler --------------------------------------------

void SchedulerSim::begin(Call kind) {
  out_.clear();
  kind_ = kind;
  added_.clear();
  removed_.clear();
  fresh_.clear();
  results_now_.clear();
  seen_accepted_.clear();
  seen_invalid_.clear();
  seen_exhausted_.clear();
  seen_unknown_.clear();
  welcomed_ = false;
  sent_.clear();
}

void SchedulerSim::send(SimWorker& w, WorkerMessage& msg) {
  if (w.connected) w.last_frame_ms = now();
  scheduler_.worker_message(w.peer, &msg, out_);
  observe();
}

void SchedulerSim::observe() {
  // Sessions first: the checks of dispatched tasks below rely on the results of this call.
  absl::flat_hash_set<SessionId> with_results;
  for (size_t i = 0; i < out_.to_sessions.size(); ++i) {
    const SessionSend& send = out_.to_sessions[i];
    auto owner = session_owner_.find(send.session);
    if (owner == session_owner_.end() || clients_[owner->second].session != send.session) {
      fail(absl::StrCat("a message to session ", send.session, ", which is not open"));
      continue;
    }
    SimClient& c = clients_[owner->second];
    const shoal::v1::ServerMessage& m = send.message;
    if ((m.has_accepted() || m.has_rejected()) && kind_ != Call::kSubmit) {
      fail("Accepted or Rejected outside a submission");
    } else if (m.has_accepted()) {
      if (i != 0) fail("Accepted is not the first message of a submission");
      seen_accepted_.assign(m.accepted().ids().begin(), m.accepted().ids().end());
    } else if (m.has_rejected()) {
      bool invalid = m.rejected().error().kind() == shoal::v1::ERROR_KIND_INVALID;
      if (!invalid && m.rejected().error().kind() != shoal::v1::ERROR_KIND_RESOURCE_EXHAUSTED) {
        fail("Rejected with kind " + shoal::v1::ErrorKind_Name(m.rejected().error().kind()));
      }
      auto& seen = invalid ? seen_invalid_ : seen_exhausted_;
      counts_[invalid ? "rejected-invalid" : "rejected-full"] += m.rejected().ids_size();
      seen.insert(seen.end(), m.rejected().ids().begin(), m.rejected().ids().end());
    } else if (m.has_unknown()) {
      if (kind_ != Call::kResend) fail("Unknown outside a watch");
      seen_unknown_.insert(seen_unknown_.end(), m.unknown().ids().begin(),
                           m.unknown().ids().end());
    } else if (m.has_results()) {
      if (!with_results.insert(send.session).second) {
        fail(absl::StrCat("two Results messages to session ", send.session, " in one event"));
      }
      for (const TaskResult& r : m.results().results()) on_result(c, send.session, r);
    } else {
      fail(absl::StrCat("an empty message to session ", send.session));
    }
  }
  for (const ResultReply& reply : out_.replies) on_reply(reply);
  absl::flat_hash_set<std::string> with_tasks;
  for (const WorkerSend& send : out_.to_workers) {
    auto owner = peer_owner_.find(send.peer);
    if (owner == peer_owner_.end()) {
      fail(absl::StrCat("a frame to ", send.peer, ", which never connected"));
      continue;
    }
    SimWorker& w = workers_[owner->second];
    bool current = w.connected && w.peer == send.peer;
    auto sent = std::find_if(sent_.begin(), sent_.end(),
                             [&](const Sent& x) { return x.peer == send.peer; });
    if (sent == sent_.end()) sent = sent_.insert(sent_.end(), Sent{send.peer, {}, {}});
    if (!send.task_batch.empty()) {
      shoal::v1::BrokerMessage frame;
      if (!with_tasks.insert(send.peer).second) {
        fail(absl::StrCat("two task batches to ", send.peer, " in one event"));
      } else if (!frame.ParseFromString(send.task_batch.frame()) || frame.version() != 1) {
        fail(absl::StrCat("an undecodable task batch to ", send.peer));
      }
      for (const Task& task : frame.tasks().tasks()) {
        sent->tasks.emplace_back(task.id(), task.attempt());
        sent->leases.push_back(task.lease());
        on_task_sent(w, send.peer, task);
      }
    } else if (send.message.has_welcome()) {
      if (kind_ != Call::kHello || !current) fail(absl::StrCat("a Welcome to ", send.peer));
      welcomed_ = true;
    } else if (send.message.has_heartbeat()) {
      if (!current) fail(absl::StrCat("a heartbeat to ", send.peer, ", which the broker forgot"));
    } else if (send.message.has_reconnect()) {
      if (current) fail(absl::StrCat("Reconnect to ", send.peer, ", which the broker knows"));
      if (w.peer == send.peer) w.needs_hello = true;
      ++counts_["reconnect-asked"];
    } else {
      fail(absl::StrCat("an unexpected frame to ", send.peer));
    }
  }
  for (SessionId s : out_.sessions_to_close) {
    auto owner = session_owner_.find(s);
    SimClient* c = owner == session_owner_.end() ? nullptr : &clients_[owner->second];
    if (c == nullptr || c->session != s || !c->half_closed || pending_[s] != 0) {
      fail(absl::StrCat("the broker ended session ", s,
                        ", which was not half-closed with nothing pending"));
      continue;
    }
    scheduler_.close_session(s);  // as the gateway does
    orphan_tasks(*c, s);
    ++counts_["session-ended"];
    c->session = 0;
    c->half_closed = false;
  }
}

void SchedulerSim::on_result(SimClient& c, SessionId s, const TaskResult& r) {
  SimTask* t = find_accepted(r.id());
  if (t == nullptr || t->client != c.index) {
    return fail(absl::StrCat("a result for ", r.id(), ", which client ", c.index,
                             " never submitted"));
  }
  if (t->session != s) {
    return fail(absl::StrCat("the result of ", r.id(), " went to session ", s,
                             "; it was last submitted or watched on ", t->session));
  }
  if (expired(*t)) return fail(absl::StrCat("a result for ", r.id(), " after its retention"));
  results_now_.insert(r.id());
  on_outcome(*t, r);
}

void SchedulerSim::on_reply(const ResultReply& reply) {
  auto it = waiters_.find(reply.token);
  if (it == waiters_.end()) {
    return fail(absl::StrCat("GetResult token ", reply.token, " answered twice or never asked"));
  }
  Waiter waiter = it->second;
  waiters_.erase(it);
  SimTask* t = find_accepted(waiter.id);
  bool gone = t == nullptr || expired(*t);
  const shoal::v1::GetResultResponse& response = reply.response;
  std::string answer = absl::StrCat("get_result(", waiter.id, ", wait_ms ", waiter.wait_ms,
                                    ") answered ", shoal::v1::TaskState_Name(response.state()));
  switch (response.state()) {
    case shoal::v1::TASK_STATE_DONE:
      if (gone || response.result().id() != waiter.id) {
        return fail(absl::StrCat(answer, " with ", response.result().ShortDebugString(),
                                 gone ? ", past its retention" : ""));
      }
      return on_outcome(*t, response.result());
    case shoal::v1::TASK_STATE_UNKNOWN:
      if (!gone && uncertain(*t)) return learn_dropped(*t);
      if (!gone) fail(absl::StrCat(answer, " for a task the broker holds"));
      return;
    default:
      if (gone || t->outcome.has_value()) fail(absl::StrCat(answer, " for a task that ended"));
      if (waiter.wait_ms > 0) ++counts_["get_result-timeout"];
      if (waiter.wait_ms > 0 && now() < waiter.deadline_ms) {
        fail(absl::StrCat(answer, " before its wait ended"));
      }
  }
}

void SchedulerSim::on_outcome(SimTask& t, const TaskResult& r) {
  if (t.outcome.has_value()) {
    if (r.SerializeAsString() != t.outcome->SerializeAsString()) {
      fail(absl::StrCat(t.spec.id(), " ended twice: ", t.outcome->ShortDebugString(), ", then ",
                        r.ShortDebugString()));
    }
    return;
  }
  check_first_outcome(t, r);
  t.outcome = r;
  --pending_[t.session];
  if (t.remembered) {  // resolved at the cancel, which started its retention
    ++counts_["cancel-remembered-delivered"];
    return;
  }
  t.delivered_ms = now();
  ++resolved_;
  ++counts_[r.has_failure() ? shoal::v1::ErrorKind_Name(r.failure().kind()) : "ok"];
}

void SchedulerSim::check_first_outcome(const SimTask& t, const TaskResult& r) {
  const std::string& id = t.spec.id();
  ErrorKind kind = r.failure().kind();
  std::string outcome = absl::StrCat(id, " ended with ", r.ShortDebugString());
  std::string token = token_of(r);
  if (t.cancelled) {
    if (kind != shoal::v1::ERROR_KIND_CANCELLED || !token.empty()) {
      fail(absl::StrCat(outcome, ", but it was cancelled"));
    }
    return;
  }
  bool lost = r.has_failure() && kind == shoal::v1::ERROR_KIND_WORKER_LOST;
  if (lost && r.attempts() != uint32_t(t.max_retries) + 1) {
    return fail(absl::StrCat(outcome, ": WORKER_LOST before its ", t.max_retries,
                             " retries were used"));
  }
  if (!token.empty()) {  // a worker's report: of this task
    auto report = reports_.find(token);
    if (report == reports_.end() || report->second != id) {
      fail(absl::StrCat(outcome, ", which a worker reported for another task"));
    }
    return;
  }
  if (lost) return;
  // Ends the broker makes itself: NOT_REGISTERED is the only one left. Checked when it
  // ends in this very call; a result resent later says nothing about the workers now.
  bool fresh = kind_ == Call::kOther || kind_ == Call::kHello ||
               (kind_ == Call::kSubmit && fresh_.contains(id));
  if (!r.has_failure() || kind != shoal::v1::ERROR_KIND_NOT_REGISTERED) {
    fail(absl::StrCat(outcome, ", which no worker reported"));
  } else if (fresh && !unrunnable(t)) {
    fail(absl::StrCat(outcome, ", but a live worker of queue '", t.queue, "' has '",
                      t.spec.name(), "' registered"));
  }
}

void SchedulerSim::on_task_sent(SimWorker& w, const std::string& peer, const Task& task) {
  std::string sent = absl::StrCat("task ", task.id(), " (queue '", task.queue(), "', name '",
                                  task.name(), "', attempt ", task.attempt(), ") sent to ", peer);
  if (!w.connected || w.peer != peer) return fail(absl::StrCat(sent, ", which the broker forgot"));
  if (w.draining) return fail(absl::StrCat(sent, ", which is draining"));
  if (!w.serves(task.queue())) {
    return fail(absl::StrCat(sent, ", which serves only ", absl::StrJoin(w.queues, ",")));
  }
  if (!w.tasks.contains(task.name())) {
    return fail(absl::StrCat(sent, ", which has only ", absl::StrJoin(w.tasks, ",")));
  }
  SimTask* t = find_accepted(task.id());
  if (t == nullptr) return fail(absl::StrCat(sent, ": never accepted"));
  if (t->cancelled) return fail(absl::StrCat(sent, " after it was cancelled"));
  if (t->outcome.has_value()) return fail(absl::StrCat(sent, " after it ended"));
  if (int(task.attempt()) <= t->last_attempt || int(task.attempt()) > t->max_retries) {
    return fail(absl::StrCat(sent, ": attempt ", t->last_attempt, " was sent before, and it has ",
                             t->max_retries, " retries"));
  }
  const Task& s = t->spec;
  if (task.name() != s.name() || task.queue() != t->queue || task.priority() != s.priority() ||
      task.items() != std::max(1u, s.items()) || task.time_limit_ms() != s.time_limit_ms() ||
      task.max_retries() != t->max_retries || task.args() != s.args()) {
    return fail(absl::StrCat(sent, " as ", task.ShortDebugString(), "; submitted as ",
                             s.ShortDebugString()));
  }
  t->last_attempt = int(task.attempt());
  ++dispatched_;
  // The broker counts the time limit (once per item of a chunk) and its grace from when
  // the worker has a process free for the task: at once, or when results of the tasks
  // ahead of it free one. The model's count of what the worker holds is at least the
  // broker's (it also counts tasks whose lease the broker ended), so its lease end is
  // never earlier than the broker's.
  if (auto old = w.held.find(task.id()); old != w.held.end()) {
    // Sent again (its backstop passed): the old copy runs on, and is reported first.
    std::string token = absl::StrCat("[r", ++report_count_, "]");
    reports_[token] = task.id();
    w.replaced.push_back(random_result(rng_, t->spec, old->second, token, /*success_only=*/true));
    drop_held(w, task.id());
  }
  Held& held = w.held[task.id()];
  held = Held{task.lease(), task.attempt()};
  if (task.time_limit_ms() > 0) {
    held.budget_ms =
        int64_t(task.time_limit_ms()) * task.items() + sim_options(config_).time_limit_grace_ms;
  }
  held.waiting = true;
  w.waiting.push_back({task.id(), task.lease(), task.attempt()});
  start_waiting(w);
  if (w.greedy) return;  // only the broker-side cap applies: check_workers()
  if (w.outstanding == 0) {
    return fail(absl::StrCat(sent, ", which had no credit left (it holds ", w.held.size() - 1,
                             " tasks)"));
  }
  --w.outstanding;
  if (w.held.size() > w.capacity()) {
    fail(absl::StrCat(sent, ", which now holds ", w.held.size(), " tasks, more than slots ",
                      w.slots, " x prefetch ", w.prefetch));
  }
}

void SchedulerSim::after_step() {
  check_counters();
  if (step_ % config_.check_workers_every == 0) check_workers();
  for (const SimClient& c : clients_) {
    if (c.session != 0 && c.half_closed && pending_[c.session] == 0) {
      fail(absl::StrCat("half-closed session ", c.session,
                        " has nothing pending, but the broker did not end it"));
    }
  }
}

// Every accepted task is queued, running or ended, and the queues and workers add up.
void SchedulerSim::check_counters() {
  shoal::v1::Stats st = scheduler_.stats();
  max_queued_seen_ = std::max<uint64_t>(max_queued_seen_, st.queued());
  if (st.queued() >= config_.max_queued) ++counts_["steps-full"];
  if (st.task_bytes() + 40 > st.max_task_bytes()) ++counts_["steps-args-full"];  // args < 40 B
  if (st.submitted() != st.queued() + st.running() + st.completed() ||
      st.submitted() != accepted_count_ || st.completed() < resolved_ ||
      st.workers() != connected_count() || st.results_retained() > st.completed()) {
    return fail(absl::StrCat("stats ", st.ShortDebugString(), " with ", accepted_count_,
                             " tasks accepted, ", resolved_, " seen ending, ", connected_count(),
                             " workers connected"));
  }
  uint64_t depth = 0, in_flight = 0;
  shoal::v1::ListQueuesResponse queues = scheduler_.list_queues();
  for (const shoal::v1::QueueInfo& q : queues.queues()) {
    depth += q.depth();
    in_flight += q.in_flight();
  }
  if (depth != st.queued() || in_flight != st.running()) {
    fail(absl::StrCat("queues hold ", depth, " queued and ", in_flight, " in flight; stats say ",
                      st.queued(), " and ", st.running()));
  }
}

// What the broker holds for each worker: never more than slots x prefetch tasks and
// credit together (worker.proto; only tasks the worker said it runs may exceed it, and
// then with no credit), never more than the worker has and not past their time limit +
// grace, and for a well-behaved worker exactly the credit it granted and has not used.
void SchedulerSim::check_workers() {
  shoal::v1::ListWorkersResponse list = scheduler_.list_workers();
  uint64_t running = 0;
  for (const shoal::v1::WorkerInfo& info : list.workers()) {
    auto named = worker_by_name_.find(info.name());
    if (named == worker_by_name_.end()) return fail("list_workers shows " + info.name());
    const SimWorker& w = workers_[named->second];
    running += info.running();
    std::string holds = absl::StrCat("the broker has ", info.running(), " tasks leased and ",
                                     info.credit(), " credit for ", w.name,
                                     w.greedy ? " (greedy)" : "", " holding ", w.held.size());
    if (!w.connected) {
      fail(absl::StrCat(w.name, " is listed, but its connection ended"));
    } else if (info.draining() != w.draining) {
      fail(absl::StrCat(w.name, info.draining() ? " is" : " is not", " listed as draining"));
    } else if (w.draining && info.credit() > 0) {
      fail(absl::StrCat(holds, ", which is draining"));
    } else if (info.running() + info.credit() > w.capacity() &&
               (info.credit() > 0 || info.running() > w.claimed)) {
      fail(absl::StrCat(holds, ", more than slots ", w.slots, " x prefetch ", w.prefetch,
                        " (or the ", w.claimed, " tasks it said it runs)"));
    } else if (info.running() > w.held.size()) {
      fail(absl::StrCat(holds, ", which holds ", w.held.size()));
    } else if (info.running() > leasable(w)) {
      fail(absl::StrCat(holds, ", of which only ", leasable(w), " are within time limit + grace"));
    } else if (!w.greedy && info.credit() != w.outstanding) {
      fail(absl::StrCat(holds, ", which granted ", w.outstanding, " not used yet"));
    }
  }
  if (size_t(list.workers_size()) != connected_count() || running != scheduler_.stats().running()) {
    fail(absl::StrCat(list.workers_size(), " workers listed with ", running, " tasks; ",
                      connected_count(), " connected, ", scheduler_.stats().running(), " running"));
  }
}

void SchedulerSim::fail(std::string_view what) {
  if (failed_) return;  // the first failure is the one to replay
  failed_ = true;
  ADD_FAILURE() << "seed " << config_.seed << ", step " << step_ << " (" << what_ << "): " << what;
}

// --- The model -----------------------------------------------------------------------

SimTask* SchedulerSim::find_accepted(const std::string& id) {
  auto it = tasks_.find(id);
  return it == tasks_.end() || !it->second.accepted ? nullptr : &it->second;
}

void SchedulerSim::learn_dropped(SimTask& t) {
  t.dropped = true;
  ++counts_["orphan-dropped"];
  if (t.outcome.has_value()) return;
  --pending_[t.session];
  ++resolved_;
}

void SchedulerSim::orphan_tasks(const SimClient& c, SessionId s) {
  for (const std::string& id : c.ids) {
    SimTask& t = tasks_.at(id);
    if (t.session == s && t.accepted && !t.outcome.has_value() && !expired(t) &&
        t.orphaned_ms < 0) {
      t.orphaned_ms = now();
    }
  }
}

void SchedulerSim::adopt(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    SimTask* t = find_accepted(id);
    if (t != nullptr && !t->outcome.has_value() && !expired(*t)) t->orphaned_ms = -1;
  }
}

void SchedulerSim::attach(SimTask& t, SessionId s) {
  if (!t.outcome.has_value()) {
    --pending_[t.session];
    ++pending_[s];
  }
  t.session = s;
}

// Mostly ids the client submitted (recent ones are likelier still queued), some unknown.
std::string SchedulerSim::pick_id(SimClient& c) {
  uint64_t roll = rng_.below(10);
  if (c.ids.empty() || roll == 0) return absl::StrCat("c", c.index, "-nope-", rng_.below(1000));
  if (roll < 4) return c.ids[c.ids.size() - 1 - rng_.below(std::min<size_t>(c.ids.size(), 30))];
  return rng_.pick(c.ids);
}

std::vector<std::string> SchedulerSim::unresolved(const SimClient& c) const {
  std::vector<std::string> ids;
  for (const std::string& id : c.ids) {
    const SimTask& t = tasks_.at(id);
    if (!t.outcome.has_value() && !expired(t)) ids.push_back(id);  // a remembered cancel expires so
  }
  return ids;
}

void SchedulerSim::remember_cancel(SimClient& c, const std::string& id) {
  auto [it, made] = tasks_.try_emplace(id);
  SimTask& t = it->second;
  if (made) {  // an id never submitted: what a submission of it would have been
    t.spec = random_task(rng_, c);
    t.spec.set_id(id);
    t.client = c.index;
    t.queue = t.spec.queue().empty() ? "default" : t.spec.queue();
    t.max_retries =
        t.spec.max_retries() < 0 ? sim_options(config_).default_max_retries : t.spec.max_retries();
  }
  // A new record: whatever the id was before (rejected as full, expired) is over.
  if (!t.accepted) c.ids.push_back(id);
  t.accepted = t.cancelled = t.remembered = true;
  t.session = 0;  // no session waits for it
  t.outcome.reset();
  t.delivered_ms = now();
  t.orphaned_ms = -1;
  t.dropped = false;
  ++accepted_count_;
  ++resolved_;
  ++counts_["cancel-remembered"];
}

// NOT_REGISTERED is right when, after the call, no live worker of the task's queue has
// its name, and a worker of that queue lacking it was live before or after.
bool SchedulerSim::unrunnable(const SimTask& t) const {
  auto in = [](const std::vector<int>& v, int i) {
    return std::find(v.begin(), v.end(), i) != v.end();
  };
  bool lacking = false;
  for (int i = 0; i < int(workers_.size()); ++i) {
    const SimWorker& w = workers_[i];
    if (!w.serves(t.queue)) continue;
    bool live_before = in(removed_, i) || (w.connected && !in(added_, i));
    bool has = w.tasks.contains(t.spec.name());
    if (w.connected && has) return false;
    lacking |= (live_before || w.connected) && !has;
  }
  return lacking;
}

// A well-behaved worker grants against what it holds and what it was granted; a greedy
// one grants up to three times its capacity, whatever it holds.
uint32_t SchedulerSim::credit_to_grant(SimWorker& w) {
  if (w.greedy) return uint32_t(rng_.below(3 * w.capacity() + 1));  // draining or not
  if (w.draining) return 0;
  uint64_t used = w.held.size() + w.outstanding;
  uint64_t room = w.capacity() > used ? w.capacity() - used : 0;
  uint32_t grant = uint32_t(rng_.chance(70) ? room : rng_.below(room + 1));
  if (w.connected) w.outstanding += grant;  // else it goes to a peer the broker forgot
  return grant;
}

size_t SchedulerSim::leasable(const SimWorker& w) const {
  return size_t(std::count_if(w.held.begin(), w.held.end(), [&](const auto& entry) {
    return entry.second.lease_ends_ms > last_tick_ms_;
  }));
}

void SchedulerSim::drop_held(SimWorker& w, const std::string& id) {
  w.held.erase(id);
  start_waiting(w);
}

void SchedulerSim::start_waiting(SimWorker& w) {
  size_t started = w.replaced.size() +
                   size_t(std::count_if(w.held.begin(), w.held.end(),
                                        [](const auto& entry) { return !entry.second.waiting; }));
  while (started < std::max<size_t>(1, w.slots) && !w.waiting.empty()) {
    const SimWorker::Waiting next = w.waiting.front();
    w.waiting.pop_front();
    auto it = w.held.find(next.id);
    if (it == w.held.end() || !it->second.waiting || it->second.lease != next.lease ||
        it->second.attempt != next.attempt) {
      continue;
    }
    Held& held = it->second;
    held.waiting = false;
    held.lease_ends_ms =
        held.budget_ms == 0 ? std::numeric_limits<int64_t>::max() : now() + held.budget_ms;
    ++started;
  }
}

size_t SchedulerSim::connected_count() const {
  return size_t(std::count_if(workers_.begin(), workers_.end(),
                              [](const SimWorker& w) { return w.connected; }));
}

}  // namespace shoal::broker::sim
