#pragma once
// A Scheduler and InMemoryTaskStore on a fake clock, driven by the broker's fuzz targets
// through the calls the broker's loop makes: worker frames as the worker gateway passes
// them on (after its checks), lost connections, client events, ticks. The harness keeps
// a model of what the scheduler promised and checks after every call:
//   - every task of a submission is accepted or rejected, once; INVALID exactly for the
//     malformed ones, RESOURCE_EXHAUSTED only when the queues are full;
//   - messages go only to open sessions, results only to sessions that submitted or
//     watched their task, and a task ends once: every later copy of its result is the
//     same; a worker's result counts only from a worker that was sent (or claimed) the
//     task or that holds its lease; a broker-made failure is NOT_REGISTERED,
//     WORKER_LOST after every retry, or CANCELLED after a successful cancel;
//   - a cancel even_if_unknown of an unknown id is remembered: a submission of it while
//     the broker keeps it gets its CANCELLED result and is never sent to a worker;
//   - tasks go only to live, non-draining workers serving their queue and name, as
//     submitted, each attempt once and within max_retries, never beyond a worker's
//     slots x prefetch and credit;
//   - the counters, queues, workers and store agree; GetResult calls are answered once,
//     at once or by their deadline; tick() before next_deadline_ms() does nothing;
//   - drain(): once a worker able to run everything joins, every accepted task ends and
//     its result reaches a client: nothing is lost.
// A broken property aborts through SHOAL_FUZZ_CHECK (with a line on stderr saying what).

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "broker/scheduler.h"
#include "google/protobuf/stubs/logging.h"
#include "shoal/internal/name_limits.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_target.h"

namespace shoal::broker::fuzz {

using shoal::fuzz::FuzzInput;
using shoal::v1::ErrorKind;
using shoal::v1::Task;
using shoal::v1::TaskResult;
using shoal::v1::WorkerMessage;
using Tasks = google::protobuf::RepeatedPtrField<Task>;

// Checks `cond`; when it fails, says `what` on stderr first.
#define SHOAL_HARNESS_CHECK(cond, what)                              \
  do {                                                               \
    if (!(cond)) {                                                   \
      std::fprintf(stderr, "broken: %s\n", std::string(what).c_str()); \
      SHOAL_FUZZ_CHECK(cond);                                        \
    }                                                                \
  } while (0)

// Options with short periods, so that liveness, time limits and retention all matter
// within a few events; `small_memory` also makes the retained-results cap bite, and
// `small_task_memory` the bound on the arguments of tasks not done.
inline SchedulerOptions harness_options(bool small_memory, int64_t registration_grace_ms,
                                        bool small_task_memory = false) {
  return SchedulerOptions{.heartbeat_ms = 1000, .liveness = 3, .result_ttl_ms = 20'000,
                          .max_retained_bytes = small_memory ? 2048u : 256u << 20,
                          .max_queued = 24,
                          .max_task_bytes = small_task_memory ? 600u : 2048u << 20,
                          .max_message_bytes = 256,
                          .default_max_retries = 2, .time_limit_grace_ms = 2000,
                          .registration_grace_ms = registration_grace_ms,
                          .broker_id = "fuzz"};
}

// The options the input's first byte picks: bit 0 the small results cap, bit 1 a 3 s
// registration grace (a name no worker has yet waits that long before NOT_REGISTERED),
// bit 2 the small bound on the arguments of tasks not done.
inline SchedulerOptions harness_options(FuzzInput& in) {
  uint8_t setup = in.byte();
  return harness_options(setup & 1, setup & 2 ? 3000 : 0, setup & 4);
}

// Why the worker gateway drops `msg` (worker_gateway.cc), or "" when it passes it on.
inline std::string gateway_drops(const WorkerMessage& msg) {
  using internal::kMaxNameBytes, internal::kMaxQueuesPerWorker, internal::kMaxTaskNameBytes;
  if (msg.version() != 1) return "wrong version";
  if (msg.body_case() == WorkerMessage::BODY_NOT_SET) return "no body";
  if (!msg.has_hello()) return "";
  const shoal::v1::WorkerHello& h = msg.hello();
  if (h.slots() == 0) return "0 slots";
  if (h.name().size() > kMaxNameBytes) return "long name";
  if (h.queues_size() > int(kMaxQueuesPerWorker)) return "many queues";
  for (const std::string& q : h.queues()) {
    if (q.size() > kMaxNameBytes) return "long queue name";
  }
  for (const std::string& t : h.tasks()) {
    if (t.size() > kMaxTaskNameBytes) return "long task name";
  }
  return "";
}

// An id as the broker echoes it in Rejected and Unknown: cut to the id limit.
inline std::string echoed(const std::string& id) {
  return id.substr(0, std::min(id.size(), internal::kMaxTaskIdBytes));
}

// With SHOAL_FUZZ_TRACE set, says what happens (to follow a failing input by eye).
template <class... Args>
void trace(const Args&... args) {
  static const bool on = std::getenv("SHOAL_FUZZ_TRACE") != nullptr;
  if (on) std::fprintf(stderr, "%s\n", absl::StrCat(args...).c_str());
}

// `m` parsed from `bytes`, without protobuf's log lines; false when it does not parse.
template <class M>
bool parse_quietly(M& m, std::string_view bytes) {
  google::protobuf::LogSilencer quiet;
  return m.ParseFromArray(bytes.data(), int(bytes.size()));
}

// `m` as its receiver reads it (sent and parsed again); false when it does not parse,
// e.g. a string field that is not UTF-8: then the gateway or gRPC drops it.
template <class M>
bool through_the_wire(M& m) {
  std::string bytes;
  {
    google::protobuf::LogSilencer quiet;
    bytes = m.SerializeAsString();
  }
  return parse_quietly(m, bytes);
}

// Where a result carries the token the harness tags each report with: its failure's
// message, its values, or its first item's error message or value.
inline std::string* token_slot(TaskResult& r) {
  if (r.has_failure()) return r.mutable_failure()->mutable_message();
  if (!r.values().empty() || r.items_size() == 0) return r.mutable_values();
  shoal::v1::ItemOutcome* first = r.mutable_items(0);
  if (first->has_error()) return first->mutable_error()->mutable_message();
  return first->mutable_value();
}
inline const std::string& token_slot(const TaskResult& r) {
  if (r.has_failure()) return r.failure().message();
  if (!r.values().empty() || r.items_size() == 0) return r.values();
  const shoal::v1::ItemOutcome& first = r.items(0);
  return first.has_error() ? first.error().message() : first.value();
}
// The report number of a tagged result ("[r12]..." -> 12), or -1.
inline int64_t token_of(const TaskResult& r) {
  const std::string& s = token_slot(r);
  if (s.size() < 4 || s[0] != '[' || s[1] != 'r') return -1;
  int64_t n = 0;
  for (size_t i = 2; i < s.size() && i < 12; ++i) {
    if (s[i] == ']') return i > 2 ? n : -1;
    if (s[i] < '0' || s[i] > '9') return -1;
    n = n * 10 + (s[i] - '0');
  }
  return -1;
}

class SchedulerHarness {
 public:
  explicit SchedulerHarness(SchedulerOptions options)
      : options_(options), scheduler_(options, Scheduler::Deps{&clock_, &store_}) {}

