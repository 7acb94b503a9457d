// A seeded random walk of the scheduler over a durable store, crashed and restarted at
// random: after every restart, whatever was committed (acceptances, results and
// cancellations, of unknown ids too) is known again, with the same outcome; a submission
// of an id cancelled before it arrived never runs; and every accepted task ends
// exactly once when workers serve it. A failure names the seed and the step and prints
// the steps of its run, which replay it.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "scheduler_fixture.h"
#include "scheduler_sim.h"  // sim::Rng: a seed replays the same run everywhere
#include "tests/testutil/temp_dir.h"

namespace shoal::broker {
namespace {

using shoal::v1::TaskResult;

constexpr uint64_t kSeeds = 40;
constexpr int kSteps = 300;
const std::string kSecondQueue = "q2";

// What a task ended with, as a restart must keep it: its value, or its failure's kind.
std::string outcome_of(const TaskResult& r) {
  if (r.has_failure()) return shoal::v1::ErrorKind_Name(r.failure().kind());
  return r.items_size() == 0 ? "no items" : "value " + r.items(0).value();
}

// What the client knows of one task id.
struct Seen {
  bool known = false;                  // accepted (or restored) by the broker
  std::optional<std::string> outcome;  // its result, once it reached the session
  int64_t expires_ms = 0;              // with an outcome: when the broker forgets it
  bool forgotten = false;              // its result expired (it is unknown since)
  // Cancelled with even_if_unknown while unknown: its outcome is CANCELLED from then on,
  // a submission of it gets that result, and it expires one ttl after the cancel.
  bool remembered = false;
};

// A worker process: a fixed configuration; its connection comes and goes.
struct SimWorker {
  SimWorker(std::string p, std::vector<std::string> t, std::vector<std::string> q)
      : peer(std::move(p)), tasks(std::move(t)), queues(std::move(q)) {}
  std::string peer;
  std::vector<std::string> tasks;
  std::vector<std::string> queues;  // empty: the default queue
  bool connected = false;           // as list_workers() says
  std::vector<std::string> held;    // sent and not answered; kept over a broker crash
};

class SchedulerDurableFuzzTest : public SchedulerTest {
 protected:
  void TearDown() override { close_store(); }
  void restart() { restart_durable(temp_->path()); }

  // Runs `steps` random steps from `seed` on a fresh store, then restarts and drains.
  void run_seed(uint64_t seed, int steps) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    begin(seed);
    for (int step = 0; step < steps && !HasFailure(); ++step) {
      SCOPED_TRACE(absl::StrCat("seed ", seed, ", step ", step));
      log_.push_back(absl::StrCat(step, ": "));
      random_step();
    }
    if (!HasFailure()) {
      SCOPED_TRACE(absl::StrCat("seed ", seed, ", final restart and drain"));
      log_.push_back("final crash + restart, then drain");
      crash_and_restart(/*commit_first=*/false);
      if (!HasFailure()) drain();
    }
    if (HasFailure()) {
      ADD_FAILURE() << "seed " << seed << " failed; its steps:\n" << absl::StrJoin(log_, "\n");
    }
  }

  void begin(uint64_t seed) {
    close_store();
    temp_ = std::make_unique<testutil::TempDir>("shoal-durable-fuzz");
    rng_ = std::make_unique<sim::Rng>(seed);
    specs_.clear();
    seen_.clear();
    committed_.clear();
    log_.clear();
    next_id_ = 0;
    next_value_ = 0;
    // Cube tasks fail NOT_REGISTERED while "d" is the only worker of their queue.
    workers_ = {{"a", {"square", "cube"}, {}},
                {"b", {"square", "cube"}, {"default", kSecondQueue}},
                {"c", {"square", "cube"}, {kSecondQueue}},
                {"d", {"square"}, {"default", kSecondQueue}}};
    // Odd seeds: after each start, tasks no worker has registered wait a while. One seed
    // in three: results expire within a run (ticks advance 50..1549 ms).
    options_.registration_grace_ms = seed % 2 == 1 ? 2000 : 0;
    options_.result_ttl_ms = seed % 3 == 0 ? 3'000 : int64_t{1} << 50;
    restart();
  }

  void random_step() {
    uint64_t r = rng_->below(100);
    if (r < 17) {
      step_submit();
    } else if (r < 20) {
      step_resubmit();
    } else if (r < 27) {
      step_hello();
    } else if (r < 45) {
      step_report("value");
    } else if (r < 49) {
      step_report("error");
    } else if (r < 55) {
      step_report("crash");
    } else if (r < 59) {
      step_leave();
    } else if (r < 65) {
      step_cancel();
    } else if (r < 73) {
      log_.back() += "heartbeats";
      for (SimWorker& w : workers_) {
        if (w.connected) heartbeat(w.peer);
      }
    } else if (r < 83) {
      int64_t ms = int64_t(50 + rng_->below(1500));
      log_.back() += absl::StrCat("tick +", ms, " ms");
      tick_after(ms);
      absorb();
      check_expiry();
    } else if (r < 95) {
      log_.back() += "commit";
      commit();
    } else {
      crash_and_restart(/*commit_first=*/rng_->chance(50));
    }
    absorb();
    sync_workers();
  }

