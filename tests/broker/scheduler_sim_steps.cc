// The scheduler simulator's random steps: what clients and workers do, and time
// passing (scheduler_sim_runner.h).
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "scheduler_sim_runner.h"

namespace shoal::broker::sim {

SchedulerSim::SchedulerSim(SimConfig config)
    : config_(config),
      rng_(config.seed),
      scheduler_(sim_options(config), Scheduler::Deps{&clock_, &store_}) {
  workers_.reserve(config.workers + 1);  // the sweeper joins at the end; refs stay valid
  for (int i = 0; i < config.workers; ++i) {
    workers_.push_back(random_worker(rng_, i));
    worker_by_name_[workers_.back().name] = i;
  }
  clients_.resize(config.clients);
  for (int i = 0; i < config.clients; ++i) clients_[i].index = i;
}

bool SchedulerSim::run() {
  for (SimClient& c : clients_) reopen(c, /*recover=*/false);
  // Half the workers are up at the start; the others join along the way.
  for (size_t i = 0; i < workers_.size(); i += 2) hello(workers_[i], Running::kDrop, true);
  for (step_ = 1; step_ <= config_.steps && !failed_; ++step_) {
    random_step();
    after_step();
  }
  if (!failed_) drain();
  return !failed_;
}

std::string SchedulerSim::summary() const {
  shoal::v1::Stats st = scheduler_.stats();
  std::string counts;
  for (const auto& [what, n] : counts_) absl::StrAppend(&counts, " ", what, "=", n);
  return absl::StrCat("seed ", config_.seed, ": ", config_.workers, " workers, ",
                      config_.steps, " steps, ", accepted_count_, " tasks, ", dispatched_,
                      " dispatches, ", report_count_, " reports, ", st.retried(),
                      " retries, at most ", max_queued_seen_, " queued;", counts);
}

// --- Steps ---------------------------------------------------------------------------

void SchedulerSim::random_step() {
  SimClient& c = clients_[rng_.below(clients_.size())];
  SimWorker& w = workers_[rng_.below(workers_.size())];
  std::string client = absl::StrCat("client ", c.index), worker = w.name;
  // Workers a step applies to: in a large cluster several report, or fail, at once.
  auto some_workers = [&](size_t per, auto applies) {
    std::vector<SimWorker*> candidates, some;
    for (SimWorker& x : workers_) {
      if (applies(x)) candidates.push_back(&x);
    }
    uint64_t n = candidates.empty() ? 0 : 1 + rng_.below(1 + workers_.size() / per);
    for (; n > 0; --n) some.push_back(rng_.pick(candidates));
    return some;
  };
  auto up = [](const SimWorker& x) { return x.connected && !x.silent; };
  uint64_t roll = rng_.below(100);
  if (roll < 20) {
    what_ = "submit by " + client;
    submit_random(c);
  } else if (roll < 55) {
    what_ = "results";
    auto busy = [](const SimWorker& x) { return !x.held.empty() && !x.silent; };
    for (SimWorker* some : some_workers(20, busy)) finish(*some, false);
  } else if (roll < 59) {
    what_ = "credit from " + worker;
    grant(w);
  } else if (roll < 61) {
    what_ = "heartbeat from " + worker;
    heartbeat(w);
  } else if (roll < 72) {
    what_ = "time passes";
    advance_time(1 + int64_t(rng_.below(300)));
  } else if (roll < 73) {
    what_ = "a send fails: its connection is gone";
    undeliverable();
  } else if (roll < 75) {
    what_ = "much time passes";
    advance_time(1000 + int64_t(rng_.below(3000)));
  } else if (roll < 76) {
    what_ = "workers fall silent";
    for (SimWorker* some : some_workers(200, up)) some->silent = true;
  } else if (roll < 78) {
    what_ = "workers wake up";
    for (SimWorker* some : some_workers(100, [](const SimWorker& x) { return x.silent; })) {
      wake(*some);
    }
  } else if (roll < 79) {
    what_ = "workers disconnect";
    for (SimWorker* some : some_workers(200, up)) disconnect(*some, /*bye=*/false);
  } else if (roll < 80) {
    // Half leave at once (a drained worker's last Bye among them), half begin draining.
    if (w.draining || rng_.chance(50)) {
      what_ = worker + " says bye";
      disconnect(w, /*bye=*/true);
    } else {
      what_ = worker + " begins draining";
      start_draining(w);
    }
  } else if (roll < 83) {
    what_ = "workers say hello";  // mostly those whose connection ended
    bool down = rng_.chance(80);
    auto eligible = [down](const SimWorker& x) {
      return !x.silent && (x.needs_hello || x.peer.empty() || !down);
    };
    for (SimWorker* some : some_workers(100, eligible)) {
      uint64_t r = rng_.below(10);
      hello(*some, r < 6 ? Running::kClaim : r < 8 ? Running::kKeepQuiet : Running::kDrop,
            /*new_peer=*/rng_.chance(75));
    }
  } else if (roll < 88) {
    what_ = "cancel by " + client;
    cancel(c);
  } else if (roll < 93) {
    what_ = "get_result by " + client;
    get_result(c);
  } else if (roll < 95) {
    what_ = "watch by " + client;
    if (c.session != 0 && !c.half_closed) {
      std::vector<std::string> ids;
      for (uint64_t n = 1 + rng_.below(8); n > 0; --n) ids.push_back(pick_id(c));
      watch(c, ids);
    }
  } else if (roll < 96) {
    what_ = client + " closes its session";
    close(c);
  } else if (roll < 98) {
    what_ = client + " reopens its session";
    reopen(c, /*recover=*/true);
  } else {
    what_ = client + " half-closes its session";
    half_close(c);
  }
}

void SchedulerSim::submit_random(SimClient& c) {
  if (c.session == 0 || c.half_closed) return reopen(c, /*recover=*/true);
  Tasks batch;
  for (uint64_t n = 1 + rng_.below(config_.max_batch); n > 0; --n) {
    uint64_t roll = rng_.below(100);
    if (roll < 3) {
      *batch.Add() = invalid_task(rng_, c);
    } else if (roll < 6 && !c.ids.empty()) {  // an id it submitted before: idempotent
      const SimTask& t = tasks_.at(rng_.pick(c.ids));
      // An expired id would be a new task; one that may have expired, either.
      if (!expired(t) && !uncertain(t)) *batch.Add() = t.spec;
    } else if (roll < 8 && !batch.empty()) {  // twice in one batch
      Task again = batch.Get(int(rng_.below(batch.size())));
      *batch.Add() = std::move(again);
    } else if (roll < 25 && !c.retry.empty()) {  // rejected for backpressure before
      const SimTask& t = tasks_.at(c.retry.back());
      c.retry.pop_back();
      if (resendable(t)) *batch.Add() = t.spec;  // else a later submission got it in
    } else {
      Task spec = random_task(rng_, c);
      SimTask t;
      t.spec = spec;
      t.client = c.index;
      t.queue = spec.queue().empty() ? "default" : spec.queue();
      t.max_retries = spec.max_retries() < 0 ? sim_options(config_).default_max_retries
                                             : spec.max_retries();
      tasks_.emplace(spec.id(), std::move(t));
      *batch.Add() = std::move(spec);
    }
  }
  submit(c, std::move(batch));
}

void SchedulerSim::submit(SimClient& c, Tasks batch) {
  begin(Call::kSubmit);
  // Predict the answer: invalid tasks rejected (one Rejected per problem), known ids
  // accepted again, new ones accepted while fewer than max_queued tasks are queued and
  // their arguments fit beside those of the tasks not done (or none are held), until the
  // first new one that does not: the batch's later ones are refused with it.
  std::vector<std::string> accepted, invalid, exhausted;
  uint64_t queued = scheduler_.stats().queued();
  uint64_t held = scheduler_.stats().task_bytes();
  const uint64_t max_held = sim_options(config_).max_task_bytes;
  for (const Task& task : batch) {
    if (task.id().empty() || task.name().empty() || task.priority() > 9 ||
        task.args().size() > sim_options(config_).max_message_bytes) {
      invalid.push_back(task.id());
      continue;
    }
    SimTask& t = tasks_.at(task.id());
    if (expired(t) || uncertain(t)) {  // the broker would (or might) take it for a new task
      return fail(absl::StrCat("simulator error: ", t.spec.id(), " submitted after it expired"));
    }
    if (!t.accepted) {
      if (!exhausted.empty() || queued >= config_.max_queued ||
          (held > 0 && held + task.args().size() > max_held)) {
        exhausted.push_back(task.id());
        continue;
      }
      ++queued;
      held += task.args().size();
      t.accepted = true;
      ++accepted_count_;
      c.ids.push_back(task.id());
      fresh_.insert(task.id());
    }
    accepted.push_back(task.id());
    attach(t, c.session);
  }
  for (const std::string& id : exhausted) c.retry.push_back(id);
  scheduler_.submit(c.session, &batch, out_);
  observe();
  adopt(accepted);
  if (seen_accepted_ != accepted) {
    fail(absl::StrCat("Accepted [", absl::StrJoin(seen_accepted_, ","), "], expected [",
                      absl::StrJoin(accepted, ","), "] (rejected [",
                      absl::StrJoin(seen_invalid_, ","), "] as invalid, [",
                      absl::StrJoin(seen_exhausted_, ","), "] for backpressure)"));
  }
  // Invalid tasks come in one Rejected per problem: in order within it, not across.
  std::sort(seen_invalid_.begin(), seen_invalid_.end());
  std::sort(invalid.begin(), invalid.end());
  if (seen_invalid_ != invalid) {
    fail(absl::StrCat("rejected as invalid [", absl::StrJoin(seen_invalid_, ","),
                      "], expected [", absl::StrJoin(invalid, ","), "]"));
  }
  if (seen_exhausted_ != exhausted) {
    fail(absl::StrCat("rejected as exhausted [", absl::StrJoin(seen_exhausted_, ","),
                      "], expected [", absl::StrJoin(exhausted, ","), "] (", queued,
                      " queued)"));
  }
}

void SchedulerSim::cancel(SimClient& c) {
  begin(Call::kOther);
  // Half even_if_unknown, some of those of a task rejected as full, whose resend the
  // cancel may overtake (the CLI's withdrawal of a task waiting for room).
  bool even_if_unknown = rng_.chance(50);
  std::string id =
      even_if_unknown && !c.retry.empty() && rng_.chance(30) ? rng_.pick(c.retry) : pick_id(c);
  SimTask* t = find_accepted(id);
  const bool was_uncertain = t != nullptr && uncertain(*t);
  shoal::v1::CancelResponse response = scheduler_.cancel(id, even_if_unknown, out_);
  if (was_uncertain && response.state() == shoal::v1::TASK_STATE_UNKNOWN) learn_dropped(*t);
  bool gone = t == nullptr || expired(*t);
  bool ended = t != nullptr && t->outcome.has_value();
  if (response.cancelled() && t != nullptr) t->cancelled = true;  // before its result shows
  if (response.cancelled()) ++counts_["cancelled"];
  observe();
  auto state = response.state();
  std::string answer =
      absl::StrCat("cancel(", id, even_if_unknown ? ", even if unknown" : "", ") answered ",
                   shoal::v1::TaskState_Name(state), response.cancelled() ? ", cancelled" : "");
  if (gone) {
    if (state != shoal::v1::TASK_STATE_UNKNOWN || response.cancelled() != even_if_unknown) {
      fail(absl::StrCat(answer, ", but the broker no longer knows it"));
    }
    if (response.cancelled()) remember_cancel(c, id);
  } else if (ended) {
    if (state != shoal::v1::TASK_STATE_DONE || response.cancelled()) {
      fail(absl::StrCat(answer, ", but it ended"));
    }
  } else if (state == shoal::v1::TASK_STATE_UNKNOWN ||
             response.cancelled() != (state == shoal::v1::TASK_STATE_QUEUED)) {
    fail(absl::StrCat(answer, ": a queued task is cancelled, no other"));
  } else if (response.cancelled() && clients_[t->client].session == t->session &&
             !t->outcome.has_value()) {
    fail(absl::StrCat(answer, ", but its session got no result"));
  }
}

void SchedulerSim::get_result(SimClient& c) {
  begin(Call::kResend);
  std::string id = pick_id(c);
  uint32_t wait_ms = rng_.chance(50) ? 0 : 100 + uint32_t(rng_.below(4000));
  uint64_t token = ++next_token_;
  waiters_[token] = Waiter{id, wait_ms, now() + wait_ms};
  scheduler_.get_result(id, wait_ms, token, out_);
  observe();
  if (wait_ms == 0 && waiters_.contains(token)) {
    fail(absl::StrCat("get_result(", id, ", wait_ms 0) was not answered at once"));
  }
}

void SchedulerSim::watch(SimClient& c, const std::vector<std::string>& ids) {
  begin(Call::kResend);
  google::protobuf::RepeatedPtrField<std::string> field;
  std::vector<std::string> unknown, known_results, maybe, attached;
  for (const std::string& id : ids) {
    *field.Add() = id;
    SimTask* t = find_accepted(id);
    if (t == nullptr || expired(*t)) {
      unknown.push_back(id);
      continue;
    }
    if (uncertain(*t)) maybe.push_back(id);
    if (t->outcome.has_value() && !uncertain(*t)) known_results.push_back(id);
    attach(*t, c.session);
    attached.push_back(id);
  }
  scheduler_.watch(c.session, field, out_);
  observe();
  // What the broker no longer had of those that may have gone: learnt, and expected.
  for (const std::string& id : maybe) {
    if (std::find(seen_unknown_.begin(), seen_unknown_.end(), id) != seen_unknown_.end()) {
      learn_dropped(*find_accepted(id));
    }
  }
  if (!maybe.empty()) {
    unknown.clear();
    for (const std::string& id : ids) {
      const SimTask* t = find_accepted(id);
      if (t == nullptr || expired(*t)) unknown.push_back(id);
    }
  }
  adopt(attached);
  if (seen_unknown_ != unknown) {
    fail(absl::StrCat("watch answered Unknown [", absl::StrJoin(seen_unknown_, ","),
                      "], expected [", absl::StrJoin(unknown, ","), "]"));
  }
  for (const std::string& id : known_results) {
    if (!results_now_.contains(id)) fail(absl::StrCat("watch did not resend the result of ", id));
  }
}

void SchedulerSim::reopen(SimClient& c, bool recover) {
  if (c.session != 0) {
    scheduler_.close_session(c.session);  // its stream ends first
    orphan_tasks(c, c.session);
  }
  c.session = next_session_++;
  c.half_closed = false;
  session_owner_[c.session] = c.index;
  scheduler_.open_session(c.session);
  if (!recover) return;
  // A reconnected client asks for what it still waits for: by Watch, by submitting it
  // again (idempotent), or not yet.
  std::vector<std::string> waiting = unresolved(c);
  uint64_t how = rng_.below(10);
  if (waiting.empty() || how >= 8) return;
  const bool any_uncertain = std::any_of(waiting.begin(), waiting.end(), [&](const auto& id) {
    return uncertain(tasks_.at(id));
  });
  if (how < 6 || any_uncertain) return watch(c, waiting);  // not resubmitted: maybe new
  Tasks batch;
  for (const std::string& id : waiting) *batch.Add() = tasks_.at(id).spec;
  submit(c, std::move(batch));
}

void SchedulerSim::close(SimClient& c) {
  if (c.session == 0) return;
  scheduler_.close_session(c.session);
  orphan_tasks(c, c.session);
  c.session = 0;
  c.half_closed = false;
}

void SchedulerSim::half_close(SimClient& c) {
  if (c.session == 0 || c.half_closed) return;
  begin(Call::kOther);
  c.half_closed = true;
  scheduler_.half_close_session(c.session, out_);
  observe();
}

void SchedulerSim::hello(SimWorker& w, Running running, bool new_peer) {
  begin(Call::kHello);
  if (w.connected) removed_.push_back(index_of(w));  // the broker drops its old connection
  if (new_peer || w.peer.empty()) {
    w.peer = absl::StrCat(w.name, "#", ++w.connections);
    peer_owner_[w.peer] = index_of(w);
  }
  if (running == Running::kDrop) w.held.clear();  // it killed what it ran
  w.waiting.clear();   // what it still holds counts as started: see below
  w.replaced.clear();  // the broker's phantoms of them go with its old connection
  uint32_t holding = uint32_t(std::min<size_t>(w.held.size(), w.capacity()));
  uint32_t credit =
      w.greedy ? uint32_t(rng_.below(3 * w.capacity() + 1)) : w.capacity() - holding;
  WorkerMessage msg = hello_frame(w, credit, running == Running::kClaim);
  w.claimed = uint32_t(msg.hello().running_size());
  if (w.claimed > 0) ++counts_["hello-claiming-tasks"];
  if (running == Running::kClaim) {
    // Whether the broker still leased it to the old connection (then handed over with
    // its time limit) or had re-queued it (then leased again without one) is the
    // broker's view, which the model does not track: the lease may last.
    // Counted as started, all of them: the broker starts those it keeps waiting no later.
    for (auto& [id, held] : w.held) {
      held.lease_ends_ms = std::numeric_limits<int64_t>::max();
      held.waiting = false;
    }
  }
  w.connected = true;
  w.needs_hello = false;
  w.silent = false;
  w.draining = false;  // a hello starts afresh (a restarted process)
  w.outstanding = credit;
  w.last_frame_ms = now();
  added_.push_back(index_of(w));
  scheduler_.worker_message(w.peer, &msg, out_);
  observe();
  if (!welcomed_) fail(absl::StrCat(w.name, " got no Welcome"));
}

void SchedulerSim::finish(SimWorker& w, bool everything) {
  if (w.silent || w.peer.empty()) return;
  begin(Call::kOther);
  WorkerMessage msg = worker_frame();
  shoal::v1::ResultBatch* batch = msg.mutable_results();
  if (!w.replaced.empty()) {  // the oldest copies end first
    for (TaskResult& r : w.replaced) *batch->add_results() = std::move(r);
    w.replaced.clear();
    start_waiting(w);
  }
  std::vector<std::string> done;
  for (const auto& [id, held] : w.held) {
    if (everything || rng_.chance(40)) done.push_back(id);
  }
  for (const std::string& id : done) {
    std::string token = absl::StrCat("[r", ++report_count_, "]");
    reports_[token] = id;
    TaskResult r = random_result(rng_, tasks_.at(id).spec, w.held[id], token, everything);
    drop_held(w, id);
    w.reported.push_back(r);
    if (w.reported.size() > 8) w.reported.erase(w.reported.begin());
    *batch->add_results() = std::move(r);
  }
  if (!everything && !w.reported.empty() && rng_.chance(10)) {
    *batch->add_results() = rng_.pick(w.reported);  // reported twice
  }
  batch->set_credit(credit_to_grant(w));
  send(w, msg);
}

void SchedulerSim::grant(SimWorker& w) {
  if (w.silent || w.peer.empty()) return;
  begin(Call::kOther);
  WorkerMessage msg = worker_frame();
  msg.mutable_credit()->set_credit(credit_to_grant(w));
  send(w, msg);
}

void SchedulerSim::heartbeat(SimWorker& w) {
  if (w.silent || w.peer.empty()) return;
  begin(Call::kOther);
  WorkerMessage msg = worker_frame();
  msg.mutable_heartbeat()->set_sent_unix_ms(uint64_t(now()));
  send(w, msg);
}

void SchedulerSim::wake(SimWorker& w) {
  if (!w.silent) return;
  w.silent = false;
  // Whatever it sends first tells it whether the broker still knows it.
  if (rng_.chance(50)) {
    finish(w, false);
  } else {
    heartbeat(w);
  }
  if (w.needs_hello) {
    hello(w, rng_.chance(70) ? Running::kClaim : Running::kDrop, /*new_peer=*/rng_.chance(60));
  }
}

void SchedulerSim::disconnect(SimWorker& w, bool bye) {
  if (!w.connected || w.silent) return;
  begin(Call::kOther);
  removed_.push_back(index_of(w));
  w.connected = false;
  w.needs_hello = true;
  if (bye) {
    WorkerMessage msg = worker_frame();
    msg.mutable_bye()->set_reason("SIGTERM");
    send(w, msg);
  } else {
    scheduler_.worker_disconnected(w.peer, out_);
    observe();
  }
}

void SchedulerSim::start_draining(SimWorker& w) {
  if (!w.connected || w.silent) return;
  begin(Call::kOther);
  w.draining = true;
  w.outstanding = 0;  // the broker drops its credit; it grants none any more
  WorkerMessage msg = worker_frame();
  msg.mutable_bye()->set_reason("SIGTERM");
  msg.mutable_bye()->set_draining(true);
  send(w, msg);
}

void SchedulerSim::undeliverable() {
  if (sent_.empty()) return;  // the last call sent no frame
  Sent failed = rng_.pick(sent_);
  begin(Call::kOther);
  SimWorker& w = workers_[peer_owner_.at(failed.peer)];
  if (w.connected && w.peer == failed.peer) {
    w.connected = false;  // the broker takes it for closed (or holds it: never in the sim)
    w.needs_hello = true;
    removed_.push_back(index_of(w));
  }
  // None of its tasks arrived: the worker holds none of them, and the broker may send
  // each again with the same attempt.
  for (const auto& [id, attempt] : failed.tasks) {
    drop_held(w, id);
    tasks_.at(id).last_attempt = int(attempt) - 1;
  }
  ++counts_["undeliverable"];
  counts_["undelivered-tasks"] += failed.tasks.size();
  std::vector<UndeliveredSend> sends = {UndeliveredSend{failed.peer, failed.leases}};
  size_t returned = scheduler_.undeliverable(sends, out_);
  observe();
  if (returned != failed.tasks.size()) {
    fail(absl::StrCat(returned, " of the ", failed.tasks.size(), " tasks sent to ", failed.peer,
                      " went back to their queues"));
  }
  // Not a run: no retry spent, and never failed for it. Queued again, it may end
  // NOT_REGISTERED as any queued task does when its queue's last worker able to run it
  // goes (this very one).
  for (const auto& [id, attempt] : failed.tasks) {
    TaskRef ref;
    const TaskRecord* rec = store_.find(id, &ref) ? &store_.get(ref) : nullptr;
    TaskResult ended;
    if (rec != nullptr && rec->phase == TaskPhase::kDone) ended.ParseFromString(rec->result);
    if (rec == nullptr || rec->attempt != attempt ||
        (rec->phase == TaskPhase::kDone &&
         ended.failure().kind() != shoal::v1::ERROR_KIND_NOT_REGISTERED)) {
      fail(absl::StrCat(id, ", sent as attempt ", attempt, " and not delivered, is ",
                        rec == nullptr ? "unknown"
                                       : absl::StrCat("in phase ", int(rec->phase), " at attempt ",
                                                      rec->attempt, " ", ended.ShortDebugString())));
    }
  }
}

void SchedulerSim::advance_time(int64_t ms) {
  while (ms > 0 && !failed_) {
    // Small increments: workers that are up send a heartbeat after a period without
    // frames, as real ones do, so only the silent ones are declared lost.
    int64_t d = std::min<int64_t>(ms, 700);
    ms -= d;
    for (SimWorker& w : workers_) {
      if (w.connected && !w.silent && now() - w.last_frame_ms >= 1000) heartbeat(w);
    }
    clock_.advance_ms(d);
    begin(Call::kOther);
    for (SimWorker& w : workers_) {
      if (w.connected && now() - w.last_frame_ms > kSilenceMs) {
        w.connected = false;
        w.needs_hello = true;
        removed_.push_back(index_of(w));
        ++counts_["silent-lost"];
      }
    }
    // The broker sleeps until next_deadline_ms(): before it, tick() must find nothing.
    int64_t next = scheduler_.next_deadline_ms();
    uint64_t retained = scheduler_.stats().results_retained();
    last_tick_ms_ = now();
    scheduler_.tick(out_);
    if (now() < next && (!out_.empty() || !removed_.empty() ||
                         scheduler_.stats().results_retained() != retained)) {
      fail(absl::StrCat("tick() at ", now(), " had work, but next_deadline_ms() was ", next));
    }
    observe();
    for (const auto& [token, waiter] : waiters_) {  // scheduler.h: "or after wait_ms"
      if (waiter.wait_ms > 0 && waiter.deadline_ms <= now()) {
        fail(absl::StrCat("get_result(", waiter.id, ", wait_ms ", waiter.wait_ms,
                          ") unanswered after its wait"));
      }
    }
  }
}

// Every worker comes back and finishes what it holds, a worker able to run anything
// joins, every client watches what it waits for: every accepted task must end. Then,
// past the retention, the broker must hold nothing.
void SchedulerSim::drain() {
  what_ = "drain";
  workers_.push_back(sweeper());
  worker_by_name_["sweeper"] = index_of(workers_.back());
  for (SimWorker& w : workers_) w.silent = false;
  for (int round = 0; !failed_; ++round) {
    ++step_;
    if (round == kDrainRounds) {
      std::vector<std::string> stuck;  // a few, with their state in the broker
      for (const SimClient& c : clients_) {
        for (const std::string& id : unresolved(c)) {
          TaskRef ref;
          bool known = store_.find(id, &ref);
          if (stuck.size() < 5) {
            stuck.push_back(absl::StrCat(id, " (phase ", known ? int(store_.get(ref).phase) : -1,
                                         ")"));
          }
        }
      }
      return fail(absl::StrCat("the drain did not end: ", accepted_count_ - resolved_,
                               " tasks unresolved, e.g. ", absl::StrJoin(stuck, ", ")));
    }
    for (SimClient& c : clients_) {
      if (c.session == 0 || (round == 0 && !c.half_closed)) {
        reopen(c, /*recover=*/false);
        std::vector<std::string> waiting = unresolved(c);
        if (!waiting.empty()) watch(c, waiting);
      }
      if (!c.half_closed && !c.retry.empty()) {
        Tasks batch;
        for (const std::string& id : c.retry) {
          if (resendable(tasks_.at(id))) *batch.Add() = tasks_.at(id).spec;
        }
        c.retry.clear();
        submit(c, std::move(batch));
      }
    }
    for (SimWorker& w : workers_) {
      if (w.connected) {
        finish(w, /*everything=*/true);
      } else {
        hello(w, Running::kClaim, /*new_peer=*/true);
      }
    }
    advance_time(300);
    after_step();
    bool retries_left = false;
    for (const SimClient& c : clients_) retries_left |= !c.retry.empty();
    if (resolved_ == accepted_count_ && !retries_left) break;
  }
  advance_time(5000);  // GetResult calls still waiting time out
  if (!waiters_.empty()) fail(absl::StrCat(waiters_.size(), " GetResult calls never answered"));
  shoal::v1::Stats st = scheduler_.stats();
  if (st.queued() != 0 || st.running() != 0 || st.completed() != accepted_count_) {
    fail(absl::StrCat("after the drain: ", st.queued(), " queued, ", st.running(),
                      " running, ", st.completed(), " completed of ", accepted_count_));
  }
  advance_time(sim_options(config_).result_ttl_ms + 1000);
  st = scheduler_.stats();
  if (st.results_retained() != 0 || store_.size() != 0) {
    fail(absl::StrCat("past the retention: ", st.results_retained(), " results retained, ",
                      store_.size(), " records in the store"));
  }
}

}  // namespace shoal::broker::sim