  // --- Worker side -------------------------------------------------------------------
  // Passes `msg` from `peer` on as the worker gateway does; false when it drops it.
  // Every result it carries is tagged with a new report token first.
  bool frame(const std::string& peer, WorkerMessage msg) {
    if (!through_the_wire(msg) || !gateway_drops(msg).empty()) return false;
    trace(peer, ": ", msg.ShortDebugString());
    begin();
    bool known = peers_.contains(peer);
    // Any frame but a hello says the worker is alive (a refused hello says nothing of
    // the worker already on its connection).
    if (known && !msg.has_hello()) peers_[peer].last_frame_ms = now();
    if (msg.has_hello()) {
      for (const std::string& id : msg.hello().running()) {
        if (auto it = tasks_.find(id); it != tasks_.end()) it->second.holders.insert(peer);
      }
    }
    if (msg.has_results()) {
      for (TaskResult& r : *msg.mutable_results()->mutable_results()) tag(peer, r);
    }
    WorkerMessage sent = msg;  // the scheduler may move fields out
    scheduler_.worker_message(peer, &msg, out_);
    const auto body = sent.body_case();
    if (body == WorkerMessage::kHello) {
      observe_hello(peer, sent.hello());
    } else {
      observe();
      if (body == WorkerMessage::kBye && known) {
        if (sent.bye().draining()) {
          peers_[peer].draining = true;
        } else {
          peers_.erase(peer);
        }
      }
      bool reconnect = false;
      for (const WorkerSend& send : out_.to_workers) {
        reconnect |= send.peer == peer && send.message.has_reconnect();
      }
      SHOAL_HARNESS_CHECK(reconnect == (!known && body != WorkerMessage::kBye),
                          absl::StrCat("Reconnect to ", peer, " known ", known));
    }
    check_all();
    return true;
  }

  // The connection of `peer` closed.
  void disconnect(const std::string& peer) {
    trace(peer, ": disconnected");
    begin();
    scheduler_.worker_disconnected(peer, out_);
    peers_.erase(peer);
    observe();
    check_all();
  }

  // --- Client side -------------------------------------------------------------------
  SessionId open_session() {
    SessionId s = next_session_++;
    sessions_[s];
    scheduler_.open_session(s);
    return s;
  }
  void close_session(SessionId s) {
    trace("session ", s, " closes");
    sessions_.erase(s);
    scheduler_.close_session(s);
  }
  void half_close(SessionId s) {
    begin();
    sessions_[s].half_closed = true;
    scheduler_.half_close_session(s, out_);
    observe();
    check_all();
  }
  bool is_open(SessionId s) const { return sessions_.contains(s); }
  // A client message the gateway found malformed (it counts it and ends the call).
  void bad_client_message() {
    ++bad_messages_;
    scheduler_.count_bad_client_message();
    check_all();
  }