  // --- Steps ---------------------------------------------------------------------------
  void step_submit() {
    std::vector<TaskSpec> specs;
    log_.back() += "submit";
    for (uint64_t n = 1 + rng_->below(5); n > 0; --n) {
      TaskSpec t = T(absl::StrCat("t", ++next_id_));
      if (rng_->chance(20)) t.name("cube");
      if (rng_->chance(25)) t.queue(kSecondQueue);
      if (rng_->chance(40)) t.priority(uint32_t(1 + rng_->below(9)));
      if (rng_->chance(50)) t.max_retries(int32_t(rng_->below(3)));
      if (rng_->chance(15)) t.time_limit_ms(500 + rng_->below(2500));
      log_.back() += absl::StrCat(" ", t.id_, "(", t.name_, " q=", t.queue_, " p=", t.priority_,
                                  " r=", t.max_retries_, " tl=", t.time_limit_ms_, ")");
      specs_[t.id_] = t;
      specs.push_back(std::move(t));
    }
    submit(specs);
  }

  // The client submits again a task whose result it has not seen: one the broker lost in
  // a crash, or forgot, is a new task; a pending one stays the same task.
  // A remembered cancel's id submitted again is the resend the cancel overtook.
  void step_resubmit() {
    std::vector<std::string> unanswered;
    for (const auto& [id, s] : seen_) {
      if ((!s.outcome || s.remembered) && specs_.contains(id)) unanswered.push_back(id);
    }
    if (unanswered.empty()) {
      log_.back() += "resubmit: nothing unanswered";
      return;
    }
    const std::string& id = unanswered[rng_->below(unanswered.size())];
    log_.back() += absl::StrCat("resubmit ", id,
                                seen_[id].remembered ? " (cancelled before)"
                                : seen_[id].known    ? " (pending)"
                                                     : " (unknown)");
    seen_[id].forgotten = false;
    submit({specs_.at(id)});
  }

  // One of the workers that `fits`, at random; nullptr if none does.
  template <typename Fits>
  SimWorker* random_worker(Fits fits) {
    std::vector<SimWorker*> fit;
    for (SimWorker& w : workers_) {
      if (fits(w)) fit.push_back(&w);
    }
    return fit.empty() ? nullptr : fit[rng_->below(fit.size())];
  }

  void step_hello() {
    SimWorker& w = workers_[rng_->below(workers_.size())];
    uint32_t slots = uint32_t(1 + rng_->below(3));
    log_.back() += absl::StrCat("hello ", w.peer, " slots=", slots);
    w.held.clear();  // it says nothing runs: a replaced connection's tasks are lost
    hello(w.peer, w.tasks, slots, w.queues);
  }

  // A worker (connected, or holding tasks from before a crash or a lost connection)
  // answers one task it was sent: with a value, a task error, or its child's crash.
  void step_report(const std::string& how) {
    SimWorker* holder = random_worker([](const SimWorker& w) { return !w.held.empty(); });
    if (holder == nullptr) {
      log_.back() += "report: nothing held";
      return;
    }
    SimWorker& w = *holder;
    size_t i = rng_->below(w.held.size());
    std::string id = w.held[i];
    w.held.erase(w.held.begin() + ptrdiff_t(i));
    log_.back() += absl::StrCat(w.connected ? "" : "stale ", "report ", w.peer, " ", id, " ", how);
    if (how == "value") {
      std::string value = absl::StrCat("v", id, ".", ++next_value_);
      log_.back() += " " + value;
      report(w.peer, id, value);
    } else if (how == "error") {
      report(w.peer, id, "", shoal::v1::ERROR_KIND_REMOTE, /*failed=*/true);
    } else {
      report(w.peer, id, "", shoal::v1::ERROR_KIND_WORKER_LOST, /*failed=*/true);
    }
  }

  void step_leave() {
    SimWorker* connected = random_worker([](const SimWorker& w) { return w.connected; });
    if (connected == nullptr) {
      log_.back() += "leave: nobody connected";
      return;
    }
    SimWorker& w = *connected;
    w.held.clear();
    if (rng_->chance(50)) {
      log_.back() += "disconnect " + w.peer;
      scheduler_->worker_disconnected(w.peer, out_);
    } else {
      log_.back() += "bye " + w.peer;
      bye(w.peer);
    }
  }

