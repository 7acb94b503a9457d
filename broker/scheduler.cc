// Scheduler, client side: submission, watching, cancellation and results. Worker-side
// events, leases and dispatch are in scheduler_workers.cc, queries in scheduler_queries.cc.
#include "broker/scheduler.h"

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shoal/internal/name_limits.h"
#include "shoal/internal/utf8.h"

namespace shoal::broker {

using shoal::v1::ErrorKind;
using shoal::v1::TaskResult;
using shoal::v1::TaskState;

namespace {
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// What a done record costs: the record and index entry, the id, the encoded result.
uint64_t retained_size(const TaskRecord& rec) { return 160 + rec.id.size() + rec.result.size(); }

// An id as echoed in Rejected and Unknown: one over the limit (no task can have it) is
// cut to its first kMaxTaskIdBytes, so no answer grows with what a client sends.
std::string_view clipped_id(std::string_view id) {
  return id.substr(0, std::min(id.size(), internal::kMaxTaskIdBytes));
}
}  // namespace

Scheduler::Scheduler(SchedulerOptions options, Deps deps)
    : options_(std::move(options)),
      clock_(deps.clock),
      store_(deps.store),
      start_ms_(deps.clock->now_ms()),
      default_queue_(names_.intern("default")),
      grace_checked_(options_.registration_grace_ms <= 0) {
  std::copy_n(options_.lease_key.begin(), std::min(options_.lease_key.size(), lease_key_.size()),
              lease_key_.begin());
}

void Scheduler::open_session(SessionId s) { sessions_.insert(s); }

void Scheduler::close_session(SessionId s) {
  sessions_.erase(s);
  if (auto it = watching_.find(s); it != watching_.end()) {
    for (TaskRef ref : it->second) {
      auto w = watchers_.find(ref);
      w->second.erase(s);
      if (w->second.empty()) watchers_.erase(w);
    }
    watching_.erase(it);
  }
  pending_.erase(s);
  half_closed_.erase(s);
}

void Scheduler::half_close_session(SessionId s, Actions& out) {
  if (!sessions_.contains(s)) return;
  auto it = pending_.find(s);
  if (it == pending_.end() || it->second == 0) {
    out.sessions_to_close.push_back(s);
  } else {
    half_closed_.insert(s);
  }
}

void Scheduler::attach(TaskRef ref, TaskRecord& rec, SessionId s) {
  // Called for unfinished tasks only.
  if (rec.session == s) return;
  if (rec.session != 0 && sessions_.contains(rec.session)) {
    if (!sessions_.contains(s) || !watchers_[ref].insert(s).second) return;
    watching_[s].insert(ref);
  } else {
    rec.session = s;  // its session is gone (closed, so its count is too)
    // A watcher taking the task over waits for it once: as its owner, counted already.
    if (auto it = watchers_.find(ref); it != watchers_.end() && it->second.erase(s) > 0) {
      if (it->second.empty()) watchers_.erase(it);
      unwatch(s, ref);
      return;
    }
  }
  if (sessions_.contains(s)) ++pending_[s];
}

void Scheduler::unwatch(SessionId s, TaskRef ref) {
  auto it = watching_.find(s);
  if (it == watching_.end()) return;
  it->second.erase(ref);
  if (it->second.empty()) watching_.erase(it);
}

std::size_t Scheduler::watcher_entries() const {
  std::size_t n = 0;
  for (const auto& [ref, sessions] : watchers_) n += sessions.size();
  return n;
}

void Scheduler::detach(SessionId s, Actions& out) {
  auto it = pending_.find(s);
  if (it == pending_.end()) return;
  if (--it->second == 0 && half_closed_.contains(s)) out.sessions_to_close.push_back(s);
}

void Scheduler::submit(SessionId s, google::protobuf::RepeatedPtrField<shoal::v1::Task>* tasks,
                       Actions& out) {
  // Reserve the Accepted message first so that it precedes any result it causes.
  size_t accepted_at = out.to_sessions.size();
  out.add_session_message(s)->mutable_accepted();
  shoal::v1::Accepted accepted;
  // Once a new task finds the broker full (--max-queued or --task-memory-mb), so do the
  // batch's later ones: a smaller one that fits does not overtake it.
  shoal::v1::Rejected exhausted;
  std::string full;
  // One Rejected per problem, in the order first met: a batch of many bad tasks costs a
  // few messages, not one (of a few hundred bytes) per task.
  std::array<shoal::v1::Rejected, size_t(TaskProblem::kCount)> invalid;
  std::vector<TaskProblem> invalid_order;
  std::vector<TaskRef> unrunnable;
  std::vector<TaskQueue*> touched;  // the queues tasks went to, for the lane sweep
  for (shoal::v1::Task& task : *tasks) {
    if (TaskProblem problem = task_problem(task); problem != TaskProblem::kNone) {
      ++bad_client_messages_;
      shoal::v1::Rejected& rejected = invalid[size_t(problem)];
      if (rejected.ids_size() == 0) {
        invalid_order.push_back(problem);
        rejected.mutable_error()->set_kind(shoal::v1::ERROR_KIND_INVALID);
        rejected.mutable_error()->set_message(describe(problem, task));
      }
      rejected.add_ids(std::string(clipped_id(task.id())));
      continue;
    }
    TaskRef ref;
    if (store_->find(task.id(), &ref)) {  // idempotent resubmission
      TaskRecord& rec = store_->get(ref);
      accepted.add_ids(task.id());
      if (rec.phase == TaskPhase::kDone) {
        deliver(s, ref, out);
      } else {
        attach(ref, rec, s);
      }
      continue;
    }
    if (full.empty()) full = fullness(task.args().size());
    if (!full.empty()) {
      exhausted.add_ids(std::move(*task.mutable_id()));
      continue;
    }
    if (store_->durable()) {
      task.clear_attempt();  // a client's say on retries used is not taken
      task.clear_lease();
      store_->accepted(task);
    }
    ref = store_->insert(std::move(*task.mutable_id()));
    TaskRecord& rec = store_->get(ref);
    fill_record(rec, task);
    attach(ref, rec, s);
    ++submitted_;
    accepted.add_ids(rec.id);
    TaskQueue& q = queue_for(rec.queue);
    const Lane& lane = lane_of(q, rec.name);
    if (touched.empty() || touched.back() != &q) touched.push_back(&q);
    enqueue(ref, /*front=*/false);
    if (!q.workers.empty() && lane.capable_workers == 0 && !in_registration_grace()) {
      unrunnable.push_back(ref);
    }
  }
  *out.to_sessions[accepted_at].message.mutable_accepted() = std::move(accepted);
  for (TaskProblem problem : invalid_order) {
    shoal::v1::Rejected& rejected = invalid[size_t(problem)];
    if (rejected.ids_size() > 1) {
      absl::StrAppend(rejected.mutable_error()->mutable_message(), "; ", rejected.ids_size() - 1,
                      " more tasks of the batch have the same problem");
    }
    *out.add_session_message(s)->mutable_rejected() = std::move(rejected);
  }
  if (exhausted.ids_size() > 0) {
    shoal::v1::TaskError* error = exhausted.mutable_error();
    error->set_kind(shoal::v1::ERROR_KIND_RESOURCE_EXHAUSTED);
    error->set_message(absl::StrCat(full, "; submit again later"));
    *out.add_session_message(s)->mutable_rejected() = std::move(exhausted);
  }
  for (TaskRef ref : unrunnable) {
    const TaskRecord& rec = store_->get(ref);
    fail(ref, shoal::v1::ERROR_KIND_NOT_REGISTERED,
         absl::StrCat("no worker of queue ", internal::quoted_excerpt(names_.name(rec.queue)),
                      " has the task ", internal::quoted_excerpt(names_.name(rec.name)),
                      " registered"),
         rec.attempt, out);
  }
  // Lanes of names that came and went (the unregistered ones just failed, say) are
  // dropped once a queue's lanes have doubled: pop_for's scan stays proportional to the
  // names actually queued, at amortised O(1) per lane made.
  for (TaskQueue* q : touched) {
    if (q->lanes().size() > 2 * q->lanes_after_sweep + 64) {
      q->lanes_after_sweep = q->forget_empty_lanes(*store_);
    }
  }
  dispatch(out);
}

Scheduler::TaskProblem Scheduler::unrunnable_problem(const shoal::v1::Task& task) const {
  if (task.id().empty()) return TaskProblem::kEmptyId;
  if (task.id().size() > internal::kMaxTaskIdBytes) return TaskProblem::kLongId;
  if (task.name().empty()) return TaskProblem::kEmptyName;
  // No worker could register such a name, nor serve such a queue.
  if (task.name().size() > internal::kMaxTaskNameBytes) return TaskProblem::kLongName;
  if (task.priority() >= kPriorities) return TaskProblem::kPriority;
  if (task.queue().size() > internal::kMaxNameBytes) return TaskProblem::kLongQueue;
  return TaskProblem::kNone;
}

Scheduler::TaskProblem Scheduler::task_problem(const shoal::v1::Task& task) const {
  if (TaskProblem problem = unrunnable_problem(task); problem != TaskProblem::kNone) {
    return problem;
  }
  if (task.max_retries() < -1) return TaskProblem::kRetries;
  if (task.args().size() > options_.max_message_bytes) return TaskProblem::kBigArgs;
  return TaskProblem::kNone;
}

std::string Scheduler::describe(TaskProblem problem, const shoal::v1::Task& task) const {
  // Ids are the client's: quoted and shortened, so that the message stays one readable
  // line (Rejected.ids has the id itself).
  const std::string task_id = absl::StrCat("task ", internal::quoted_excerpt(task.id()));
  switch (problem) {
    case TaskProblem::kNone:
    case TaskProblem::kCount: break;
    case TaskProblem::kEmptyId: return "task id is empty";
    case TaskProblem::kLongId:
      return absl::StrCat("the task id has ", task.id().size(), " bytes, more than ",
                          internal::kMaxTaskIdBytes);
    case TaskProblem::kEmptyName: return absl::StrCat(task_id, " has an empty name");
    case TaskProblem::kLongName:
      return absl::StrCat(task_id, ": its name has ", task.name().size(), " bytes, more than ",
                          internal::kMaxTaskNameBytes);
    case TaskProblem::kPriority:
      return absl::StrCat(task_id, ": priority ", task.priority(), " is outside 0..9");
    case TaskProblem::kLongQueue:
      return absl::StrCat(task_id, ": its queue name has ", task.queue().size(),
                          " bytes, more than ", internal::kMaxNameBytes);
    case TaskProblem::kRetries:
      return absl::StrCat(task_id, ": max_retries ", task.max_retries(),
                          " is below -1 (-1: the broker's default)");
    case TaskProblem::kBigArgs:
      return absl::StrCat(task_id, ": arguments are ", task.args().size(),
                          " bytes, more than the broker's limit of ", options_.max_message_bytes);
  }
  return "";
}

std::string Scheduler::fullness(uint64_t args_bytes) const {
  if (queued_ >= options_.max_queued) {
    return absl::StrCat("the broker holds ", queued_, " queued tasks (--max-queued)");
  }
  // A task fits an empty broker whatever its size (validate() keeps the bound above one
  // task of --max-message-bytes anyway).
  if (task_bytes_ > 0 &&
      args_bytes > options_.max_task_bytes - std::min(options_.max_task_bytes, task_bytes_)) {
    return absl::StrCat("the broker holds ", task_bytes_,
                        " bytes of arguments of tasks not done yet, and ", args_bytes,
                        " more would take it past its limit of ", options_.max_task_bytes,
                        " (--task-memory-mb)");
  }
  return "";
}

void Scheduler::fill_record(TaskRecord& rec, shoal::v1::Task& task) {
  rec.args = std::move(*task.mutable_args());
  task_bytes_ += rec.args.size();
  rec.name = names_.intern(task.name());
  rec.queue = task.queue().empty() ? default_queue_ : names_.intern(task.queue());
  rec.items = std::max<uint32_t>(1, task.items());
  rec.priority = uint8_t(task.priority());
  rec.time_limit_ms = task.time_limit_ms();
  rec.max_retries = int16_t(task.max_retries() < 0 ? options_.default_max_retries
                                                   : std::min(task.max_retries(), 30000));
}

void Scheduler::task_of(const TaskRecord& rec, shoal::v1::Task* task) const {
  task->set_id(rec.id);
  task->set_name(names_.name(rec.name));
  task->set_items(rec.items);
  task->set_queue(names_.name(rec.queue));
  task->set_priority(rec.priority);
  task->set_time_limit_ms(rec.time_limit_ms);
  task->set_max_retries(rec.max_retries);
  task->set_attempt(rec.attempt);
}

void Scheduler::watch(SessionId s, const google::protobuf::RepeatedPtrField<std::string>& ids,
                      Actions& out) {
  shoal::v1::Unknown unknown;
  for (const std::string& id : ids) {
    TaskRef ref;
    if (!store_->find(id, &ref)) {
      unknown.add_ids(std::string(clipped_id(id)));
      continue;
    }
    TaskRecord& rec = store_->get(ref);
    if (rec.phase == TaskPhase::kDone) {
      deliver(s, ref, out);
    } else {
      attach(ref, rec, s);
    }
  }
  if (unknown.ids_size() > 0) *out.add_session_message(s)->mutable_unknown() = std::move(unknown);
}

bool Scheduler::get_result(std::string_view id, uint32_t wait_ms, uint64_t token, Actions& out) {
  TaskRef ref;
  if (!store_->find(id, &ref)) {
    out.replies.push_back({token, {}});
    out.replies.back().response.set_state(shoal::v1::TASK_STATE_UNKNOWN);
    return true;
  }
  TaskRecord& rec = store_->get(ref);
  if (rec.phase == TaskPhase::kDone || wait_ms == 0) {
    ResultReply& reply = out.replies.emplace_back();
    reply.token = token;
    reply.response.set_state(state_of(rec));
    if (rec.phase == TaskPhase::kDone) {
      decode_result(rec, reply.response.mutable_result());
      mark_delivered(rec, ref);
    }
    return true;
  }
  if (waiter_task_.size() >= options_.max_waiting_results) return false;
  std::vector<uint64_t>& tokens = waiters_[ref];
  waiter_task_[token] = {ref, uint32_t(tokens.size())};
  tokens.push_back(token);
  waiter_timers_.push({clock_->now_ms() + wait_ms, token});
  prune_waiter_timers();
  return true;
}

void Scheduler::forget_waiter(uint64_t token) {
  auto it = waiter_task_.find(token);
  if (it == waiter_task_.end()) return;
  drop_waiter(it);
  prune_waiter_timers();
}

void Scheduler::drop_waiter(WaiterMap::iterator it) {
  // Not an erase from the middle: with many calls on one task, each removal scanning its
  // tokens made them O(k^2) (100,000 calls timing out together stalled the loop for 1 s).
  auto tokens = waiters_.find(it->second.ref);
  std::vector<uint64_t>& v = tokens->second;
  const uint32_t index = it->second.index;
  if (index + 1 != v.size()) {
    v[index] = v.back();
    waiter_task_.find(v[index])->second.index = index;
  }
  v.pop_back();
  if (v.empty()) waiters_.erase(tokens);
  waiter_task_.erase(it);
}

void Scheduler::prune_waiter_timers() {
  if (waiter_timers_.size() > 2 * waiter_task_.size() + 64) {
    waiter_timers_.erase_if([this](const Waiter& w) { return !waiter_task_.contains(w.token); });
  }
}

shoal::v1::CancelResponse Scheduler::cancel(std::string_view id, bool even_if_unknown,
                                            Actions& out) {
  shoal::v1::CancelResponse response;
  TaskRef ref;
  if (!store_->find(id, &ref)) {
    response.set_state(shoal::v1::TASK_STATE_UNKNOWN);
    if (even_if_unknown && !id.empty() && id.size() <= internal::kMaxTaskIdBytes) {
      cancel_unknown(id, out);
      response.set_cancelled(true);
    }
    return response;
  }
  TaskRecord& rec = store_->get(ref);
  response.set_state(state_of(rec));
  if (rec.phase == TaskPhase::kQueued) {
    response.set_cancelled(true);
    fail(
        ref, shoal::v1::ERROR_KIND_CANCELLED,
        absl::StrCat("task ", internal::quoted_excerpt(rec.id), " was cancelled before it started"),
        rec.attempt, out);
  }
  return response;
}

void Scheduler::cancel_unknown(std::string_view id, Actions& out) {
  // The submission may still be on its way (the Session stream and Cancel calls are not
  // ordered): the id becomes what a submitted and cancelled task leaves, a done record
  // with a CANCELLED result, which submit() answers with that result instead of queuing
  // it, and which is counted, journaled, restored and expired as any task's result. Its
  // task has no name (interned "", which no worker can register) and never reaches a
  // queue; nobody may ever come for it, so its retention starts now.
  shoal::v1::Task task;
  task.set_id(std::string(id));
  if (store_->durable()) store_->accepted(task);
  TaskRef ref = store_->insert(task.id());
  TaskRecord& rec = store_->get(ref);
  fill_record(rec, task);
  rec.phase = TaskPhase::kDone;  // never queued: finish() has no queue to take it out of
  ++submitted_;
  fail(ref, shoal::v1::ERROR_KIND_CANCELLED,
       absl::StrCat("task ", internal::quoted_excerpt(rec.id),
                    " was cancelled before the broker received it"),
       /*attempts=*/0, out);
  mark_delivered(rec, ref);
}

TaskQueue& Scheduler::queue_for(NameId name) {
  auto& slot = queues_[name];
  if (slot == nullptr) slot = std::make_unique<TaskQueue>(name);
  return *slot;
}

Lane& Scheduler::lane_of(TaskQueue& q, NameId name) {
  if (Lane* lane = q.find_lane(name)) return *lane;
  Lane& lane = q.lane(name);  // new: count the queue's workers that can run it
  for (WorkerRef w : q.workers) lane.capable_workers += workers_.get(w).tasks.contains(name);
  return lane;
}

void Scheduler::enqueue(TaskRef ref, bool front) {
  TaskRecord& rec = store_->get(ref);
  rec.phase = TaskPhase::kQueued;
  rec.worker = kNoWorker;
  // A retry keeps its seq: it waited its turn already, and pop_for orders lanes by the
  // seq of their first task. An entry unqueue() left behind comes back to life in its
  // place (push() adds no second one): renumbered, a task claimed back by a hello and
  // then lost again went behind everything queued meanwhile.
  if (!front) rec.seq = next_seq();
  TaskQueue& q = queue_for(rec.queue);
  q.push(*store_, lane_of(q, rec.name), {ref, rec.seq}, rec.priority, front);
  ++q.depth;
  ++queued_;
  mark_dirty(q);
}

void Scheduler::unqueue(TaskRecord& rec) {
  --queue_for(rec.queue).depth;  // its entry goes stale once the phase changes
  --queued_;
}

uint64_t Scheduler::next_seq() {
  if (next_seq_ == 0) next_seq_ = 1;  // 0 marks erased records
  return next_seq_++;
}

void Scheduler::fail(TaskRef ref, ErrorKind kind, std::string message, uint32_t attempts,
                     Actions& out) {
  auto result = std::make_unique<TaskResult>();
  result->mutable_failure()->set_kind(kind);
  result->mutable_failure()->set_message(std::move(message));
  result->set_attempts(attempts);
  finish(ref, std::move(result), out);
}

void Scheduler::finish(TaskRef ref, std::unique_ptr<TaskResult> result, Actions& out,
                       HolderCopy copy) {
  TaskRecord& rec = store_->get(ref);
  rec.result_worker = kNoName;
  if (rec.phase == TaskPhase::kRunning && rec.worker != kNoWorker) {
    const WorkerState& holder = workers_.get(rec.worker);
    if (result->worker() == holder.name) rec.result_worker = holder.name_id;
  }
  if (rec.phase == TaskPhase::kQueued) unqueue(rec);
  if (rec.phase == TaskPhase::kRunning) unlease(rec, ref, copy);
  if (result->id() != rec.id) result->set_id(rec.id);
  if (store_->durable()) store_->ended(*result);
  bool failed = result->has_failure() ||
                std::any_of(result->items().begin(), result->items().end(),
                            [](const shoal::v1::ItemOutcome& o) { return o.has_error(); });
  retain_result(rec, *result);
  ++completed_;
  failed_ += failed;
  count_completion();
  std::vector<SessionId> others;
  if (auto it = watchers_.find(ref); it != watchers_.end()) {
    others.assign(it->second.begin(), it->second.end());
    std::sort(others.begin(), others.end());  // the same order on every run
    watchers_.erase(it);
    for (SessionId other : others) unwatch(other, ref);
  }
  for (SessionId other : others) deliver(other, ref, out, std::make_unique<TaskResult>(*result));
  deliver(rec.session, ref, out, std::move(result));
  detach(rec.session, out);
  for (SessionId other : others) detach(other, out);
  answer_waiters(ref, out);
  // Nobody took it (its session closed, no watcher or waiter): its retention starts now
  // all the same, so that results no client comes back for neither stay for good nor,
  // unevictable, hold the memory cap down for the results that were delivered.
  mark_delivered(rec, ref);
}

void Scheduler::retain_result(TaskRecord& rec, TaskResult& result) {
  rec.phase = TaskPhase::kDone;
  task_bytes_ -= rec.args.size();
  std::string().swap(rec.args);
  // Retained encoded (one string instead of a message tree) and without what the record
  // already knows; the message itself goes to the session without a copy.
  std::string id, worker;
  id.swap(*result.mutable_id());
  if (rec.result_worker != kNoName) worker.swap(*result.mutable_worker());
  result.SerializeToString(&rec.result);
  id.swap(*result.mutable_id());
  if (rec.result_worker != kNoName) worker.swap(*result.mutable_worker());
  rec.deadline_ms = kNever;
  ++retained_;
  retained_bytes_ += retained_size(rec);
}

void Scheduler::restore(shoal::v1::Task& task, TaskResult* result) {
  TaskRef ref;
  if (task.id().empty() || store_->find(task.id(), &ref)) return;
  // A journal may hold what submit() would have refused (written by another version, or
  // damaged past its CRCs): such a task is not queued but ends INVALID, which a client
  // watching it learns. Its priority must still fit the record.
  TaskResult refused;
  if (TaskProblem problem = unrunnable_problem(task); problem != TaskProblem::kNone) {
    if (result == nullptr) {
      refused.mutable_failure()->set_kind(shoal::v1::ERROR_KIND_INVALID);
      refused.mutable_failure()->set_message(
          absl::StrCat("restored from the journal: ", describe(problem, task)));
      result = &refused;
    }
    task.set_priority(std::min<uint32_t>(task.priority(), kPriorities - 1));
  }
  ref = store_->insert(task.id());
  TaskRecord& rec = store_->get(ref);
  fill_record(rec, task);
  rec.attempt = uint16_t(std::min<uint32_t>(task.attempt(), uint32_t(rec.max_retries)));
  if (result == nullptr && in_registration_grace()) {
    // Queued as enqueue() does, but out of its lane until the grace ends: the worker that
    // may still run it may yet say hello (which claims a queued task it lists).
    rec.phase = TaskPhase::kQueued;
    rec.worker = kNoWorker;
    rec.seq = next_seq();
    ++queue_for(rec.queue).depth;
    ++queued_;
    held_restored_.push_back({ref, rec.seq});
    return;
  }
  if (result == nullptr) {
    enqueue(ref, /*front=*/false);
    return;
  }
  result->set_id(rec.id);
  retain_result(rec, *result);
  mark_delivered(rec, ref);  // nobody may come for it: kept one ttl from now
}

absl::Status Scheduler::rewrite_store() {
  // Queued tasks go back in the order they were queued (seq); the rest follow.
  std::vector<std::pair<uint64_t, TaskRef>> live;
  live.reserve(store_->size());
  store_->for_each([&](TaskRef ref) {
    const TaskRecord& rec = store_->get(ref);
    live.emplace_back(rec.phase == TaskPhase::kDone ? UINT64_MAX : rec.seq, ref);
  });
  std::sort(live.begin(), live.end());
  return store_->rewrite([&](const TaskStore::LiveTaskSink& sink) {
    shoal::v1::Task task;
    TaskResult result;
    for (auto [order, ref] : live) {
      const TaskRecord& rec = store_->get(ref);
      task_of(rec, &task);
      task.set_args(rec.args);  // empty once done
      if (rec.phase == TaskPhase::kDone) {
        decode_result(rec, &result);
        sink(task, &result);
      } else {
        sink(task, nullptr);
      }
    }
  });
}

bool Scheduler::in_registration_grace() const {
  return options_.registration_grace_ms > 0 &&
         clock_->now_ms() < start_ms_ + options_.registration_grace_ms;
}

void Scheduler::deliver(SessionId s, TaskRef ref, Actions& out,
                        std::unique_ptr<TaskResult> result) {
  TaskRecord& rec = store_->get(ref);
  if (s == 0 || !sessions_.contains(s)) return;
  if (result == nullptr) {
    result = std::make_unique<TaskResult>();
    decode_result(rec, result.get());
  }
  out.results_for(s)->mutable_results()->AddAllocated(result.release());
  mark_delivered(rec, ref);
}

void Scheduler::decode_result(const TaskRecord& rec, TaskResult* out) const {
  out->ParseFromString(rec.result);  // we encoded it: cannot fail
  out->set_id(rec.id);
  if (rec.result_worker != kNoName) out->set_worker(names_.name(rec.result_worker));
}

void Scheduler::mark_delivered(TaskRecord& rec, TaskRef ref) {
  if (rec.deadline_ms != kNever) return;
  rec.deadline_ms = clock_->now_ms() + options_.result_ttl_ms;
  const bool cancel = remembered_cancel(rec);
  (cancel ? cancel_expiry_ : expiry_).push_back({rec.deadline_ms, ref, rec.gen, 0});
  // Over the memory cap, the oldest delivered results go before their time (big
  // payloads would otherwise pile up for the whole ttl); never the one just delivered
  // (the back of its deque), which its caller may still be reading (to send it to another
  // session or waiter). Remembered cancels go only when no result is left: one dropped
  // early would let the submission it cancels run. At a few hundred bytes each, the cap
  // still bounds them.
  while (retained_bytes_ > options_.max_retained_bytes) {
    std::deque<Timer>* oldest = nullptr;
    if (expiry_.size() > (cancel ? 0u : 1u)) {
      oldest = &expiry_;
    } else if (cancel_expiry_.size() > (cancel ? 1u : 0u)) {
      oldest = &cancel_expiry_;
    } else {
      break;
    }
    Timer t = oldest->front();
    oldest->pop_front();
    expire(t);
  }
}

void Scheduler::expire(const Timer& t) {
  const TaskRecord& rec = store_->get(t.ref);
  if (rec.gen != t.gen || rec.phase != TaskPhase::kDone || rec.deadline_ms != t.deadline) return;
  retained_bytes_ -= std::min(retained_bytes_, retained_size(rec));
  store_->erase(t.ref);
  --retained_;
}

void Scheduler::answer_waiters(TaskRef ref, Actions& out) {
  auto it = waiters_.find(ref);
  if (it == waiters_.end()) return;
  TaskRecord& rec = store_->get(ref);
  for (uint64_t token : it->second) {
    ResultReply& reply = out.replies.emplace_back();
    reply.token = token;
    reply.response.set_state(shoal::v1::TASK_STATE_DONE);
    decode_result(rec, reply.response.mutable_result());
    waiter_task_.erase(token);
  }
  waiters_.erase(it);
  mark_delivered(rec, ref);
}

TaskState Scheduler::state_of(const TaskRecord& rec) const {
  switch (rec.phase) {
    case TaskPhase::kQueued: return shoal::v1::TASK_STATE_QUEUED;
    case TaskPhase::kRunning: return shoal::v1::TASK_STATE_RUNNING;
    case TaskPhase::kDone: return shoal::v1::TASK_STATE_DONE;
  }
  return shoal::v1::TASK_STATE_UNKNOWN;
}

}  // namespace shoal::broker