  // A SubmitBatch on open session `s`.
  void submit(SessionId s, Tasks tasks) {
    trace("session ", s, " submits ", tasks.size(), " tasks");
    shoal::v1::SubmitBatch batch;
    batch.mutable_tasks()->Swap(&tasks);
    if (!through_the_wire(batch)) return;
    tasks.Swap(batch.mutable_tasks());
    begin();
    uint64_t queued_before = scheduler_.stats().queued();
    const uint64_t bytes_before = scheduler_.stats().task_bytes();
    std::vector<bool> known_before;
    candidates_.clear();
    droppable_.clear();
    renewed_.clear();
    old_resends_.clear();
    renewed_results_.clear();
    for (const Task& t : tasks) {
      TaskRef ref;
      known_before.push_back(store_.find(t.id(), &ref));
      if (invalid(t)) continue;
      if (!known_before.back()) {
        candidates_.try_emplace(t.id(), t);
      } else if (const TaskRecord& rec = store_.get(ref);
                 rec.phase == TaskPhase::kDone &&
                 rec.deadline_ms != std::numeric_limits<int64_t>::max()) {
        droppable_.try_emplace(t.id(), Droppable{ref, rec.gen, t});
      }
    }
    const Tasks submitted = tasks;
    scheduler_.submit(s, &tasks, out_);
    in_submit_ = true;
    submitted_now_ = &submitted;
    observe();
    in_submit_ = false;
    submitted_now_ = nullptr;
    candidates_.clear();
    // A delivered result the memory cap dropped during the call (delivering another one
    // drops the oldest): if before its turn, the id was a new task.
    auto dropped = [&](const std::string& id) {
      auto d = droppable_.find(id);
      TaskRef ref;
      return d != droppable_.end() && (!store_.find(id, &ref) || ref != d->second.ref ||
                                       store_.get(ref).gen != d->second.gen);
    };
    // Walk the batch: each task is the next accepted, invalid or exhausted id.
    size_t a = 0, inv = 0, ex = 0;
    uint64_t fresh = 0, fresh_bytes = 0;
    // Whether a new task of `size` bytes of arguments finds the broker full; once one of
    // the batch did, all later ones do.
    auto full = [&](uint64_t size) {
      const uint64_t held = bytes_before + fresh_bytes;
      return ex > 0 || queued_before + fresh >= options_.max_queued ||
             (held > 0 && held + size > options_.max_task_bytes);
    };
    std::set<std::string> made;  // new in this batch
    for (int i = 0; i < submitted.size(); ++i) {
      const Task& t = submitted[i];
      const std::string& id = t.id();
      if (invalid(t)) {
        ++bad_messages_;
        SHOAL_HARNESS_CHECK(inv < invalid_.size() && invalid_[inv] == echoed(id),
                            absl::StrCat("invalid task '", absl::CEscape(id), "' not rejected"));
        ++inv;
        continue;
      }
      bool known = (known_before[i] && !dropped(id)) || made.contains(id);
      if (a < accepted_.size() && accepted_[a] == id) {
        ++a;
        if (!known && dropped(id) && results_now_.contains(id)) continue;  // dropped after its turn
        if (known) {
          if (tasks_.at(id).outcome.has_value() || tasks_.at(id).remembered) {
            SHOAL_HARNESS_CHECK(results_now_.contains(id),
                                "a resubmitted done task's result was not resent");
          }
          continue;
        }
        SHOAL_HARNESS_CHECK(!full(t.args().size()),
                            "accepted beyond --max-queued or --task-memory-mb");
        ++fresh;
        fresh_bytes += t.args().size();
        made.insert(id);
        continue;  // its model was made when its Accepted was read
      }
      SHOAL_HARNESS_CHECK(ex < exhausted_.size() && exhausted_[ex] == id && !known,
                          absl::StrCat("task '", absl::CEscape(id),
                                       "' neither accepted nor rejected"));
      SHOAL_HARNESS_CHECK(full(t.args().size()),
                          "rejected as full below --max-queued and --task-memory-mb");
      ++ex;
    }
    SHOAL_HARNESS_CHECK(a == accepted_.size() && inv == invalid_.size() &&
                            ex == exhausted_.size(),
                        "answers for tasks never submitted");
    check_all();
  }

  // A Watch on open session `s`.
  void watch(SessionId s, const std::vector<std::string>& ids) {
    trace("session ", s, " watches ", ids.size(), " ids");
    shoal::v1::Watch request;
    for (const std::string& id : ids) request.add_ids(id);
    if (!through_the_wire(request)) return;
    begin();
    google::protobuf::RepeatedPtrField<std::string> field;
    std::vector<std::string> unknown, done;
    std::set<std::string> delivered;  // results the memory cap may drop during the watch
    for (const std::string& id : ids) {
      *field.Add() = id;
      TaskRef ref;
      if (!store_.find(id, &ref)) {
        unknown.push_back(echoed(id));
        continue;
      }
      sessions_[s].ids.insert(id);
      const TaskRecord& rec = store_.get(ref);
      if (rec.phase != TaskPhase::kDone) continue;
      done.push_back(id);
      if (rec.deadline_ms != std::numeric_limits<int64_t>::max()) delivered.insert(id);
    }
    in_watch_ = true;
    scheduler_.watch(s, field, out_);
    observe();
    in_watch_ = false;
    // Delivering a result the watch is the first to get may drop the oldest delivered
    // ones under the memory cap: one of those the watch also names is then Unknown if
    // it was dropped before its turn (remembered cancels, delivered at once, are many).
    auto dropped = [&](const std::string& id) {
      TaskRef ref;
      return delivered.contains(id) && !store_.find(id, &ref);
    };
    std::vector<std::string> unknown_before;
    std::copy_if(unknown_.begin(), unknown_.end(), std::back_inserter(unknown_before),
                 [&](const std::string& id) { return !dropped(id); });
    SHOAL_HARNESS_CHECK(unknown_before == unknown, "watch's Unknown is not the unknown ids");
    for (const std::string& id : done) {
      SHOAL_HARNESS_CHECK(results_now_.contains(id) || dropped(id),
                          "watch did not resend a result");
    }
    check_all();
  }

  // A Cancel call.
  void cancel(const std::string& id, bool even_if_unknown) {
    trace("cancel ", absl::CEscape(id), even_if_unknown ? " even if unknown" : "");
    shoal::v1::CancelRequest request;
    request.set_id(id);
    request.set_even_if_unknown(even_if_unknown);
    if (!through_the_wire(request)) return;
    begin();
    TaskRef ref;
    bool known = store_.find(id, &ref);
    TaskPhase phase = known ? store_.get(ref).phase : TaskPhase::kDone;
    shoal::v1::CancelResponse r = scheduler_.cancel(id, even_if_unknown, out_);
    if (r.cancelled() && known) tasks_.at(id).cancelled = true;  // before its result is read
    if (r.cancelled() && !known) {  // a new task of that id, ended CANCELLED
      auto [it, made] = tasks_.try_emplace(id);
      if (made) ids_.push_back(id);
      it->second = TaskModel{};
      it->second.spec.set_id(id);
      it->second.cancelled = it->second.remembered = true;
      ++submitted_;
      // Sessions that asked for an earlier task of that id (whose result expired) do not
      // wait for this one.
      for (auto& [s, session] : sessions_) session.ids.erase(id);
    }
    observe();
    SHOAL_HARNESS_CHECK(r.state() == (known ? state_of(phase) : shoal::v1::TASK_STATE_UNKNOWN),
                        "cancel answered the wrong state");
    // An id over the limit is no task's: its cancel is not remembered.
    const bool rememberable =
        even_if_unknown && !id.empty() && id.size() <= internal::kMaxTaskIdBytes;
    SHOAL_HARNESS_CHECK(r.cancelled() == (known ? phase == TaskPhase::kQueued : rememberable),
                        "cancel cancelled what was not queued, or not what was");
    SHOAL_HARNESS_CHECK(known || !rememberable || store_.find(id, &ref),
                        "a cancel of an unknown id was not remembered");
    check_all();
  }

