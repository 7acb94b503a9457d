// A simulator of the scheduler (ARCHITECTURE.md: "driven by a simulator with thousands
// of fake workers and faults"). A seeded generator drives a real Scheduler and
// InMemoryTaskStore on a fake clock through random steps: submissions (with duplicate
// ids and invalid tasks), results (with duplicates, late ones and crash reports),
// credits, heartbeats, workers falling silent, disconnecting and saying hello again,
// cancels, GetResult calls, watches, sessions ending and reopening, time passing. It
// reads every Actions list and checks, after every step, what users rely on (API.md §8
// "Remote semantics"); a failure names the seed and the step, which replay the run.
#include <cstdlib>
#include <iostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/scheduler.h"
#include "gtest/gtest.h"
#include "scheduler_sim.h"

namespace shoal::broker::sim {
namespace {

using shoal::v1::ErrorKind;
using shoal::v1::Task;
using shoal::v1::TaskResult;
using shoal::v1::WorkerMessage;
using Tasks = google::protobuf::RepeatedPtrField<Task>;

constexpr int64_t kSilenceMs = 3000;  // heartbeat_ms x liveness in sim_options()
constexpr int kDrainRounds = 2000;

class SchedulerSim {
 public:
  explicit SchedulerSim(SimConfig config);

  // Runs the random steps, then lets every worker finish and time pass the retention.
  // Returns false after the first broken invariant, which it reports with ADD_FAILURE,
  // naming the seed and the step.
  bool run();
  // What happened, to judge the coverage of a run.
  std::string summary() const;

 private:
  // The kind of scheduler call being observed, which decides what it may produce.
  enum class Call { kOther, kSubmit, kResend, kHello };
  // What a worker does with the tasks it holds when it says hello again.
  enum class Running { kClaim, kKeepQuiet, kDrop };
  struct Waiter {
    std::string id;
    uint32_t wait_ms;
    int64_t deadline_ms;
  };

  // --- Steps ---------------------------------------------------------------------------
  void random_step();
  void submit_random(SimClient& c);
  void submit(SimClient& c, Tasks batch);
  void cancel(SimClient& c);
  void get_result(SimClient& c);
  void watch(SimClient& c, const std::vector<std::string>& ids);
  void reopen(SimClient& c, bool recover);
  void close(SimClient& c);
  void half_close(SimClient& c);
  void hello(SimWorker& w, Running running, bool new_peer);
  void finish(SimWorker& w, bool everything);
  void grant(SimWorker& w);
  void heartbeat(SimWorker& w);
  void wake(SimWorker& w);
  void disconnect(SimWorker& w, bool bye);
  void advance_time(int64_t ms);
  void drain();

  // --- Driving and observing the scheduler --------------------------------------------
  void begin(Call kind);
  void send(SimWorker& w, WorkerMessage& msg);
  void observe();
  void on_result(SimClient& c, SessionId s, const TaskResult& r);
  void on_reply(const ResultReply& reply);
  void on_outcome(SimTask& t, const TaskResult& r);
  void check_first_outcome(const SimTask& t, const TaskResult& r);
  void on_task_sent(SimWorker& w, const std::string& peer, const Task& task);
  void after_step();
  void check_counters();
  void check_workers();
  void fail(std::string_view what);

  // --- The model -----------------------------------------------------------------------
  int64_t now() const { return clock_.now_ms(); }
  SimTask* find_accepted(const std::string& id);
  // True once the broker has dropped the result of `t`: a tick came after the retention
  // that started with its first delivery (the memory cap is never reached here).
  bool expired(const SimTask& t) const {
    return t.delivered_ms >= 0 &&
           last_tick_ms_ >= t.delivered_ms + sim_options(config_).result_ttl_ms;
  }
  // The scheduler sends the result of `t` to `s` from now on (scheduler.h: a known id
  // re-attaches the session).
  void attach(SimTask& t, SessionId s);
  std::string pick_id(SimClient& c);
  std::vector<std::string> unresolved(const SimClient& c) const;
  bool unrunnable(const SimTask& t) const;
  uint32_t credit_to_grant(SimWorker& w);
  // How many tasks `w` holds that the broker may still lease to it: not past the time
  // limit + grace at the last tick.
  size_t leasable(const SimWorker& w) const;
  int index_of(const SimWorker& w) const { return int(&w - workers_.data()); }
  size_t connected_count() const;

  SimConfig config_;
  Rng rng_;
  FakeClock clock_;
  InMemoryTaskStore store_;
  Scheduler scheduler_;
  Actions out_;

