#pragma once
// The world of the scheduler simulator: fake worker processes
// and clients as plain data, and the tasks and frames they produce from a seeded random
// generator. The simulator that drives a Scheduler with them and checks its invariants
// is in scheduler_sim_runner.h.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "broker/config.h"
#include "broker/task_store.h"
#include "shoal/v1/service.pb.h"
#include "shoal/v1/worker.pb.h"

namespace shoal::broker::sim {

// Size and mix of one run.
struct SimConfig {
  uint64_t seed = 1;
  int workers = 8;  // worker processes, each with one connection at a time
  int clients = 3;
  int steps = 3000;
  int max_batch = 16;           // tasks per submission
  uint64_t max_queued = 300;    // low, so that submissions meet backpressure
  int check_workers_every = 1;  // steps between list_workers() checks (O(workers) each)
};

// Short periods, so that liveness, time limits and retention all come into play within
// a few thousand steps. Arguments are 0..39 bytes: the bound on those of tasks not done
// bites about as often as max_queued.
inline SchedulerOptions sim_options(const SimConfig& config) {
  return SchedulerOptions{.heartbeat_ms = 1000, .liveness = 3, .result_ttl_ms = 20'000,
                          .max_queued = config.max_queued,
                          .max_task_bytes = config.max_queued * 24,
                          .max_message_bytes = 256,
                          .default_max_retries = 2, .time_limit_grace_ms = 2000,
                          .broker_id = "sim"};
}

inline const std::vector<std::string> kQueues = {"default", "cpu", "gpu", "io"};
inline const std::vector<std::string> kNames = {"square", "cube", "sleep", "render"};

// The simulator's only source of randomness. Its own helpers instead of
// std::uniform_int_distribution, whose output differs between standard libraries: a
// seed must replay the same run everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  uint64_t below(uint64_t n) { return n == 0 ? 0 : gen_() % n; }
  bool chance(int percent) { return below(100) < uint64_t(percent); }
  template <class T>
  const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

 private:
  std::mt19937_64 gen_;
};

// A task a client submitted, and what the simulator has learned about it.
struct SimTask {
  shoal::v1::Task spec;    // as submitted (max_retries may be -1)
  std::string queue;       // spec.queue, with "" read as "default"
  int client = 0;
  int max_retries = 0;     // as the broker resolves -1
  bool accepted = false;
  bool cancelled = false;  // cancel() answered cancelled = true
  // Cancelled with even_if_unknown while the broker did not know it (rejected as full,
  // never submitted, or expired): the broker holds it as ended CANCELLED from then on,
  // counted as accepted and resolved at once, its retention started (delivered_ms).
  bool remembered = false;
  SessionId session = 0;   // the last session that submitted or watched it: its result goes there
  int last_attempt = -1;   // highest attempt dispatched so far
  std::optional<shoal::v1::TaskResult> outcome;  // the first result a client saw
  int64_t delivered_ms = -1;  // when: the broker's retention of the result starts then
  // When its session closed while its result had not come (-1: not since it was last
  // attached to an open session). The broker keeps a result nobody took for the ttl from
  // its end, which the model cannot see: from orphaned_ms + ttl on it may be gone.
  int64_t orphaned_ms = -1;
  bool dropped = false;  // a broker's answer showed its result gone
};

// A task a worker received and has not reported.
struct Held {
  uint64_t lease = 0;
  uint32_t attempt = 0;
  // Its time limit (per item, times its items) and grace; 0: no limit.
  int64_t budget_ms = 0;
  // Behind the tasks ahead of it (the worker starts them in the order received, at most
  // `slots` at once): the broker's backstop does not count yet. It starts once a result
  // frees a process for it (SchedulerSim::start_waiting).
  bool waiting = false;
  // The first tick from then on ends the broker's lease (time limit + grace passed since
  // it started, as the model sees it: never before the broker does); a task claimed back
  // in a hello keeps it (the broker still leased it to the old connection) or gets a new
  // one from the hello (it had been re-queued); the model does not track which, and
  // lets its lease last.
  int64_t lease_ends_ms = std::numeric_limits<int64_t>::max();
};

// A worker process. Its configuration is fixed; its connections come and go, each under
// a new routing id.
struct SimWorker {
  std::string name;
  std::vector<std::string> queues;  // served ("default" when the hello lists none)
  bool hello_lists_queues = true;
  std::set<std::string> tasks;  // registered names
  uint32_t slots = 1, prefetch = 1;
  // Grants credit beyond slots x prefetch (a buggy worker): only the broker's cap holds
  // it back, so the checks of a well-behaved worker's own credit do not apply to it.
  bool greedy = false;