  // A GetResult call waiting up to `wait_ms`.
  void get_result(const std::string& id, uint32_t wait_ms) {
    trace("get_result ", absl::CEscape(id), " waiting ", wait_ms, " ms");
    shoal::v1::GetResultRequest request;
    request.set_id(id);
    if (!through_the_wire(request)) return;
    begin();
    uint64_t token = ++next_token_;
    waiters_[token] = Waiter{id, wait_ms, now() + int64_t(wait_ms)};
    TaskRef ref;
    bool done = store_.find(id, &ref) && store_.get(ref).phase == TaskPhase::kDone;
    scheduler_.get_result(id, wait_ms, token, out_);
    observe();
    SHOAL_HARNESS_CHECK(!waiters_.contains(token) || (wait_ms > 0 && !done),
                        "GetResult not answered at once");
    check_all();
  }

  // --- Time ----------------------------------------------------------------------------
  // Time passes by `ms`, then the scheduler's tick.
  void advance(int64_t ms) {
    trace("time passes ", ms, " ms to ", now() + ms, " (", scheduler_.interned_names(),
          " names, ", scheduler_.stats().ShortDebugString(), ")");
    int64_t next = scheduler_.next_deadline_ms();
    uint64_t retained = scheduler_.stats().results_retained();
    size_t workers = scheduler_.stats().workers();
    clock_.advance_ms(ms);
    begin();
    scheduler_.tick(out_);
    observe();
    shoal::v1::Stats st = scheduler_.stats();
    SHOAL_HARNESS_CHECK(now() >= next || (out_.empty() && st.results_retained() == retained &&
                                          st.workers() == workers),
                        "tick() had work before next_deadline_ms()");
    // Silent workers are gone; only they.
    std::set<std::string> listed;
    const shoal::v1::ListWorkersResponse list = scheduler_.list_workers();
    for (const auto& info : list.workers()) {
      listed.insert(info.name());
      SHOAL_HARNESS_CHECK(info.last_seen_ms() <= uint64_t(silence_ms()),
                          "a silent worker outlived its liveness");
    }
    for (auto it = peers_.begin(); it != peers_.end();) {
      if (listed.contains(it->second.name)) {
        ++it;
        continue;
      }
      SHOAL_HARNESS_CHECK(now() - it->second.last_frame_ms > silence_ms(),
                          "a worker that was not silent was declared lost");
      it = peers_.erase(it);
    }
    for (const auto& [token, w] : waiters_) {
      SHOAL_HARNESS_CHECK(w.wait_ms == 0 || w.deadline_ms > now(),
                          "GetResult unanswered after its wait");
    }
    check_all();
  }

  // --- End -----------------------------------------------------------------------------
  // Every connection closes; a worker serving every queue and name joins and runs what
  // is left; a client watches every task it has not seen end. Every accepted task must
  // end, and its result reach the client.
  void drain() {
    for (const auto& [peer, p] : std::map<std::string, PeerModel>(peers_)) disconnect(peer);
    SessionId s = open_session();
    std::vector<std::string> waiting;
    std::set<std::string> queues = {"default"}, names;
    for (const auto& [id, t] : tasks_) {
      if (t.outcome.has_value()) continue;
      waiting.push_back(id);
      if (t.remembered) continue;  // never runs: ends once watched, unless expired
      queues.insert(t.spec.queue());
      names.insert(t.spec.name());
    }
    if (waiting.empty()) return;
    watch(s, waiting);
    WorkerMessage hello;
    hello.set_version(1);
    shoal::v1::WorkerHello* h = hello.mutable_hello();
    h->set_name("fuzz-sweeper");
    for (const std::string& q : queues) h->add_queues(q);
    for (const std::string& n : names) h->add_tasks(n);
    h->set_slots(64);
    h->set_prefetch(1);
    h->set_credit(64);
    const std::string peer = "sweeper";
    bool joined = frame(peer, hello);
    for (int round = 0; joined && round < 200; ++round) {
      shoal::v1::Stats st = scheduler_.stats();
      if (st.queued() == 0 && st.running() == 0) break;
      WorkerMessage results;
      results.set_version(1);
      auto* batch = results.mutable_results();
      for (const auto& [id, lease] : std::map<std::string, uint64_t>(held_[peer])) {
        TaskResult* r = batch->add_results();
        r->set_id(id);
        r->set_lease(lease);
        r->set_values("\x91\xc0");
      }
      batch->set_credit(uint32_t(batch->results_size()));
      held_[peer].clear();
      frame(peer, results);
      advance(100);
    }
    // One the broker no longer knows ended unseen: a remembered cancel, or a result that
    // ended with no open session asking for it and expired (check_all vetted both).
    for (const auto& [id, t] : tasks_) {
      TaskRef ref;
      SHOAL_HARNESS_CHECK(
          t.outcome.has_value() || !store_.find(id, &ref),
          absl::StrCat("task '", absl::CEscape(id), "' (name of ", t.spec.name().size(),
                       " bytes, queue '", absl::CEscape(t.spec.queue()),
                       "') never ended once a worker for it joined",
                       joined ? "" : " (the gateway dropped its hello)"));
    }
  }

  // --- What the targets build events from ----------------------------------------------
  int64_t now() const { return clock_.now_ms(); }
  // Ids of every task accepted so far (current or past).
  const std::vector<std::string>& ids() const { return ids_; }
  // Ids sent to `peer` and not reported by it, with their leases.
  const std::map<std::string, uint64_t>& held(const std::string& peer) { return held_[peer]; }
  // The lease the scheduler gave `id` when last sent, or 0.
  uint64_t last_lease(const std::string& id) const {
    auto it = tasks_.find(id);
    return it == tasks_.end() ? 0 : it->second.lease;
  }
  const SchedulerOptions& options() const { return options_; }
  // True when the scheduler must reject `t` as INVALID (scheduler.h).
  bool invalid(const Task& t) const {
    return t.id().empty() || t.id().size() > internal::kMaxTaskIdBytes || t.name().empty() ||
           t.name().size() > internal::kMaxTaskNameBytes || t.priority() >= 10 ||
           t.max_retries() < -1 ||
           t.queue().size() > internal::kMaxNameBytes ||
           t.args().size() > options_.max_message_bytes;
  }

