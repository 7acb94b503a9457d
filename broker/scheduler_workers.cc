// Scheduler, worker side: hellos, credits, results, leases, losses, dispatch and time.
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "broker/scheduler.h"
#include "shoal/internal/utf8.h"

namespace shoal::broker {

using shoal::v1::TaskResult;
using shoal::v1::WorkerMessage;

void Scheduler::worker_message(const std::string& peer, WorkerMessage* msg, Actions& out) {
  if (msg->body_case() == WorkerMessage::kHello) {
    on_hello(peer, *msg->mutable_hello(), out);
    dispatch(out);
    return;
  }
  WorkerRef w = workers_.by_peer(peer);
  if (w == kNoWorker) {
    // A worker we do not know (we restarted, or declared it lost): its results still
    // resolve their tasks if nothing else did; then it must say hello again.
    if (msg->body_case() == WorkerMessage::kResults) {
      for (TaskResult& r : *msg->mutable_results()->mutable_results()) {
        accept_result(kNoWorker, std::make_unique<TaskResult>(std::move(r)), out);
      }
    }
    if (msg->body_case() != WorkerMessage::kBye) {
      out.add_worker_message(peer)->mutable_reconnect()->set_reason(
          "unknown worker: send WorkerHello");
    }
    dispatch(out);
    return;
  }
  workers_.get(w).last_seen_ms = clock_->now_ms();
  switch (msg->body_case()) {
    case WorkerMessage::kCredit:
      add_credit(w, msg->credit().credit());
      break;
    case WorkerMessage::kResults:
      on_results(w, *msg->mutable_results(), out);
      break;
    case WorkerMessage::kBye:
      if (msg->bye().draining()) {
        // It finishes what it holds: running those elsewhere too would run them twice.
        workers_.get(w).draining = true;
        workers_.get(w).credit = 0;
      } else {
        remove_worker(w, absl::StrCat("it left (", msg->bye().reason(), ")"), out);
      }
      break;
    default:  // heartbeat: liveness only
      break;
  }
  dispatch(out);
}

void Scheduler::worker_disconnected(const std::string& peer, Actions& out) {
  WorkerRef w = workers_.by_peer(peer);
  if (w == kNoWorker) return;
  WorkerState& st = workers_.get(w);
  if (clock_->now_ms() < hold_closes_until_ms_ && !st.leased.empty()) {
    // Read late: the worker likely found us silent and reconnected, its hello unread.
    st.closed = true;
    st.credit = 0;
    return;
  }
  remove_worker(w, "its connection closed", out);
  dispatch(out);
}

size_t Scheduler::undeliverable(const std::vector<UndeliveredSend>& sends, Actions& out) {
  // Every batch's tasks first: taking a peer as closed may take its tasks for lost.
  size_t returned = 0;
  for (const UndeliveredSend& send : sends) {
    WorkerRef w = workers_.by_peer(send.peer);
    if (w == kNoWorker) continue;
    // Back to front, so that the batch's first task ends up first in its queue again.
    for (auto it = send.leases.rbegin(); it != send.leases.rend(); ++it) {
      TaskRef ref = TaskRef(*it);  // a ref this scheduler issued: its record exists
      TaskRecord& rec = store_->get(ref);
      // Still this very lease: not ended, retried or re-leased since.
      if (rec.phase != TaskPhase::kRunning || rec.worker != w || lease_of(ref, rec.gen) != *it) {
        continue;
      }
      unlease(rec, ref, HolderCopy::kEnded);  // it never got it
      // A new generation: its lease timer (same attempt) must not end the next lease,
      // and its next lease is another value. Nothing else holds this one: it never left.
      ++rec.gen;
      enqueue(ref, /*front=*/true);
      ++returned;
    }
  }
  for (const UndeliveredSend& send : sends) worker_disconnected(send.peer, out);
  dispatch(out);
  return returned;
}

void Scheduler::on_hello(const std::string& peer, shoal::v1::WorkerHello& hello, Actions& out) {
  std::string name = hello.name().empty() ? "worker-" + absl::BytesToHexString(peer) : hello.name();
  // A name is an identity: another process taking it over would knock the live worker
  // off and run its tasks a second time. The same process on a new connection (it
  // reconnected before we saw its old one close) replaces its old connection below.
  if (WorkerRef holder = workers_.by_name(name); holder != kNoWorker) {
    const WorkerState& st = workers_.get(holder);
    if (st.peer != peer &&
        (st.instance != hello.instance() || st.host != hello.host() || st.pid != hello.pid())) {
      shoal::v1::Refused* refused = out.add_worker_message(peer)->mutable_refused();
      refused->set_reason(absl::StrCat("the name ", internal::quoted_excerpt(name),
                                       " belongs to a live worker (",
                                       internal::quoted_excerpt(st.host), ":", st.pid,
                                       "); give each worker its own --name"));
      refused->set_retry_ms(uint32_t(std::min<int64_t>(
          options_.heartbeat_ms * (int64_t{options_.liveness} + 1), UINT32_MAX)));
      return;
    }
  }
  // The queues of a connection this one replaces are checked for unrunnable tasks only
  // once this one is in: the worker is back, and its tasks must not fail meanwhile.
  std::vector<NameId> replaced_queues;
  // Tasks a replaced connection holds that the hello says still run are handed over as
  // they are (same attempt, same time limit), not lost: they use no retry and never
  // fail WORKER_LOST while the worker runs them. Those started stay started (their
  // time limits keep running); those waiting keep waiting, in the hello's order.
  absl::flat_hash_set<TaskRef> handed_over;
  absl::flat_hash_set<std::string_view> still_running(hello.running().begin(),
                                                      hello.running().end());
  auto replace = [&](WorkerRef old, const char* why) {
    WorkerState& st = workers_.get(old);
    for (auto it = st.leased.begin(); it != st.leased.end();) {
      const TaskRecord& rec = store_->get(*it);
      if (still_running.contains(rec.id)) {
        handed_over.insert(*it);
        st.leased.erase(it++);
      } else {
        ++it;
      }
    }
    remove_worker(old, why, out, &replaced_queues);
  };
  if (WorkerRef old = workers_.by_peer(peer); old != kNoWorker) replace(old, "it said hello again");
  if (WorkerRef old = workers_.by_name(name); old != kNoWorker) replace(old, "it reconnected");
  int64_t now = clock_->now_ms();
  WorkerState st;
  st.peer = peer;
  st.name = std::move(name);
  st.name_id = names_.intern(st.name);
  st.host = std::move(*hello.mutable_host());
  st.pid = hello.pid();
  st.instance = std::move(*hello.mutable_instance());
  st.slots = hello.slots();
  st.prefetch = hello.prefetch();
  st.last_seen_ms = now;
  st.last_sent_ms = now;
  if (hello.queues().empty()) st.queues.push_back(default_queue_);
  for (const std::string& q : hello.queues()) {
    NameId id = names_.intern(q.empty() ? "default" : q);
    if (std::find(st.queues.begin(), st.queues.end(), id) == st.queues.end()) st.queues.push_back(id);
  }
  for (const std::string& t : hello.tasks()) st.tasks.insert(names_.intern(t));
  WorkerRef w = workers_.add(std::move(st));
  WorkerState& ws = workers_.get(w);
  for (NameId qn : ws.queues) {
    TaskQueue& q = queue_for(qn);
    q.workers.push_back(w);
    for (const auto& lane : q.lanes()) lane->capable_workers += ws.tasks.contains(lane->name);
  }
  // Handed over started, they stay started: their time limits keep running.
  for (auto it = handed_over.begin(); it != handed_over.end();) {
    TaskRecord& rec = store_->get(*it);
    if (rec.waiting) {
      ++it;
      continue;
    }
    rec.worker = w;
    ws.leased.insert(*it);
    ++ws.started;
    handed_over.erase(it++);
  }
  // Then what it still runs in the order listed (the order it runs them in): the tasks
  // handed over that waited, those queued again meanwhile (leased to it again), and
  // phantoms of the others (leased elsewhere since, done, or unknown), each taking a
  // process in turn. A hello may list an id more than once (the worker runs a copy it was
  // sent again), but it makes at most capacity() phantom copies: counting distinct ids,
  // one id listed 200,000 times made as many copies, ahead of every task sent next.
  uint32_t phantom_copies = 0;
  for (const std::string& id : hello.running()) {
    TaskRef ref;
    const bool known = store_->find(id, &ref);
    if (known && handed_over.erase(ref) == 1) {
      TaskRecord& rec = store_->get(ref);
      rec.worker = w;
      hold(ref, rec, w, now);  // armed from now if it has a process now
      continue;
    }
    TaskRecord* found = known ? &store_->get(ref) : nullptr;
    if (found != nullptr && found->phase == TaskPhase::kRunning && found->worker == w) {
      continue;  // handed over started, above (or listed twice)
    }
    if (found == nullptr || found->phase != TaskPhase::kQueued ||
        std::find(ws.queues.begin(), ws.queues.end(), found->queue) == ws.queues.end()) {
      // At most what it may hold: a hello listing more cannot grow the broker's memory.
      if (phantom_copies < ws.capacity()) {
        ++phantom_copies;
        hold_phantom(w, id, known ? &ref : nullptr);
      }
      continue;
    }
    TaskRecord& rec = *found;
    unqueue(rec);
    if (rec.result_worker == ws.name_id && rec.attempt > 0) {
      // Re-queued when this worker was taken for lost, and started nowhere since: the
      // copy it runs is that attempt, which was not lost after all. As if this hello had
      // come within the hold window, it costs no retry.
      --rec.attempt;
      --retried_;
      if (store_->durable()) store_->retried(rec.id, rec.attempt);
    }
    rec.result_worker = kNoName;
    rec.phase = TaskPhase::kRunning;
    rec.worker = w;
    ++queue_for(rec.queue).in_flight;
    ++running_;
    hold(ref, rec, w, now);  // from now: when it started is not known here
  }
  shoal::v1::Welcome* welcome = out.add_worker_message(peer)->mutable_welcome();
  welcome->set_broker_id(options_.broker_id);
  welcome->set_heartbeat_ms(uint32_t(options_.heartbeat_ms));
  welcome->set_liveness(uint32_t(options_.liveness));
  welcome->set_max_message_bytes(options_.max_message_bytes);  // the largest result too
  add_credit(w, hello.credit());
  for (NameId qn : ws.queues) fail_unrunnable(queue_for(qn), out);
  for (NameId qn : replaced_queues) fail_unrunnable(queue_for(qn), out);
}

void Scheduler::on_results(WorkerRef w, shoal::v1::ResultBatch& batch, Actions& out) {
  for (TaskResult& r : *batch.mutable_results()) {
    accept_result(w, std::make_unique<TaskResult>(std::move(r)), out);
  }
  for (const shoal::v1::ReturnedTask& r : batch.returned()) take_back(w, r);
  // Credit is explicit (worker.proto): a result frees the worker's slot, and the worker
  // grants it again in `credit` when it wants more work.
  add_credit(w, batch.credit());
}

namespace {
// Why `result` of a task of `items` calls is not one of task.proto's three forms, or "".
std::string outcome_problem(const TaskResult& result, uint32_t items) {
  if (result.has_failure()) return "";
  if (result.items_size() == 0) {
    return result.values().empty() ? "no values, items or failure" : "";
  }
  if (uint32_t(result.items_size()) != items) {
    return absl::StrCat(result.items_size(), " items for a task of ", items, " calls");
  }
  return "";
}
}  // namespace

bool Scheduler::accept_result(WorkerRef w, std::unique_ptr<TaskResult> result, Actions& out) {
  // First, what it says about the worker's processes: a result for a copy of a task it
  // runs though it is not its lease (whatever became of the task) frees that copy's.
  const bool phantom_copy = w != kNoWorker && end_phantom(w, result->id());
  TaskRef ref = TaskRef(result->lease());
  bool leased = store_->matches(ref, result->id()) &&
                lease_of(ref, store_->get(ref).gen) == result->lease();
  if (!leased && !store_->find(result->id(), &ref)) {
    return false;  // expired long ago: nobody waits
  }
  TaskRecord& rec = store_->get(ref);
  bool from_holder = rec.phase == TaskPhase::kRunning && w != kNoWorker && rec.worker == w;
  if (rec.phase == TaskPhase::kDone) return false;  // late duplicate: resolved already
  // The holder's result counts, found by lease or by id. Another's (a worker declared
  // lost, or one we no longer know) counts only with the task's lease, which only a
  // worker once given the task has: no worker ends a task it was never sent.
  if (!from_holder && !leased) return false;
  // Named by who sent it, not by what it says (a worker we do not know: unnamed).
  if (w != kNoWorker) {
    result->set_worker(workers_.get(w).name);
  } else {
    result->clear_worker();
  }
  if (result->has_failure() && result->failure().kind() == shoal::v1::ERROR_KIND_WORKER_LOST) {
    // The worker's child process died. Only the current holder's report counts, and not
    // one taken for an older copy's (the holder's own copy still runs).
    if (!from_holder || phantom_copy) return false;
    std::string why = result->failure().message();
    lost_attempt(ref, why, std::move(result), out);
    return true;
  }
  if (std::string why = outcome_problem(*result, rec.items); !why.empty()) {
    // What no client can read ends the task as the worker's fault, with a clear error.
    ++bad_worker_results_;
    result->clear_items();
    result->clear_values();
    result->mutable_failure()->set_kind(shoal::v1::ERROR_KIND_SERIALIZATION);
    result->mutable_failure()->set_message(
        absl::StrCat("worker '", result->worker(), "' sent a malformed result: ", why));
  }
  uint32_t runs = rec.attempt + (rec.phase == TaskPhase::kRunning ? 1 : 0);
  result->set_attempts(std::max<uint32_t>(1, runs));
  // Another's result, or an older copy's (the oldest copy ends first: it started first):
  // the holder's own copy still runs, and keeps its process until it reports it.
  finish(ref, std::move(result), out,
         from_holder && !phantom_copy ? HolderCopy::kEnded : HolderCopy::kStillRuns);
  return from_holder;
}

void Scheduler::take_back(WorkerRef w, const shoal::v1::ReturnedTask& returned) {
  TaskRef ref = TaskRef(returned.lease());
  if (!store_->matches(ref, returned.id())) return;
  TaskRecord& rec = store_->get(ref);
  // Only the copy it holds under that lease: never started, so no attempt is spent.
  if (rec.phase != TaskPhase::kRunning || rec.worker != w ||
      lease_of(ref, rec.gen) != returned.lease()) {
    return;
  }
  unlease(rec, ref, HolderCopy::kEnded);
  enqueue(ref, /*front=*/true);  // it waited its turn already
}

void Scheduler::add_credit(WorkerRef w, uint64_t grant) {
  // Credits are what the worker granted, but never more than slots x prefetch minus
  // what it holds: a worker holds at most what it can take.
  WorkerState& st = workers_.get(w);
  if (st.draining || st.closed) return;  // it takes nothing new
  uint64_t room = st.capacity() > st.leased.size() ? st.capacity() - st.leased.size() : 0;
  st.credit = uint32_t(std::min<uint64_t>(uint64_t(st.credit) + grant, room));
  if (st.credit > 0) {
    for (NameId qn : st.queues) mark_dirty(queue_for(qn));
  }
}

void Scheduler::remove_worker(WorkerRef w, const std::string& why, Actions& out,
                              std::vector<NameId>* unchecked_queues) {
  WorkerState& st = workers_.get(w);
  std::string reason = absl::StrCat("worker ", internal::quoted_excerpt(st.name), " lost: ", why);
  st.waiting.clear();  // what it held goes elsewhere: none of it starts there now
  st.phantoms.clear();
  std::vector<TaskRef> leased(st.leased.begin(), st.leased.end());
  std::sort(leased.begin(), leased.end());
  for (TaskRef ref : leased) {
    lost_attempt(ref, reason, nullptr, out);
    // Remembered until it is leased again: a hello of this worker may yet claim it back.
    TaskRecord& rec = store_->get(ref);
    if (rec.phase == TaskPhase::kQueued) rec.result_worker = st.name_id;
  }
  std::vector<NameId> queues = st.queues;
  for (NameId qn : queues) {
    TaskQueue& q = queue_for(qn);
    q.workers.erase(std::remove(q.workers.begin(), q.workers.end(), w), q.workers.end());
    for (const auto& lane : q.lanes()) lane->capable_workers -= st.tasks.contains(lane->name);
  }
  workers_.remove(w);
  out.end_batch(w);  // its ref may be reused in this round, by a worker on another peer
  if (unchecked_queues != nullptr) {
    unchecked_queues->insert(unchecked_queues->end(), queues.begin(), queues.end());
    return;
  }
  for (NameId qn : queues) fail_unrunnable(queue_for(qn), out);
}

void Scheduler::lost_attempt(TaskRef ref, const std::string& why,
                             std::unique_ptr<TaskResult> reported, Actions& out, HolderCopy copy) {
  TaskRecord& rec = store_->get(ref);
  if (rec.attempt < rec.max_retries) {
    if (rec.phase == TaskPhase::kRunning) unlease(rec, ref, copy);
    ++rec.attempt;
    ++retried_;
    if (store_->durable()) store_->retried(rec.id, rec.attempt);
    enqueue(ref, /*front=*/true);  // it waited its turn already
    return;
  }
  if (reported == nullptr) {
    reported = std::make_unique<TaskResult>();
    reported->mutable_failure()->set_kind(shoal::v1::ERROR_KIND_WORKER_LOST);
    reported->mutable_failure()->set_message(why);
  }
  reported->set_attempts(rec.attempt + 1u);
  finish(ref, std::move(reported), out, copy);  // which ends the lease (once)
}

void Scheduler::fail_unrunnable(TaskQueue& q, Actions& out) {
  if (q.workers.empty()) return;  // no worker yet: tasks wait for one
  if (in_registration_grace()) return;  // the worker that has it may be on its way
  for (const auto& lane : q.lanes()) {
    if (lane->capable_workers != 0 || lane->mask == 0) continue;
    for (TaskRef ref : q.drain(*store_, *lane)) {
      const TaskRecord& rec = store_->get(ref);
      fail(ref, shoal::v1::ERROR_KIND_NOT_REGISTERED,
           absl::StrCat("no worker of queue ", internal::quoted_excerpt(names_.name(q.name())),
                        " has the task ", internal::quoted_excerpt(names_.name(lane->name)),
                        " registered"),
           rec.attempt, out);
    }
  }
}

void Scheduler::mark_dirty(TaskQueue& q) {
  if (q.dirty) return;
  q.dirty = true;
  dirty_.push_back(&q);
}

void Scheduler::dispatch(Actions& out) {
  for (TaskQueue* q : dirty_) {
    q->dirty = false;
    if (q->depth == 0 || q->workers.empty()) continue;
    size_t n = q->workers.size();
    size_t start = q->rr++ % n;
    for (size_t k = 0; k < n && q->depth > 0; ++k) {
      WorkerRef w = q->workers[(start + k) % n];
      WorkerState& st = workers_.get(w);
      if (st.queues.size() > 1) {
        if (st.credit > 0) lease_in_turn(w, out);
        continue;
      }
      TaskRef ref;
      while (st.credit > 0 && q->depth > 0 && q->pop_for(*store_, st.tasks, &ref)) {
        lease(ref, w, *q, out);
      }
    }
  }
  dirty_.clear();
}

void Scheduler::lease_in_turn(WorkerRef w, Actions& out) {
  // Its credit is shared between its queues, not spent on the first one that has tasks
  // (which starved the others, whatever their priorities): each queue in turn gives it
  // one task, from the one after the queue its last task came from.
  WorkerState& st = workers_.get(w);
  const size_t n = st.queues.size();
  absl::InlinedVector<std::pair<size_t, TaskQueue*>, 8> open;  // (index in st.queues, queue)
  for (size_t k = 0; k < n; ++k) {
    size_t i = (st.next_queue + k) % n;
    open.emplace_back(i, &queue_for(st.queues[i]));
  }
  for (size_t at = 0; st.credit > 0 && !open.empty();) {
    auto [i, q] = open[at];
    TaskRef ref;
    if (q->depth == 0 || !q->pop_for(*store_, st.tasks, &ref)) {
      open.erase(open.begin() + ptrdiff_t(at));  // nothing for it there this round
    } else {
      lease(ref, w, *q, out);
      st.next_queue = uint32_t((i + 1) % n);
      ++at;
    }
    if (at >= open.size()) at = 0;
  }
}

void Scheduler::release_restored() {
  // Ahead of what was queued meanwhile (front: by seq), in the order they were restored.
  // Those claimed, cancelled or forgotten since are stale (is_live) and skipped; one
  // claimed and queued again since (a retry) is in its lane already, and push() adds no
  // second entry for it.
  for (QueueEntry e : held_restored_) {
    if (!is_live(*store_, e)) continue;
    const TaskRecord& rec = store_->get(e.ref);
    TaskQueue& q = queue_for(rec.queue);
    q.push(*store_, lane_of(q, rec.name), e, rec.priority, /*front=*/true);
    mark_dirty(q);
  }
  std::vector<QueueEntry>().swap(held_restored_);
}

void Scheduler::lease(TaskRef ref, WorkerRef w, TaskQueue& q, Actions& out) {
  TaskRecord& rec = store_->get(ref);
  WorkerState& st = workers_.get(w);
  int64_t now = clock_->now_ms();
  rec.phase = TaskPhase::kRunning;
  rec.worker = w;
  rec.result_worker = kNoName;  // started anew: no hello claims back the lost attempt
  --q.depth;
  --queued_;
  ++q.in_flight;
  ++running_;
  --st.credit;
  st.last_sent_ms = now;
  hold(ref, rec, w, now);
  shoal::v1::Task& task = lease_scratch_;  // every field but args is set: nothing stale
  task_of(rec, &task);
  task.set_lease(lease_of(ref, rec.gen));
  // args are copied once, into the batch
  out.add_task(w, st.peer, task, rec.args, max_frame_bytes(options_.max_message_bytes));
}

uint64_t Scheduler::lease_of(TaskRef ref, uint32_t gen) const {
  static_assert(crypto_shorthash_KEYBYTES == 16 && crypto_shorthash_BYTES == 8);
  unsigned char in[8], out[8];
  std::memcpy(in, &ref, 4);
  std::memcpy(in + 4, &gen, 4);
  crypto_shorthash(out, in, sizeof(in), lease_key_.data());  // SipHash-2-4
  uint64_t tag;
  std::memcpy(&tag, out, sizeof(tag));
  return (tag & 0xffffffff00000000ull) | ref;
}

void Scheduler::tick(Actions& out) {
  int64_t now = clock_->now_ms();
  if (now >= next_queue_sweep_ms_) {
    next_queue_sweep_ms_ = now + kQueueSweepMs;
    forget_idle_queues();
    for (auto& [name, q] : queues_) q->lanes_after_sweep = q->forget_empty_lanes(*store_);
  }
  int64_t silence = options_.heartbeat_ms * options_.liveness;
  for (WorkerRef w : workers_.live()) {
    WorkerState& st = workers_.get(w);
    if (now - st.last_seen_ms > silence) {
      remove_worker(w, absl::StrCat("silent for ", now - st.last_seen_ms, " ms"), out);
    } else if (now - st.last_sent_ms >= options_.heartbeat_ms) {
      out.add_worker_message(st.peer)->mutable_heartbeat();  // the gateway stamps the time
      st.last_sent_ms = now;
    }
  }
  while (!lease_timers_.empty() && lease_timers_.top().deadline <= now) {
    Timer t = lease_timers_.top();
    lease_timers_.pop();
    if (!lease_timer_current(t)) continue;
    const TaskRecord& rec = store_->get(t.ref);
    lost_attempt(
        t.ref,
        absl::StrCat("no result ", options_.time_limit_grace_ms, " ms after its time limit of ",
                     rec.time_limit_ms, " ms (from when its worker had a process free for it)"),
        nullptr, out, HolderCopy::kTakenForLost);
  }
  expire_phantoms(now);
  while (!waiter_timers_.empty() && waiter_timers_.top().deadline <= now) {
    uint64_t token = waiter_timers_.top().token;
    waiter_timers_.pop();
    auto it = waiter_task_.find(token);
    if (it == waiter_task_.end()) continue;  // answered already
    TaskRef ref = it->second.ref;
    drop_waiter(it);
    ResultReply& reply = out.replies.emplace_back();
    reply.token = token;
    reply.response.set_state(state_of(store_->get(ref)));
  }
  for (std::deque<Timer>* expiry : {&expiry_, &cancel_expiry_}) {
    while (!expiry->empty() && expiry->front().deadline <= now) {
      Timer t = expiry->front();
      expiry->pop_front();
      expire(t);
    }
  }
  if (!grace_checked_ && !in_registration_grace()) {
    grace_checked_ = true;
    release_restored();
    for (auto& [name, q] : queues_) fail_unrunnable(*q, out);
  }
  if (names_.size() > names_sweep_at_) forget_unused_names();  // after expiries
  dispatch(out);
}

void Scheduler::excuse_silence(int64_t ms) {
  int64_t now = clock_->now_ms();
  if (ms >= options_.heartbeat_ms) {
    hold_closes_until_ms_ = now + options_.heartbeat_ms * options_.liveness;
  }
  for (WorkerRef w : workers_.live()) {
    WorkerState& st = workers_.get(w);
    st.last_seen_ms = std::min(now, st.last_seen_ms + ms);
  }
}

void Scheduler::forget_idle_queues() {
  // Nothing else points at a queue with no task and no worker (dispatch's list holds
  // dirty ones only); the next task or worker naming it makes it anew.
  for (auto it = queues_.begin(); it != queues_.end();) {
    const TaskQueue& q = *it->second;
    if (it->first != default_queue_ && q.depth == 0 && q.in_flight == 0 && q.workers.empty() &&
        !q.dirty) {
      queues_.erase(it++);
    } else {
      ++it;
    }
  }
}

void Scheduler::forget_unused_names() {
  std::vector<bool> live(names_.id_bound());
  auto mark = [&live](NameId id) {
    if (id != kNoName) live[id] = true;
  };
  mark(default_queue_);
  for (const auto& [name, q] : queues_) {
    mark(name);
    for (const auto& lane : q->lanes()) mark(lane->name);
  }
  for (WorkerRef w : workers_.live()) {
    const WorkerState& st = workers_.get(w);
    mark(st.name_id);
    for (NameId q : st.queues) mark(q);
    for (NameId t : st.tasks) mark(t);
  }
  store_->for_each([&](TaskRef ref) {
    const TaskRecord& rec = store_->get(ref);
    mark(rec.name);
    mark(rec.queue);
    mark(rec.result_worker);
  });
  names_.forget_all_but(live);
  names_sweep_at_ = 2 * names_.size() + 1024;
}

int64_t Scheduler::next_deadline_ms() const {
  int64_t next = std::numeric_limits<int64_t>::max();
  int64_t silence = options_.heartbeat_ms * options_.liveness;
  for (WorkerRef w : workers_.live()) {
    const WorkerState& st = workers_.get(w);
    next = std::min({next, st.last_seen_ms + silence + 1, st.last_sent_ms + options_.heartbeat_ms});
  }
  if (!lease_timers_.empty()) next = std::min(next, lease_timers_.top().deadline);
  if (!waiter_timers_.empty()) next = std::min(next, waiter_timers_.top().deadline);
  if (!phantom_timers_.empty()) next = std::min(next, phantom_timers_.top().deadline);
  if (!expiry_.empty()) next = std::min(next, expiry_.front().deadline);
  if (!cancel_expiry_.empty()) next = std::min(next, cancel_expiry_.front().deadline);
  if (!grace_checked_) next = std::min(next, start_ms_ + options_.registration_grace_ms);
  return next;
}

void Scheduler::shutdown(std::string_view reason, Actions& out) {
  for (WorkerRef w : workers_.live()) {
    out.add_worker_message(workers_.get(w).peer)->mutable_shutdown()->set_reason(std::string(reason));
  }
}

}  // namespace shoal::broker