  std::string peer;          // current connection ("" before the first hello)
  int connections = 0;
  bool connected = false;    // the broker knows `peer` (as the simulator predicts)
  bool needs_hello = false;  // its connection ended, or the broker asked it to reconnect
  bool silent = false;       // sends nothing, so the broker will declare it lost
  // Said Bye{draining} on `peer`: it finishes what it holds, the broker sends it nothing.
  bool draining = false;
  int64_t last_frame_ms = 0;  // the broker's last frame from `peer`
  // Credit granted on `peer` and not used yet. A well-behaved worker grants against
  // what it holds (worker.proto), so the broker's credit for it always equals this.
  uint64_t outstanding = 0;
  std::map<std::string, Held> held;  // ordered: iteration must replay with the seed
  // The held tasks that wait (Held::waiting), in the order sent; those no longer held or
  // waiting as sent then are skipped. (A retry keeps the lease, a send that failed keeps
  // the attempt: the two together tell one send from another.)
  struct Waiting {
    std::string id;
    uint64_t lease;
    uint32_t attempt;
  };
  std::deque<Waiting> waiting;
  // Results of copies it still ran when it was sent the same task again (its backstop
  // passed): a worker runs both copies (each takes a process, the old one first) and
  // reports both; these go first in its next batch. Its next hello drops them.
  std::vector<shoal::v1::TaskResult> replaced;
  // Tasks its last hello said it still runs. A worker past its time limits can hold more
  // than slots x prefetch; the broker leases them all to it rather than run them twice.
  uint32_t claimed = 0;
  std::vector<shoal::v1::TaskResult> reported;  // its latest reports, to send again

  uint32_t capacity() const { return slots * std::max(1u, prefetch); }
  bool serves(std::string_view queue) const {
    return std::find(queues.begin(), queues.end(), queue) != queues.end();
  }
  bool can_run(std::string_view queue, const std::string& name) const {
    return serves(queue) && tasks.contains(name);
  }
};

// A client: one session at a time, reopened (under a new id) after it ends.
struct SimClient {
  int index = 0;
  SessionId session = 0;  // 0: none open
  bool half_closed = false;
  std::vector<std::string> ids;    // accepted, in order
  std::vector<std::string> retry;  // rejected with RESOURCE_EXHAUSTED: to submit again
  int next_id = 0;
};

// Most workers serve some of default/cpu/gpu, few serve "io", and few register
// "render": tasks wait in queues nobody serves, and fail NOT_REGISTERED in queues whose
// workers lack their name.
inline SimWorker random_worker(Rng& rng, int i) {
  SimWorker w;
  w.name = absl::StrCat("w", i);
  for (const char* q : {"default", "cpu", "gpu"}) {
    if (rng.chance(50)) w.queues.push_back(q);
  }
  if (rng.chance(5)) w.queues.push_back("io");
  if (w.queues.empty()) {
    w.queues.push_back("default");
    w.hello_lists_queues = rng.chance(50);  // an empty list means "default"
  }
  const std::pair<const char*, int> names[] = {{"square", 80}, {"cube", 70}, {"sleep", 60},
                                                {"render", 20}};
  for (auto [name, percent] : names) {
    if (rng.chance(percent)) w.tasks.insert(name);
  }
  if (w.tasks.empty()) w.tasks.insert("square");
  w.slots = 1 + uint32_t(rng.below(4));
  w.prefetch = uint32_t(rng.below(4));  // 0 counts as 1
  w.greedy = rng.chance(10);
  return w;
}

// A worker that serves every queue and name: it joins at the end so that every task can
// run.
inline SimWorker sweeper() {
  SimWorker w;
  w.name = "sweeper";
  w.queues = kQueues;
  w.tasks.insert(kNames.begin(), kNames.end());
  w.slots = 8;
  w.prefetch = 2;
  return w;
}

// A new task of client `c`, with a fresh id.
inline shoal::v1::Task random_task(Rng& rng, SimClient& c) {
  shoal::v1::Task t;
  t.set_id(absl::StrCat("c", c.index, "-", c.next_id++));
  uint64_t n = rng.below(100);
  t.set_name(n < 35 ? "square" : n < 62 ? "cube" : n < 90 ? "sleep" : "render");
  uint64_t q = rng.below(100);  // few "io": in a small cluster they wait until the end
  t.set_queue(q < 30 ? "" : q < 40 ? "default" : q < 67 ? "cpu" : q < 95 ? "gpu" : "io");
  t.set_priority(uint32_t(rng.below(10)));
  t.set_max_retries(rng.chance(40) ? -1 : int32_t(rng.below(4)));
  t.set_time_limit_ms(rng.chance(25) ? 50 + rng.below(3000) : 0);
  t.set_items(rng.chance(70) ? 0 : 1 + uint32_t(rng.below(6)));
  t.set_args(std::string(rng.below(40), char('a' + rng.below(26))));
  return t;
}