 private:
  struct TaskModel {
    Task spec;  // as the broker should send it: queue and items normalised, retries resolved
    bool cancelled = false;
    bool remembered = false;             // cancelled even_if_unknown before the broker knew it
    bool gone_unseen = false;  // ended with no open session asking, and its result expired
    std::optional<std::string> outcome;  // the first result seen, serialized
    int last_attempt = -1;
    uint64_t lease = 0;
    std::set<std::string> holders;  // peers sent it, or that claimed it in a hello
  };
  struct PeerModel {
    std::string name, instance, host;
    uint64_t pid = 0;
    std::set<std::string> queues, tasks;
    uint32_t slots = 0, prefetch = 0;
    bool draining = false;
    int64_t last_frame_ms = 0;
  };
  struct Report {
    std::string id;
    bool legit;      // sent by a holder of the task or with its lease
    bool malformed;  // items, but not as many as the task's calls
  };
  struct Session {
    bool half_closed = false;
    std::set<std::string> ids;  // submitted or watched on it
  };
  struct Waiter {
    std::string id;
    uint32_t wait_ms;
    int64_t deadline_ms;
  };

  int64_t silence_ms() const { return options_.heartbeat_ms * options_.liveness; }
  static shoal::v1::TaskState state_of(TaskPhase phase) {
    switch (phase) {
      case TaskPhase::kQueued: return shoal::v1::TASK_STATE_QUEUED;
      case TaskPhase::kRunning: return shoal::v1::TASK_STATE_RUNNING;
      case TaskPhase::kDone: return shoal::v1::TASK_STATE_DONE;
    }
    return shoal::v1::TASK_STATE_UNKNOWN;
  }

  void tag(const std::string& peer, TaskResult& r) {
    // A worker that was sent the task (or claimed it) may end it; another only with
    // its lease: the one it was sent with, or, if it was never sent, one the fuzzer
    // may have learnt from the broker's comparisons (a real worker cannot).
    auto it = tasks_.find(r.id());
    bool legit = false;
    if (it != tasks_.end()) {
      uint64_t lease = it->second.lease;
      legit = it->second.holders.contains(peer) ||
              (r.lease() != 0 && (lease == 0 || r.lease() == lease));
    }
    // The broker fails a task whose result has the wrong number of items (an empty one
    // is not left: the tag goes into its values).
    const bool malformed = it != tasks_.end() && !r.has_failure() && r.items_size() > 0 &&
                           uint32_t(r.items_size()) != it->second.spec.items();
    std::string* slot = token_slot(r);
    *slot = absl::StrCat("[r", reports_.size(), "]", *slot);
    reports_.push_back({r.id(), legit, malformed});
    auto held = held_.find(peer);
    if (held != held_.end()) held->second.erase(r.id());
  }

  void begin() {
    out_.clear();
    accepted_.clear();
    invalid_.clear();
    exhausted_.clear();
    unknown_.clear();
    results_now_.clear();
  }

  void observe_hello(const std::string& peer, const shoal::v1::WorkerHello& hello) {
    std::string name = hello.name().empty() ? "worker-" + absl::BytesToHexString(peer)
                                            : hello.name();
    bool welcomed = false, refused = false;
    for (const WorkerSend& send : out_.to_workers) {
      if (send.peer != peer) continue;
      welcomed |= send.message.has_welcome();
      refused |= send.message.has_refused();
    }
    SHOAL_HARNESS_CHECK(welcomed != refused, "a hello is answered by Welcome or Refused");
    if (refused) {
      bool held_elsewhere = false;
      for (const auto& [other, p] : peers_) {
        held_elsewhere |= other != peer && p.name == name &&
                          (p.instance != hello.instance() || p.host != hello.host() ||
                           p.pid != hello.pid());
      }
      SHOAL_HARNESS_CHECK(held_elsewhere, "Refused a hello whose name no other process holds");
    } else {
      for (auto it = peers_.begin(); it != peers_.end();) {
        it = it->first == peer || it->second.name == name ? peers_.erase(it) : std::next(it);
      }
      PeerModel& p = peers_[peer];
      p.name = name;
      p.instance = hello.instance();
      p.host = hello.host();
      p.pid = hello.pid();
      if (hello.queues().empty()) p.queues.insert("default");
      for (const std::string& q : hello.queues()) p.queues.insert(q.empty() ? "default" : q);
      p.tasks.insert(hello.tasks().begin(), hello.tasks().end());
      p.slots = hello.slots();
      p.prefetch = hello.prefetch();
      p.last_frame_ms = now();
    }
    observe(peer);
  }