  std::vector<SimWorker> workers_;
  std::vector<SimClient> clients_;
  std::unordered_map<std::string, SimTask> tasks_;  // by id (valid tasks only)
  std::unordered_map<std::string, int> peer_owner_;  // every peer ever -> worker index
  std::unordered_map<std::string, int> worker_by_name_;
  std::unordered_map<SessionId, int> session_owner_;  // -> client index
  std::unordered_map<SessionId, int64_t> pending_;  // unresolved tasks attached per session
  std::unordered_map<std::string, std::string> reports_;  // token -> id
  std::map<uint64_t, Waiter> waiters_;  // GetResult calls not answered yet, by token
  SessionId next_session_ = 1;
  uint64_t next_token_ = 0;
  int64_t last_tick_ms_ = 0;

  // The call being observed.
  Call kind_ = Call::kOther;
  std::vector<int> added_, removed_;  // worker connections it adds / ends
  absl::flat_hash_set<std::string> fresh_;  // ids first accepted by it
  absl::flat_hash_set<std::string> results_now_;
  std::vector<std::string> seen_accepted_, seen_invalid_, seen_exhausted_, seen_unknown_;
  bool welcomed_ = false;

  // Where we are, for failure messages; and counts for summary().
  int step_ = 0;
  std::string what_ = "start";
  bool failed_ = false;
  uint64_t accepted_count_ = 0, resolved_ = 0, dispatched_ = 0, report_count_ = 0;
  std::map<std::string, uint64_t> counts_;  // events worth knowing a run exercised
  uint64_t max_queued_seen_ = 0;
};

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
  } else if (roll < 73) {
    what_ = "time passes";
    advance_time(1 + int64_t(rng_.below(300)));
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
    what_ = worker + " says bye";
    disconnect(w, /*bye=*/true);
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
      if (!expired(t)) *batch.Add() = t.spec;  // an expired id would be a new task
    } else if (roll < 8 && !batch.empty()) {  // twice in one batch
      Task again = batch.Get(int(rng_.below(batch.size())));
      *batch.Add() = std::move(again);
    } else if (roll < 25 && !c.retry.empty()) {  // rejected for backpressure before
      const SimTask& t = tasks_.at(c.retry.back());
      c.retry.pop_back();
      if (!t.accepted) *batch.Add() = t.spec;  // else a later submission got it in
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
  // Predict the answer: invalid tasks rejected one by one (task.proto), known ids
  // accepted again, new ones accepted while fewer than max_queued tasks are queued.
  std::vector<std::string> accepted, invalid, exhausted;
  uint64_t queued = scheduler_.stats().queued();
  for (const Task& task : batch) {
    if (task.id().empty() || task.name().empty() || task.priority() > 9 ||
        task.args().size() > sim_options(config_).max_message_bytes) {
      invalid.push_back(task.id());
      continue;
    }
    SimTask& t = tasks_.at(task.id());
    if (expired(t)) {  // the broker would take it for a new task
      return fail(absl::StrCat("simulator error: ", t.spec.id(), " submitted after it expired"));
    }
    if (!t.accepted) {
      if (queued >= config_.max_queued) {
        exhausted.push_back(task.id());
        continue;
      }
      ++queued;
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
  if (seen_accepted_ != accepted) {
    fail(absl::StrCat("Accepted [", absl::StrJoin(seen_accepted_, ","), "], expected [",
                      absl::StrJoin(accepted, ","), "] (rejected [",
                      absl::StrJoin(seen_invalid_, ","), "] as invalid, [",
                      absl::StrJoin(seen_exhausted_, ","), "] for backpressure)"));
  }
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
  std::string id = pick_id(c);
  SimTask* t = find_accepted(id);
  bool gone = t == nullptr || expired(*t);
  bool ended = t != nullptr && t->outcome.has_value();
  shoal::v1::CancelResponse response = scheduler_.cancel(id, out_);
  if (response.cancelled() && t != nullptr) t->cancelled = true;  // before its result shows
  if (response.cancelled()) ++counts_["cancelled"];
  observe();
  auto state = response.state();
  std::string answer = absl::StrCat("cancel(", id, ") answered ", shoal::v1::TaskState_Name(state),
                                    response.cancelled() ? ", cancelled" : "");
  if (gone) {
    if (state != shoal::v1::TASK_STATE_UNKNOWN || response.cancelled()) {
      fail(absl::StrCat(answer, ", but the broker no longer knows it"));
    }
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
  std::vector<std::string> unknown, known_results;
  for (const std::string& id : ids) {
    *field.Add() = id;
    SimTask* t = find_accepted(id);
    if (t == nullptr || expired(*t)) {
      unknown.push_back(id);
      continue;
    }
    if (t->outcome.has_value()) known_results.push_back(id);
    attach(*t, c.session);
  }
  scheduler_.watch(c.session, field, out_);
  observe();
  if (seen_unknown_ != unknown) {
    fail(absl::StrCat("watch answered Unknown [", absl::StrJoin(seen_unknown_, ","),
                      "], expected [", absl::StrJoin(unknown, ","), "]"));
  }
  for (const std::string& id : known_results) {
    if (!results_now_.contains(id)) fail(absl::StrCat("watch did not resend the result of ", id));
  }
}

void SchedulerSim::reopen(SimClient& c, bool recover) {
  if (c.session != 0) scheduler_.close_session(c.session);  // its stream ends first
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
  if (how < 6) return watch(c, waiting);
  Tasks batch;
  for (const std::string& id : waiting) *batch.Add() = tasks_.at(id).spec;
  submit(c, std::move(batch));
}

void SchedulerSim::close(SimClient& c) {
  if (c.session == 0) return;
  scheduler_.close_session(c.session);
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
    for (auto& [id, held] : w.held) held.lease_ends_ms = std::numeric_limits<int64_t>::max();
  }
  w.connected = true;
  w.needs_hello = false;
  w.silent = false;
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
  std::vector<std::string> done;
  for (const auto& [id, held] : w.held) {
    if (everything || rng_.chance(40)) done.push_back(id);
  }
  for (const std::string& id : done) {
    std::string token = absl::StrCat("[r", ++report_count_, "]");
    reports_[token] = id;
    TaskResult r = random_result(rng_, tasks_.at(id).spec, w.held[id], token, everything);
    w.held.erase(id);
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
          if (!tasks_.at(id).accepted) *batch.Add() = tasks_.at(id).spec;
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
    if (!send.task_batch.empty()) {
      shoal::v1::BrokerMessage frame;
      if (!with_tasks.insert(send.peer).second) {
        fail(absl::StrCat("two task batches to ", send.peer, " in one event"));
      } else if (!frame.ParseFromString(send.task_batch.frame()) || frame.version() != 1) {
        fail(absl::StrCat("an undecodable task batch to ", send.peer));
      }
      for (const Task& task : frame.tasks().tasks()) on_task_sent(w, send.peer, task);
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
  t.delivered_ms = now();
  --pending_[t.session];
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
  int64_t lease_ends_ms = task.time_limit_ms() == 0
                              ? std::numeric_limits<int64_t>::max()
                              : now() + int64_t(task.time_limit_ms()) +
                                    sim_options(config_).time_limit_grace_ms;
  w.held[task.id()] = Held{task.lease(), task.attempt(), lease_ends_ms};
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
    if (!tasks_.at(id).outcome.has_value()) ids.push_back(id);
  }
  return ids;
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
  if (w.greedy) return uint32_t(rng_.below(3 * w.capacity() + 1));
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

size_t SchedulerSim::connected_count() const {
  return size_t(std::count_if(workers_.begin(), workers_.end(),
                              [](const SimWorker& w) { return w.connected; }));
}

// --- Tests ---------------------------------------------------------------------------

// Runs `config` with each seed, stopping at the first failure (enough to replay it).
void run_seeds(SimConfig config, const std::vector<uint64_t>& seeds) {
  for (uint64_t seed : seeds) {
    config.seed = seed;
    SchedulerSim sim(config);
    bool ok = sim.run();
    if (std::getenv("SHOAL_SIM_VERBOSE") != nullptr) std::cout << sim.summary() << "\n";
    if (!ok) return;
  }
}

TEST(SchedulerSimTest, SmallClustersKeepEveryInvariant) {
  run_seeds({.workers = 6, .clients = 3, .steps = 3000}, {1, 2, 3, 4});
}

TEST(SchedulerSimTest, MediumClusterKeepsEveryInvariant) {
  run_seeds({.workers = 60, .clients = 6, .steps = 3000, .max_batch = 32, .max_queued = 600,
             .check_workers_every = 5},
            {11, 12});
}

TEST(SchedulerSimTest, ThousandWorkersKeepEveryInvariant) {
  run_seeds({.workers = 1000, .clients = 10, .steps = 2500, .max_batch = 400,
             .max_queued = 5000, .check_workers_every = 50},
            {101});
}

// More seeds on request (with --gtest_also_run_disabled_tests): SHOAL_SIM_SEEDS seeds
// from SHOAL_SIM_FIRST_SEED, with SHOAL_SIM_WORKERS workers.
TEST(SchedulerSimTest, DISABLED_ManySeeds) {
  auto env = [](const char* name, uint64_t otherwise) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::strtoull(value, nullptr, 10) : otherwise;
  };
  std::vector<uint64_t> seeds;
  for (uint64_t i = 0; i < env("SHOAL_SIM_SEEDS", 100); ++i) {
    seeds.push_back(env("SHOAL_SIM_FIRST_SEED", 1000) + i);
  }
  int workers = int(env("SHOAL_SIM_WORKERS", 8));
  run_seeds({.workers = workers, .clients = 3, .steps = 3000,
             .max_queued = 300 + 5 * uint64_t(workers), .check_workers_every = 1 + workers / 20},
            seeds);
}

}  // namespace
}  // namespace shoal::broker::sim
