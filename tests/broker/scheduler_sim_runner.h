#pragma once
// The scheduler simulator (ARCHITECTURE.md: "driven by a simulator with thousands of
// fake workers and faults"): SchedulerSim drives a real Scheduler and InMemoryTaskStore
// on a fake clock with the world of scheduler_sim.h and checks, after every step, what
// users rely on (API.md §8 "Remote semantics"). Its random steps are in
// scheduler_sim_steps.cc; how it observes the scheduler, its checks and its model are in
// scheduler_sim_checks.cc; the tests are in scheduler_sim_test.cc.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "broker/scheduler.h"
#include "scheduler_sim.h"

namespace shoal::broker::sim {

using Task = shoal::v1::Task;
using TaskResult = shoal::v1::TaskResult;
using WorkerMessage = shoal::v1::WorkerMessage;
using Tasks = google::protobuf::RepeatedPtrField<Task>;

inline constexpr int64_t kSilenceMs = 3000;  // heartbeat_ms x liveness in sim_options()
inline constexpr int kDrainRounds = 2000;

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
  // What the last call sent to one peer: the leases and (id, attempt) of its tasks.
  struct Sent {
    std::string peer;
    std::vector<uint64_t> leases;
    std::vector<std::pair<std::string, uint32_t>> tasks;
  };
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
  // Bye{draining}: it stops taking tasks and finishes those it holds (SIGTERM).
  void start_draining(SimWorker& w);
  // The frames the last call sent to one of its peers could not be sent: that
  // connection is gone, and the tasks among them never reached the worker.
  void undeliverable();
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
  // that started with its first delivery at the latest (a result nobody took starts it
  // at its end, before), or an answer showed it gone (the memory cap is never reached
  // here).
  bool expired(const SimTask& t) const {
    return t.dropped || (t.delivered_ms >= 0 &&
                         last_tick_ms_ >= t.delivered_ms + sim_options(config_).result_ttl_ms);
  }
  // True while the broker may or may not hold the result of `t`: it ended at a time the
  // model does not know, after its session closed, and the ttl from then may have passed.
  // Calls accept either answer and learn from it (learn_dropped); no resubmission.
  bool uncertain(const SimTask& t) const {
    return !expired(t) && t.orphaned_ms >= 0 &&
           last_tick_ms_ >= t.orphaned_ms + sim_options(config_).result_ttl_ms;
  }
  // An answer showed the result of `t` gone: it ended, unseen by its client if it had no
  // outcome.
  void learn_dropped(SimTask& t);
  // Session `s` of client `c` closes: its tasks without a result become orphans.
  void orphan_tasks(const SimClient& c, SessionId s);
  // Tasks `ids` were attached to an open session: those still without an outcome will
  // be delivered when they end, so they are orphans no longer.
  void adopt(const std::vector<std::string>& ids);
  // The scheduler sends the result of `t` to `s` from now on (scheduler.h: a known id
  // re-attaches the session).
  void attach(SimTask& t, SessionId s);
  std::string pick_id(SimClient& c);
  // Ids of `c` whose result it has not seen and the broker still knows.
  std::vector<std::string> unresolved(const SimClient& c) const;
  // True if `t`, rejected as full before, may be submitted again: the broker has not
  // accepted it, or holds it as a remembered cancel (the resend the cancel overtook).
  bool resendable(const SimTask& t) const {
    return !t.accepted || (t.remembered && !expired(t) && !uncertain(t));
  }
  // Cancel with even_if_unknown of `id`, which the broker does not know: the model of
  // what it remembers.
  void remember_cancel(SimClient& c, const std::string& id);
  bool unrunnable(const SimTask& t) const;
  uint32_t credit_to_grant(SimWorker& w);
  // How many tasks `w` holds that the broker may still lease to it: not past the time
  // limit + grace at the last tick.
  size_t leasable(const SimWorker& w) const;
  // Task `id` left what `w` holds (reported, or never arrived): a process it ran on
  // is free for the next task waiting.
  void drop_held(SimWorker& w, const std::string& id);
  // The tasks waiting on `w` start while it has processes free (as its results tell the
  // broker): their time limits count from now.
  void start_waiting(SimWorker& w);
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
  std::vector<Sent> sent_;  // by the call being observed, one entry per peer

  // Where we are, for failure messages; and counts for summary().
  int step_ = 0;
  std::string what_ = "start";
  bool failed_ = false;
  uint64_t accepted_count_ = 0, resolved_ = 0, dispatched_ = 0, report_count_ = 0;
  std::map<std::string, uint64_t> counts_;  // events worth knowing a run exercised
  uint64_t max_queued_seen_ = 0;
};

}  // namespace shoal::broker::sim