  // Reads what the last call produced (`hello_peer`: the peer of a hello being answered).
  void observe(const std::string& hello_peer = "") {
    for (size_t i = 0; i < out_.to_sessions.size(); ++i) {
      const SessionSend& send = out_.to_sessions[i];
      SHOAL_HARNESS_CHECK(sessions_.contains(send.session),
                          absl::StrCat("a message to closed session ", send.session, ": ",
                                       send.message.ShortDebugString()));
      const shoal::v1::ServerMessage& m = send.message;
      if (m.has_accepted()) {
        SHOAL_HARNESS_CHECK(in_submit_ && i == 0, "Accepted outside a submission, or late");
        for (const std::string& id : m.accepted().ids()) {
          accepted_.push_back(id);
          note_accepted(send.session, id);
        }
      } else if (m.has_rejected()) {
        SHOAL_HARNESS_CHECK(in_submit_, "Rejected outside a submission");
        const shoal::v1::TaskError& e = m.rejected().error();
        bool full = e.kind() == shoal::v1::ERROR_KIND_RESOURCE_EXHAUSTED;
        SHOAL_HARNESS_CHECK(full || e.kind() == shoal::v1::ERROR_KIND_INVALID,
                            "Rejected with a kind other than INVALID or RESOURCE_EXHAUSTED");
        SHOAL_HARNESS_CHECK(!e.message().empty(), "Rejected without a message");
        auto& into = full ? exhausted_ : invalid_;
        into.insert(into.end(), m.rejected().ids().begin(), m.rejected().ids().end());
      } else if (m.has_unknown()) {
        SHOAL_HARNESS_CHECK(in_watch_, "Unknown outside a watch");
        unknown_.insert(unknown_.end(), m.unknown().ids().begin(), m.unknown().ids().end());
      } else if (m.has_results()) {
        for (const TaskResult& r : m.results().results()) {
          SHOAL_HARNESS_CHECK(sessions_[send.session].ids.contains(r.id()),
                              "a result to a session that neither submitted nor watched it");
          on_outcome(r);
        }
      } else {
        SHOAL_HARNESS_CHECK(in_submit_, "an empty message to a session");  // Accepted slot
      }
    }
    for (const ResultReply& reply : out_.replies) on_reply(reply);
    // Before the tasks it sent: one may be a renewed id's new task.
    if (submitted_now_ != nullptr && !out_.to_sessions.empty()) {
      renew_dropped(out_.to_sessions[0].session, *submitted_now_);
    }
    std::set<std::string> batches;
    for (const WorkerSend& send : out_.to_workers) {
      if (!send.task_batch.empty()) {
        SHOAL_HARNESS_CHECK(batches.insert(send.peer).second, "two task batches in one event");
        shoal::v1::BrokerMessage frame;
        SHOAL_HARNESS_CHECK(frame.ParseFromString(send.task_batch.frame()) &&
                                frame.version() == 1 && frame.has_tasks(),
                            "an undecodable task batch");
        for (const Task& task : frame.tasks().tasks()) on_sent(send.peer, task);
        continue;
      }
      const shoal::v1::BrokerMessage& m = send.message;
      if (m.has_welcome() || m.has_refused()) {
        SHOAL_HARNESS_CHECK(send.peer == hello_peer, "Welcome or Refused without a hello");
      } else if (m.has_heartbeat()) {
        SHOAL_HARNESS_CHECK(peers_.contains(send.peer), "a heartbeat to an unknown worker");
      } else if (m.has_reconnect()) {
        SHOAL_HARNESS_CHECK(!peers_.contains(send.peer), "Reconnect to a known worker");
      } else {
        SHOAL_HARNESS_CHECK(false, "an unexpected frame to a worker");
      }
    }
    for (SessionId s : out_.sessions_to_close) {
      SHOAL_HARNESS_CHECK(sessions_.contains(s) && sessions_[s].half_closed,
                          "ended a session that was not half-closed");
      close_session(s);  // as the gateway does
    }
  }

  // An id in an Accepted: a task made now when the store did not know it before.
  void note_accepted(SessionId s, const std::string& id) {
    sessions_[s].ids.insert(id);
    auto c = candidates_.find(id);
    if (c == candidates_.end()) {
      // An id whose delivered result was dropped during the call and that is a new task
      // now: modelled once the call's results are read (renew_dropped).
      auto d = droppable_.find(id);
      TaskRef ref;
      if (d != droppable_.end() && store_.find(id, &ref) &&
          (ref != d->second.ref || store_.get(ref).gen != d->second.gen)) {
        renewed_.insert(id);
      }
      return;
    }
    make_model(s, id, c->second);
    candidates_.erase(c);
  }

  // Task `id` was made anew from `spec`, submitted on `s`.
  void make_model(SessionId s, const std::string& id, const Task& spec) {
    auto [it, made] = tasks_.try_emplace(id);
    SHOAL_HARNESS_CHECK(made || it->second.outcome.has_value() || it->second.remembered ||
                            it->second.gone_unseen,
                        "an id accepted anew before its task ended");
    if (made) ids_.push_back(id);
    for (auto& [other, session] : sessions_) {  // a new task: only `s` asked for it yet
      if (other != s) session.ids.erase(id);
    }
    TaskModel& t = it->second;
    t = TaskModel{};
    t.spec = spec;
    if (t.spec.queue().empty()) t.spec.set_queue("default");
    t.spec.set_items(std::max(1u, t.spec.items()));
    int32_t retries = t.spec.max_retries();
    t.spec.set_max_retries(retries < 0 ? options_.default_max_retries : std::min(retries, 30000));
    t.spec.clear_attempt();
    t.spec.clear_lease();
    ++submitted_;
  }

  // Models the renewed ids of submission `batch` on `s`: the occurrence that made each
  // anew is the first after those the old result was sent again for; a result the new
  // task already has is read again.
  void renew_dropped(SessionId s, const Tasks& batch) {
    for (const std::string& id : renewed_) {
      int skip = old_resends_[id];
      const Task* spec = nullptr;
      for (const Task& t : batch) {
        if (t.id() != id || invalid(t)) continue;
        spec = &t;
        if (skip-- == 0) break;
      }
      if (spec == nullptr) continue;
      make_model(s, id, *spec);
    }
    // Results set aside as the new tasks' are read now: of a renewed id against its new
    // model, of any other against its task (a result that differs is a task ended twice).
    replaying_ = true;
    for (const auto& [id, r] : renewed_results_) on_outcome(r);
    replaying_ = false;
  }