// A task the broker must reject as INVALID (and never queue).
inline shoal::v1::Task invalid_task(Rng& rng, SimClient& c) {
  shoal::v1::Task t = random_task(rng, c);
  t.set_id(absl::StrCat("c", c.index, "-bad-", c.next_id++));
  switch (rng.below(4)) {
    case 0: t.set_priority(10 + uint32_t(rng.below(5))); break;
    case 1: t.set_name(""); break;
    case 2: t.set_args(std::string(257 + rng.below(100), 'x')); break;  // over the 256 limit
    default: t.set_id(""); break;
  }
  return t;
}

inline shoal::v1::WorkerMessage worker_frame() {
  shoal::v1::WorkerMessage msg;
  msg.set_version(1);
  return msg;
}

// The hello of `w`; with `claim_running`, it lists the tasks it holds as still running.
inline shoal::v1::WorkerMessage hello_frame(const SimWorker& w, uint32_t credit,
                                            bool claim_running) {
  shoal::v1::WorkerMessage msg = worker_frame();
  shoal::v1::WorkerHello* h = msg.mutable_hello();
  h->set_name(w.name);
  if (w.hello_lists_queues) {
    for (const std::string& q : w.queues) h->add_queues(q);
  }
  for (const std::string& t : w.tasks) h->add_tasks(t);
  h->set_slots(w.slots);
  h->set_prefetch(w.prefetch);
  h->set_credit(credit);
  h->set_host("sim");
  if (claim_running) {
    for (const auto& [id, held] : w.held) h->add_running(id);
  }
  return msg;
}

// The result of one run of `task`, tagged with `token` ("[rN]", unique per report) in its
// payload or message so that an outcome can be traced back to the report it came from.
// Usually a success; else a crash (retried), an exception or a time-limit kill (final).
inline shoal::v1::TaskResult random_result(Rng& rng, const shoal::v1::Task& task,
                                           const Held& held, const std::string& token,
                                           bool success_only) {
  shoal::v1::TaskResult r;
  r.set_id(task.id());
  r.set_lease(rng.chance(5) ? 0 : held.lease);  // 0: the broker finds it by id
  uint32_t calls = std::max(1u, task.items());
  uint64_t roll = success_only ? 0 : rng.below(100);
  if (roll < 80 || (roll >= 95 && task.time_limit_ms() == 0)) {
    if (calls > 1 && rng.chance(30)) {
      for (uint32_t i = 0; i < calls; ++i) r.add_items()->set_value(absl::StrCat(token, i));
    } else {
      r.set_values(token);
    }
  } else if (roll < 88) {
    r.mutable_failure()->set_kind(shoal::v1::ERROR_KIND_WORKER_LOST);
    r.mutable_failure()->set_message(absl::StrCat("child process crashed ", token));
  } else if (roll < 95) {  // the first call threw
    shoal::v1::TaskError* e = r.add_items()->mutable_error();
    e->set_kind(shoal::v1::ERROR_KIND_REMOTE);
    e->set_type_name("std::runtime_error");
    e->set_message(token);
    for (uint32_t i = 1; i < calls; ++i) r.add_items()->set_value(absl::StrCat(token, i));
  } else {
    r.mutable_failure()->set_kind(shoal::v1::ERROR_KIND_TIME_LIMIT);
    r.mutable_failure()->set_message(absl::StrCat("killed at its time limit ", token));
  }
  return r;
}

// The "[rN]" token of a reported result, or "" for a failure the broker made itself.
inline std::string token_of(const shoal::v1::TaskResult& r) {
  std::string_view text = r.failure().message();
  if (!r.values().empty()) {
    text = r.values();
  } else if (r.items_size() > 0) {
    text = r.items(0).has_error() ? r.items(0).error().message() : r.items(0).value();
  }
  size_t at = text.find("[r");
  size_t end = text.find(']', at);
  if (at == std::string_view::npos || end == std::string_view::npos) return "";
  return std::string(text.substr(at, end - at + 1));
}

}  // namespace shoal::broker::sim