  // A cancel, half of them even_if_unknown: of an unknown id (unsubmitted, forgotten or
  // lost in a crash) that one is remembered, as a task that ended CANCELLED.
  void step_cancel() {
    std::string id = absl::StrCat("t", 1 + rng_->below(next_id_ + 1));  // may be unsubmitted
    bool even_if_unknown = rng_->chance(50);
    bool was_known = seen_[id].known;
    shoal::v1::CancelResponse response = scheduler_->cancel(id, even_if_unknown, out_);
    bool cancelled = response.cancelled();
    log_.back() += absl::StrCat("cancel ", id, even_if_unknown ? " even if unknown" : "",
                                cancelled ? " -> cancelled" : " -> not cancelled");
    EXPECT_EQ(response.state() == shoal::v1::TASK_STATE_UNKNOWN, !was_known) << id;
    if (!was_known) {
      EXPECT_EQ(cancelled, even_if_unknown) << id;
      absorb();
      if (!cancelled) return;
      Seen& s = seen_[id];
      s = Seen{};
      s.known = true;
      s.remembered = true;
      s.outcome = "ERROR_KIND_CANCELLED";
      s.expires_ms = clock_.now_ms() + options_.result_ttl_ms;  // from the cancel
      return;
    }
    if (!cancelled) return;
    EXPECT_TRUE(seen_[id].known && !seen_[id].outcome) << "cancelled " << id << ", not pending";
    absorb();
    EXPECT_EQ(seen_[id].outcome.value_or("none"), "ERROR_KIND_CANCELLED") << id;
  }

  void commit() {
    ASSERT_TRUE(store_->commit().ok());
    committed_ = seen_;
  }

  // Crashes (after a commit, if asked), restarts, and checks that the broker knows again
  // everything committed. The client then watches every id it ever submitted, so that
  // it hears the results of restored tasks.
  void crash_and_restart(bool commit_first) {
    log_.back() += commit_first ? "commit, crash + restart" : "crash + restart";
    if (commit_first) commit();
    restart();
    if (HasFatalFailure()) return;
    for (SimWorker& w : workers_) w.connected = false;  // their `held` still run
    for (const auto& [id, c] : committed_) {
      if (c.forgotten) {
        EXPECT_EQ(get_result(id).state(), shoal::v1::TASK_STATE_UNKNOWN)
            << id << " expired before a commit, but is known again after the restart";
      }
      if (!c.known) continue;
      shoal::v1::GetResultResponse r = get_result(id);
      EXPECT_NE(r.state(), shoal::v1::TASK_STATE_UNKNOWN)
          << id << " was accepted before a commit, but is unknown after the restart";
      if (!c.outcome) continue;
      EXPECT_EQ(r.state(), shoal::v1::TASK_STATE_DONE)
          << id << " ended (" << *c.outcome << ") before a commit, but is "
          << shoal::v1::TaskState_Name(r.state()) << " after the restart";
      if (r.state() == shoal::v1::TASK_STATE_DONE) {
        EXPECT_EQ(outcome_of(r.result()), *c.outcome) << id << " came back with another outcome";
      }
    }
    google::protobuf::RepeatedPtrField<std::string> ids;
    for (auto& [id, s] : seen_) {
      *ids.Add() = id;
      bool remembered = s.remembered;
      s = Seen{};
      s.known = true;  // until the answer to the watch says otherwise
      s.remembered = remembered;
    }
    scheduler_->watch(kSession, ids, out_);
    absorb();
    for (const auto& [id, c] : committed_) {
      if (c.outcome) {
        EXPECT_EQ(seen_[id].outcome.value_or("none"), *c.outcome) << id << " as watched";
      }
    }
    committed_ = seen_;  // the restart rewrote the store with what it restored
  }