  void on_outcome(const TaskResult& r) {
    results_now_.insert(r.id());
    auto it = tasks_.find(r.id());
    SHOAL_HARNESS_CHECK(it != tasks_.end(), "a result for a task never accepted");
    TaskModel& t = it->second;
    std::string bytes = r.SerializeAsString();
    if (in_submit_ && !replaying_ && droppable_.contains(r.id()) &&
        (t.outcome.has_value() || t.remembered)) {
      // A remembered cancel no client has seen yet: its result is the broker's CANCELLED.
      bool old = t.outcome.has_value()
                     ? *t.outcome == bytes
                     : r.failure().kind() == shoal::v1::ERROR_KIND_CANCELLED && r.attempts() == 0;
      if (old) {
        ++old_resends_[r.id()];  // the old result, sent before it was dropped
      } else {
        renewed_results_[r.id()] = r;  // the new task's, read once it is modelled
        return;
      }
    }
    if (t.outcome.has_value()) {
      SHOAL_HARNESS_CHECK(*t.outcome == bytes,
                          absl::StrCat("task '", absl::CEscape(r.id()), "' ended twice: ",
                                       "then ", r.ShortDebugString()));
      return;
    }
    t.outcome = bytes;
    ErrorKind kind = r.failure().kind();
    int64_t token = token_of(r);
    int retries = t.spec.max_retries();
    SHOAL_HARNESS_CHECK(r.attempts() >= 1 || (r.has_failure() && kind != shoal::v1::ERROR_KIND_WORKER_LOST),
                        "a result of a run that counts no attempt");
    SHOAL_HARNESS_CHECK(r.attempts() <= uint32_t(retries) + 1, "more runs than retries allow");
    if (r.has_failure() && kind == shoal::v1::ERROR_KIND_WORKER_LOST) {
      SHOAL_HARNESS_CHECK(r.attempts() == uint32_t(retries) + 1,
                          "WORKER_LOST before every retry was used");
    }
    if (t.cancelled) {
      SHOAL_HARNESS_CHECK(token < 0 && kind == shoal::v1::ERROR_KIND_CANCELLED,
                          "a cancelled task ended otherwise");
      return;
    }
    if (token >= 0 && size_t(token) < reports_.size()) {
      const Report& report = reports_[size_t(token)];
      SHOAL_HARNESS_CHECK(report.id == r.id(), "a task ended with another task's result");
      SHOAL_HARNESS_CHECK(report.legit,
                          "a task ended with the result of a worker it was never sent to");
      return;
    }
    if (kind == shoal::v1::ERROR_KIND_SERIALIZATION &&
        absl::StrContains(r.failure().message(), "' sent a malformed result: ")) {
      SHOAL_HARNESS_CHECK(std::any_of(reports_.begin(), reports_.end(),
                                      [&](const Report& report) {
                                        return report.id == r.id() && report.legit &&
                                               report.malformed;
                                      }),
                          "a task failed as malformed with no malformed report for it");
      return;
    }
    SHOAL_HARNESS_CHECK(r.has_failure() && (kind == shoal::v1::ERROR_KIND_NOT_REGISTERED ||
                                            kind == shoal::v1::ERROR_KIND_WORKER_LOST),
                        absl::StrCat("a task ended with what no worker reported: ",
                                     r.ShortDebugString()));
  }

  void on_reply(const ResultReply& reply) {
    auto it = waiters_.find(reply.token);
    SHOAL_HARNESS_CHECK(it != waiters_.end(), "a GetResult answered twice or never asked");
    Waiter w = it->second;
    waiters_.erase(it);
    TaskRef ref;
    bool known = store_.find(w.id, &ref);
    switch (reply.response.state()) {
      case shoal::v1::TASK_STATE_DONE:
        SHOAL_HARNESS_CHECK(reply.response.result().id() == w.id, "GetResult of another task");
        on_outcome(reply.response.result());
        break;
      case shoal::v1::TASK_STATE_UNKNOWN:
        SHOAL_HARNESS_CHECK(!known, "GetResult says UNKNOWN of a known task");
        break;
      default:
        // The state when answered: the same tick may re-queue, lease or end it after, and
        // then the memory cap may drop its result, delivered to its session, at once.
        SHOAL_HARNESS_CHECK((known || results_now_.contains(w.id)) &&
                                (reply.response.state() == shoal::v1::TASK_STATE_QUEUED ||
                                 reply.response.state() == shoal::v1::TASK_STATE_RUNNING),
                            absl::StrCat("GetResult answered ",
                                         shoal::v1::TaskState_Name(reply.response.state()),
                                         " of '", absl::CEscape(w.id), "'",
                                         known ? "" : ", which the broker no longer knows"));
        SHOAL_HARNESS_CHECK(w.wait_ms == 0 || now() >= w.deadline_ms,
                            "GetResult timed out before its wait");
    }
  }

  void on_sent(const std::string& peer, const Task& task) {
    auto p = peers_.find(peer);
    SHOAL_HARNESS_CHECK(p != peers_.end() && !p->second.draining,
                        "a task sent to an unknown or draining worker");
    SHOAL_HARNESS_CHECK(p->second.queues.contains(task.queue()) &&
                            p->second.tasks.contains(task.name()),
                        "a task sent to a worker that does not serve its queue or name");
    auto it = tasks_.find(task.id());
    SHOAL_HARNESS_CHECK(it != tasks_.end(), "a task sent that was never accepted");
    TaskModel& t = it->second;
    SHOAL_HARNESS_CHECK(!t.outcome.has_value() && !t.cancelled,
                        absl::StrCat("task '", absl::CEscape(task.id()), "' sent after it ",
                                     t.cancelled ? "was cancelled" : "ended"));
    SHOAL_HARNESS_CHECK(int(task.attempt()) > t.last_attempt &&
                            int(task.attempt()) <= t.spec.max_retries(),
                        absl::StrCat("attempt ", task.attempt(), " of '", task.id(),
                                     "' sent after ", t.last_attempt));
    const Task& s = t.spec;
    SHOAL_HARNESS_CHECK(task.name() == s.name() && task.queue() == s.queue() &&
                            task.priority() == s.priority() && task.items() == s.items() &&
                            task.time_limit_ms() == s.time_limit_ms() &&
                            task.max_retries() == s.max_retries() && task.args() == s.args(),
                        absl::StrCat("sent as ", task.ShortDebugString(), "; accepted as ",
                                     s.ShortDebugString()));
    SHOAL_HARNESS_CHECK(task.lease() != 0 && (t.lease == 0 || task.lease() == t.lease),
                        "a task sent again with another lease (one per task, every attempt)");
    t.last_attempt = int(task.attempt());
    t.lease = task.lease();
    t.holders.insert(peer);
    held_[peer][task.id()] = task.lease();
  }

  void check_all() {
    // The arguments counted are those of the tasks not done.
    uint64_t held = 0;
    for (const auto& [id, t] : tasks_) {
      TaskRef ref;
      if (store_.find(id, &ref) && store_.get(ref).phase != TaskPhase::kDone) {
        held += store_.get(ref).args.size();
      }
    }
    SHOAL_HARNESS_CHECK(scheduler_.stats().task_bytes() == held,
                        absl::StrCat("task_bytes ", scheduler_.stats().task_bytes(),
                                     " but the tasks not done hold ", held));
    // Nothing is lost: a task an open session asked for is forgotten only after its
    // result reached a client, and an ended task's result went to every open session
    // that asked for it, and to every GetResult call waiting for it.
    for (auto& [id, t] : tasks_) {
      if (t.outcome.has_value()) continue;
      TaskRef ref;
      // A remembered cancel may be forgotten unseen: nobody need ever come for it. So
      // may a result that ended with no open session asking for it (kept for the ttl
      // from its end, or less under the memory cap).
      const std::string& task_id = id;  // (clang 14 lambdas cannot capture bindings)
      const bool asked = std::any_of(sessions_.begin(), sessions_.end(), [&](const auto& s) {
        return s.second.ids.contains(task_id);
      });
      SHOAL_HARNESS_CHECK(store_.find(id, &ref) || t.remembered || !asked,
                          "a task an open session asked for was forgotten before its result "
                          "reached it");
      if (!store_.find(id, &ref)) {
        t.gone_unseen = !t.remembered;
        continue;
      }
      if (store_.get(ref).phase != TaskPhase::kDone) continue;
      for (const auto& [s, session] : sessions_) {
        SHOAL_HARNESS_CHECK(!session.ids.contains(id),
                            "an open session that asked for a task did not get its result");
      }
    }
    for (const auto& [token, w] : waiters_) {
      TaskRef ref;
      SHOAL_HARNESS_CHECK(!store_.find(w.id, &ref) ||
                              store_.get(ref).phase != TaskPhase::kDone,
                          "a GetResult call was not answered when its task ended");
    }
    shoal::v1::Stats st = scheduler_.stats();
    uint64_t queued = 0, running = 0, done = 0;
    store_.for_each([&](TaskRef ref) {
      const TaskRecord& rec = store_.get(ref);
      queued += rec.phase == TaskPhase::kQueued;
      running += rec.phase == TaskPhase::kRunning;
      done += rec.phase == TaskPhase::kDone;
    });
    SHOAL_HARNESS_CHECK(st.queued() == queued && st.running() == running &&
                            st.results_retained() == done &&
                            st.submitted() == st.queued() + st.running() + st.completed() &&
                            st.submitted() == submitted_ && st.workers() == peers_.size() &&
                            st.bad_client_messages() == bad_messages_,
                        absl::StrCat("stats ", st.ShortDebugString(), "; store: ", queued,
                                     " queued, ", running, " running, ", done, " done; ",
                                     submitted_, " accepted, ", peers_.size(), " workers"));
    uint64_t depth = 0, in_flight = 0;
    const shoal::v1::ListQueuesResponse queues = scheduler_.list_queues();
    for (const auto& q : queues.queues()) {
      depth += q.depth();
      in_flight += q.in_flight();
    }
    SHOAL_HARNESS_CHECK(depth == queued && in_flight == running, "queue counts are off");
    uint64_t leased = 0;
    const shoal::v1::ListWorkersResponse workers = scheduler_.list_workers();
    for (const auto& info : workers.workers()) {
      const PeerModel* p = nullptr;
      for (const auto& [peer, m] : peers_) {
        if (m.name == info.name()) p = &m;
      }
      SHOAL_HARNESS_CHECK(p != nullptr, "list_workers shows a worker that is gone");
      leased += info.running();
      uint64_t capacity = uint64_t(p->slots) * std::max(1u, p->prefetch);
      SHOAL_HARNESS_CHECK(info.draining() == p->draining, "a worker's draining is off");
      SHOAL_HARNESS_CHECK(info.credit() == 0 || (!p->draining &&
                                                 info.credit() + info.running() <= capacity),
                          absl::StrCat("credit ", info.credit(), " and ", info.running(),
                                       " tasks held for a worker of capacity ", capacity));
    }
    SHOAL_HARNESS_CHECK(leased == running, "leases held by workers differ from tasks running");
  }

  SchedulerOptions options_;
  FakeClock clock_;
  InMemoryTaskStore store_;
  Scheduler scheduler_;
  Actions out_;

  std::map<std::string, TaskModel> tasks_;  // by id: the latest task of that id
  std::vector<std::string> ids_;
  std::map<std::string, PeerModel> peers_;  // connections the scheduler knows as workers
  std::map<std::string, std::map<std::string, uint64_t>> held_;  // peer -> id -> lease
  std::vector<Report> reports_;  // by token
  std::map<SessionId, Session> sessions_;
  std::map<uint64_t, Waiter> waiters_;
  SessionId next_session_ = 1;
  uint64_t next_token_ = 0;
  uint64_t submitted_ = 0, bad_messages_ = 0;

  // What the current call produced.
  bool in_submit_ = false, in_watch_ = false;
  std::map<std::string, Task> candidates_;  // a submission's tasks the store did not know
  // A submission's ids whose results were delivered before: the memory cap may drop them
  // during the call, before their turn (then they are new tasks).
  struct Droppable {
    TaskRef ref;
    uint32_t gen;
    Task task;
  };
  std::map<std::string, Droppable> droppable_;
  std::set<std::string> renewed_;  // of those, the ones made anew (note_accepted)
  std::map<std::string, int> old_resends_;  // their old results sent in the call
  std::map<std::string, TaskResult> renewed_results_;  // results of the new tasks
  const Tasks* submitted_now_ = nullptr;  // the submission being observed
  bool replaying_ = false;  // renew_dropped() reads the results it set aside
  std::vector<std::string> accepted_, invalid_, exhausted_, unknown_;
  std::set<std::string> results_now_;
};

}  // namespace shoal::broker::fuzz