  // Once the registration grace is over, workers with every task name on both queues
  // serve everything; so do the others, and the ones holding tasks from before the crash
  // answer them.
  void drain() {
    if (options_.registration_grace_ms > 0) {  // restored tasks nobody claimed wait for its end
      for (SimWorker& w : workers_) {
        if (w.connected) heartbeat(w.peer);
      }
      absorb();
      tick_after(options_.registration_grace_ms);
      absorb();
      check_expiry();
    }
    workers_.push_back({"drain", {"square", "cube"}, {"default", kSecondQueue}});
    hello("drain", workers_.back().tasks, /*slots=*/4, workers_.back().queues);
    absorb();
    sync_workers();
    for (int round = 0; round < 1000; ++round) {
      bool answered = false;
      for (SimWorker& w : workers_) {
        while (!w.held.empty()) {
          std::string id = w.held.back();
          w.held.pop_back();
          report(w.peer, id, absl::StrCat("v", id, ".", ++next_value_));
          answered = true;
          absorb();
        }
      }
      if (!answered) break;
    }
    shoal::v1::Stats stats = scheduler_->stats();
    EXPECT_EQ(stats.queued(), 0u);
    EXPECT_EQ(stats.running(), 0u);
    for (const auto& [id, s] : seen_) {
      if (!s.known) continue;
      shoal::v1::GetResultResponse r = get_result(id);
      EXPECT_EQ(r.state(), shoal::v1::TASK_STATE_DONE) << id << " never ended";
      EXPECT_TRUE(s.outcome.has_value()) << "no result of " << id << " reached the session";
      if (s.outcome && r.state() == shoal::v1::TASK_STATE_DONE) {
        EXPECT_EQ(outcome_of(r.result()), *s.outcome) << id;
      }
    }
  }

  // --- Reading what the broker sent ----------------------------------------------------
  // Reads the actions of the last event (accepted ids, unknown ids and results to the
  // session; tasks to workers), checks that nothing ends twice or runs once ended, then
  // clears them.
  void absorb() {
    for (const SessionSend& send : out_.to_sessions) {
      const shoal::v1::ServerMessage& m = send.message;
      EXPECT_EQ(send.session, kSession);
      for (const std::string& id : m.accepted().ids()) seen_[id].known = true;
      for (const std::string& id : m.unknown().ids()) {
        seen_[id].known = false;
        seen_[id].remembered = false;  // lost in a crash: a submission of it is a new task
      }
      for (const TaskResult& r : m.results().results()) {
        Seen& s = seen_[r.id()];
        if (s.remembered && s.outcome) {  // a submission of it: it ends as the cancel said
          EXPECT_EQ(outcome_of(r), *s.outcome) << r.id();
          continue;
        }
        EXPECT_TRUE(s.known) << "a result for " << r.id() << ", which the broker does not know";
        EXPECT_FALSE(s.outcome.has_value())
            << r.id() << " ended twice: " << s.outcome.value_or("") << ", then " << outcome_of(r);
        s.outcome = outcome_of(r);
        s.expires_ms = clock_.now_ms() + options_.result_ttl_ms;  // from its delivery
      }
    }
    // Tasks go out last in every event (dispatch ends it), so a task sent must not
    // have ended in it.
    for (SimWorker& w : workers_) {
      for (const std::string& id : take_sent(w.peer)) {
        EXPECT_TRUE(seen_[id].known && !seen_[id].outcome)
            << id << " was sent to " << w.peer << " but "
            << (seen_[id].known ? "had ended: " + *seen_[id].outcome : "is not known");
        if (std::find(w.held.begin(), w.held.end(), id) == w.held.end()) w.held.push_back(id);
      }
    }
    out_.clear();
  }

  // A result is forgotten one ttl after it reached the session (or after the restart
  // that restored it), not before.
  void check_expiry() {
    for (auto& [id, s] : seen_) {
      if (!s.known || !s.outcome) continue;
      shoal::v1::GetResultResponse r = get_result(id);
      if (clock_.now_ms() < s.expires_ms) {
        EXPECT_EQ(r.state(), shoal::v1::TASK_STATE_DONE) << id << " was forgotten before its ttl";
        continue;
      }
      EXPECT_EQ(r.state(), shoal::v1::TASK_STATE_UNKNOWN) << id << " outlived its ttl";
      s = Seen{};
      s.forgotten = true;
    }
  }

  // Workers the broker lost (silent, or gone) keep what they hold, as stale.
  void sync_workers() {
    absl::flat_hash_set<std::string> live;
    shoal::v1::ListWorkersResponse listed = scheduler_->list_workers();
    for (const auto& info : listed.workers()) live.insert(info.name());
    for (SimWorker& w : workers_) w.connected = live.contains("w-" + w.peer);
  }

  std::unique_ptr<testutil::TempDir> temp_;
  std::unique_ptr<sim::Rng> rng_;
  std::map<std::string, TaskSpec> specs_;  // every id submitted, as submitted
  std::map<std::string, Seen> seen_;       // what the running broker told the client
  std::map<std::string, Seen> committed_;  // what it had told it at the last commit
  std::vector<SimWorker> workers_;
  std::vector<std::string> log_;
  uint64_t next_id_ = 0;
  uint64_t next_value_ = 0;
};

TEST_F(SchedulerDurableFuzzTest, RandomCrashesLoseNothingCommitted) {
  for (uint64_t seed = 1; seed <= kSeeds && !HasFailure(); ++seed) run_seed(seed, kSteps);
}

}  // namespace
}  // namespace shoal::broker
