#pragma once
// The broker's scheduling state machine: named priority queues, workers with credits,
// leases, retries, cancellation, result retention and delivery. Pure: no threads, no
// I/O; time comes from an injected Clock. Each event method appends what must be sent
// to an Actions list. Not thread-safe: one thread owns a Scheduler.

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "broker/actions.h"
#include "broker/clock.h"
#include "broker/config.h"
#include "broker/name_table.h"
#include "broker/task_queue.h"
#include "broker/task_store.h"
#include "broker/worker_registry.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "shoal/v1/service.pb.h"
#include "shoal/v1/worker.pb.h"

namespace shoal::broker {

class Scheduler {
 public:
  // Collaborators; both must outlive the Scheduler.
  struct Deps {
    const Clock* clock = nullptr;
    TaskStore* store = nullptr;
  };

  Scheduler(SchedulerOptions options, Deps deps);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // --- Client events -----------------------------------------------------------------
  // A session opened / ended. Results of its tasks are sent to it while it is open;
  // afterwards they wait for a Watch or GetResult.
  void open_session(SessionId s);
  void close_session(SessionId s);
  // The client will send nothing more on `s`: once every task it submitted or watched
  // has been delivered, Actions::sessions_to_close asks the gateway to end it.
  void half_close_session(SessionId s, Actions& out);
  // Queues `tasks` (their strings are moved out). Answers the session with one Accepted
  // (new or already-known ids) and Rejected messages (RESOURCE_EXHAUSTED when full,
  // INVALID for bad tasks). A task no live worker of its queue can run ends at once
  // with NOT_REGISTERED. A known id re-attaches the session (and resends a result).
  void submit(SessionId s, google::protobuf::RepeatedPtrField<shoal::v1::Task>* tasks,
              Actions& out);
  // Sends the known results of `ids` to `s` now and the pending ones when they end
  // (to every live session that submitted or watched them); answers unknown ids with
  // one Unknown message.
  void watch(SessionId s, const google::protobuf::RepeatedPtrField<std::string>& ids,
             Actions& out);
  // Answers GetResult call `token` now, or when the task ends, or after wait_ms
  // (whichever is first), through Actions::replies. False, and nothing answered, when
  // the call would wait but max_waiting_results calls wait already (the caller refuses
  // it): each holds a gRPC call in the broker.
  bool get_result(std::string_view id, uint32_t wait_ms, uint64_t token, Actions& out);
  // GetResult call `token` ended unanswered (its client went away): it waits no more.
  // Nothing happens for a call answered or never seen.
  void forget_waiter(uint64_t token);
  // Cancels a queued task: it will never run and its result is CANCELLED. Running and
  // done tasks are left alone (cancelled = false, with their state). An unknown id is
  // left alone too, unless `even_if_unknown`: then it becomes a done task whose result
  // is CANCELLED (cancelled = true, state UNKNOWN), retained like a delivered result
  // (kept for the result ttl from now), so a submission of it arriving meanwhile is
  // answered with that result and never runs. Under the memory cap results are dropped
  // first: remembered cancels go early, oldest first, only when they alone exceed it.
  shoal::v1::CancelResponse cancel(std::string_view id, bool even_if_unknown, Actions& out);
  // Counts a malformed client message seen by a gateway (reported in Stats).
  void count_bad_client_message() { ++bad_client_messages_; }

  // --- Worker events -----------------------------------------------------------------
  // A well-formed, version-1 frame from routing id `peer` (fields may be moved out).
  // Bye{draining}: the worker gets no more tasks, but keeps those it holds (their
  // results are taken) until its final Bye, its disconnection or its silence. A hello
  // whose name a live worker of another process holds is answered with Refused.
  void worker_message(const std::string& peer, shoal::v1::WorkerMessage* msg, Actions& out);
  // The connection of `peer` is gone: its leased tasks are re-queued or failed. Within
  // liveness after the broker was deaf for a heartbeat or more (excuse_silence), the
  // worker is only closed to new tasks instead: it may have reconnected meanwhile, its
  // hello not yet read (it then hands over what it runs), else liveness ends it.
  void worker_disconnected(const std::string& peer, Actions& out);
  // Frames to these peers could not be sent: their connections are gone (a hello read
  // after its connection closed registered a worker no frame reaches). The tasks of
  // their batches still leased to the worker of that peer never left the broker: each
  // goes back to the front of its queue as it was (same attempt, no retry spent, its
  // time limit no longer running) and is never failed for it. Then each peer is taken
  // as closed (worker_disconnected). Returns how many tasks went back.
  size_t undeliverable(const std::vector<UndeliveredSend>& sends, Actions& out);

  // --- Time and lifetime -------------------------------------------------------------
  // Sends heartbeats, declares silent workers lost, expires leases past time limit +
  // grace, answers timed-out GetResult calls and drops expired results.
  void tick(Actions& out);
  // The broker read no worker frame for the last `ms` (its process was stopped, or a
  // round took that long): that time does not count as any live worker's silence, and
  // connections closing in the liveness after it wait for their reconnect.
  void excuse_silence(int64_t ms);
  // The earliest time at which tick() has something to do.
  int64_t next_deadline_ms() const;
  // Sends Shutdown to every worker.
  void shutdown(std::string_view reason, Actions& out);

  // --- Durability ----------------------------------------------------------------------
  // Brings back a task a durable store kept across a restart (before any event): queued
  // again when it had not ended (it may have been running: during the registration grace
  // it is leased to no one, waiting for a hello that says it still runs it), else done
  // with `result`, kept for one result ttl from now. A task submit() would refuse as unrunnable (bad
  // priority, name or queue) is not queued: it ends INVALID. No session waits for it; a
  // known id is skipped.
  void restore(shoal::v1::Task& task, shoal::v1::TaskResult* result);
  // Rewrites the store with the live tasks only (queued ones in queue order).
  absl::Status rewrite_store();

  // --- Queries -----------------------------------------------------------------------
  // Counters (bad_worker_frames counts malformed results only: the gateway adds its bad
  // frames; cpu_seconds is the broker's to fill in).
  shoal::v1::Stats stats() const;
  // Task, queue and worker names held (for tests: unused ones are forgotten).
  std::size_t interned_names() const { return names_.size(); }
  // Lease time-limit timers held (for tests: those of ended leases do not pile up).
  std::size_t lease_timers() const { return lease_timers_.size(); }
  // GetResult wait timers held (for tests: those of answered calls do not pile up).
  std::size_t waiter_timers() const { return waiter_timers_.size(); }
  // Sessions waiting for another session's task, counted per task (for tests: those of
  // closed sessions do not pile up).
  std::size_t watcher_entries() const;
  // GetResult calls waiting for their task to end.
  std::size_t waiting_results() const { return waiter_task_.size(); }
  // Entries held in the lanes of `queue`, live and stale, or 0 for a queue not held (for
  // tests: those of cancelled tasks do not pile up).
  std::size_t queue_entries(std::string_view queue) const;
  shoal::v1::ListWorkersResponse list_workers() const;
  shoal::v1::ListQueuesResponse list_queues() const;
  // Tests only: the seq the next queued task gets (FIFO order across lanes).
  void set_next_seq_for_testing(uint64_t seq) { next_seq_ = seq; }

 private:
  struct Timer {
    int64_t deadline;
    TaskRef ref;
    uint32_t gen;
    uint32_t attempt;
    bool operator>(const Timer& o) const { return deadline > o.deadline; }
  };
  struct Waiter {
    int64_t deadline;
    uint64_t token;
    bool operator>(const Waiter& o) const { return deadline > o.deadline; }
  };
  // A min-heap of timers from which those no longer current can be dropped before they
  // fall due (of leases that ended, of GetResult calls answered): with long time limits
  // and waits they would pile up.
  template <typename T>
  struct PrunableHeap : std::priority_queue<T, std::vector<T>, std::greater<T>> {
    template <typename Pred>
    void erase_if(Pred pred) {
      std::erase_if(this->c, pred);
      std::make_heap(this->c.begin(), this->c.end(), this->comp);
    }
  };
  // When a phantom copy of task `id` on `worker` (named `worker_name`) is over.
  struct PhantomTimer {
    int64_t deadline;
    WorkerRef worker;
    NameId worker_name;
    std::string id;
    bool operator>(const PhantomTimer& o) const { return deadline > o.deadline; }
  };
  using PhantomMap = decltype(WorkerState::phantoms);
  using LeaseTimerHeap = PrunableHeap<Timer>;
  using WaiterHeap = PrunableHeap<Waiter>;
  // A waiting GetResult call: its task, and its token's place in waiters_[task], so that
  // it leaves in O(1) (up to max_waiting_results calls may wait on one task).
  struct WaiterAt {
    TaskRef ref;
    uint32_t index;
  };
  using WaiterMap = absl::flat_hash_map<uint64_t, WaiterAt>;

  // Task life (scheduler.cc).
  void submit_one(SessionId s, shoal::v1::Task& task, shoal::v1::Accepted* accepted,
                  shoal::v1::Rejected** exhausted, Actions& out);
  // Makes unknown `id` a task that ended CANCELLED before the broker received it
  // (cancel() with even_if_unknown).
  void cancel_unknown(std::string_view id, Actions& out);
  // What makes a task invalid. A batch's invalid tasks get one Rejected per problem.
  enum class TaskProblem : uint8_t {
    kNone,
    kEmptyId,
    kLongId,
    kEmptyName,
    kLongName,
    kPriority,
    kLongQueue,  // unrunnable
    kRetries,
    kBigArgs,
    kCount
  };
  // Why `task` could never run as it is, or kNone: an empty id or name, a name no worker
  // could register, a priority outside 0..9, a queue name no worker could serve.
  TaskProblem unrunnable_problem(const shoal::v1::Task& task) const;
  // Why a submitted `task` is refused, or kNone: it is unrunnable, or its max_retries is
  // below -1, or its arguments are over the limit.
  TaskProblem task_problem(const shoal::v1::Task& task) const;
  // `problem` of `task` in one line: names the task by its quoted, shortened id.
  std::string describe(TaskProblem problem, const shoal::v1::Task& task) const;
  // Why a new task with `args_bytes` of arguments finds the broker full (--max-queued,
  // --task-memory-mb), for a Rejected's message, or "" when there is room for it.
  std::string fullness(uint64_t args_bytes) const;
  TaskQueue& queue_for(NameId name);
  // The lane of task name `name` in `q`, made with its count of capable workers when new.
  Lane& lane_of(TaskQueue& q, NameId name);
  // Queues `ref` at the back of its lane, or (a retry, `front`) with its seq kept: ahead
  // of the tasks queued after it first was.
  void enqueue(TaskRef ref, bool front);
  // Takes a queued task out of the count; its entry in the lane goes stale, until the
  // task is queued again as a retry (enqueue with `front`, same seq).
  void unqueue(TaskRecord& rec);
  // A new queue sequence number (never 0).
  uint64_t next_seq();
  // Fills a new record's fields from its submission (moving args out).
  void fill_record(TaskRecord& rec, shoal::v1::Task& task);
  // The Task a record describes, without args (id, name, queue, limits, attempt).
  void task_of(const TaskRecord& rec, shoal::v1::Task* task) const;
  // Makes `rec` done with `result` (its id set) retained in the record, not delivered.
  void retain_result(TaskRecord& rec, shoal::v1::TaskResult& result);
  // True until registration_grace_ms after start: unrunnable tasks wait meanwhile.
  bool in_registration_grace() const;
  // What became of the copy a running task's holder runs, when its lease ends.
  enum class HolderCopy {
    kEnded,         // it reported it, died, never got it, or is gone: its process is free
    kStillRuns,     // another copy's result ended the task: it becomes a phantom
    kTakenForLost,  // the backstop: its process counts as free, a late result frees none
  };
  // Ends task `ref` with `result` (retained, delivered); a running task's lease ends, its
  // holder's copy as `copy` says.
  void finish(TaskRef ref, std::unique_ptr<shoal::v1::TaskResult> result, Actions& out,
              HolderCopy copy = HolderCopy::kEnded);
  void fail(TaskRef ref, shoal::v1::ErrorKind kind, std::string message, uint32_t attempts,
            Actions& out);
  // Sends the result of done task `ref` to session `s`, if open: `result` when given,
  // else decoded from the record.
  void deliver(SessionId s, TaskRef ref, Actions& out,
               std::unique_ptr<shoal::v1::TaskResult> result = nullptr);
  // Starts the retention of done record `rec` (kept for the result ttl from now, or less
  // under the memory cap), unless it started already. A remembered cancel is dropped
  // early only once no result is left to drop: when remembered cancels alone fill the cap.
  void mark_delivered(TaskRecord& rec, TaskRef ref);
  // True if done record `rec` is a remembered cancel (cancel_unknown(), or restored from
  // one): the only records with no task name, which submit() refuses.
  bool remembered_cancel(const TaskRecord& rec) const { return names_.name(rec.name).empty(); }
  // The full result of done record `rec` (its id and worker put back).
  void decode_result(const TaskRecord& rec, shoal::v1::TaskResult* out) const;
  // Drops the result `t` points to, unless the record has moved on since.
  void expire(const Timer& t);
  shoal::v1::TaskState state_of(const TaskRecord& rec) const;
  void answer_waiters(TaskRef ref, Actions& out);
  // Call `it` waits no more: its token leaves its task's tokens (the last one takes its
  // place) and waiter_task_, in O(1).
  void drop_waiter(WaiterMap::iterator it);
  // Drops the timers of calls no longer waiting once they outnumber those waiting: an
  // answered or ended call's timer is otherwise skipped only when it falls due, up to 10
  // minutes on (amortised O(1) per call).
  void prune_waiter_timers();
  // Session `s` now waits for unfinished task `ref`: it takes the task over from a
  // session that is gone (a reconnect) or joins a live one (both get the result).
  // Drops queues with no task (queued or running) and no worker, but "default": any
  // client or worker may name queues, which must not pile up for the broker's life.
  void forget_idle_queues();
  // Forgets the interned names nothing refers to any more (task records, queues and
  // their lanes, workers); run when the table has doubled since the last time.
  void forget_unused_names();
  void attach(TaskRef ref, TaskRecord& rec, SessionId s);
  // Drops `ref` from what `s` watches (watching_), as its watchers_ entry went.
  void unwatch(SessionId s, TaskRef ref);
  // One task `s` waited for ended: a half-closed session with none left is closed.
  void detach(SessionId s, Actions& out);

  // Workers, leases and dispatch (scheduler_workers.cc).
  void on_hello(const std::string& peer, shoal::v1::WorkerHello& hello, Actions& out);
  void on_results(WorkerRef w, shoal::v1::ResultBatch& batch, Actions& out);
  bool accept_result(WorkerRef w, std::unique_ptr<shoal::v1::TaskResult> result, Actions& out);
  // Queues again a task worker `w` hands back unstarted under the lease it holds it by
  // (no attempt counted); any other entry is ignored.
  void take_back(WorkerRef w, const shoal::v1::ReturnedTask& returned);
  void add_credit(WorkerRef w, uint64_t grant);
  // Forgets worker `w` and re-queues or fails its leased tasks. Tasks of its queues that
  // no live worker can run then fail NOT_REGISTERED, unless `unchecked_queues` is given:
  // the queues are appended to it, for the caller to check when it is done.
  void remove_worker(WorkerRef w, const std::string& why, Actions& out,
                     std::vector<NameId>* unchecked_queues = nullptr);
  // Ends the lease of `rec` (running); unless `copy` still runs, its worker's next
  // waiting task may start.
  void unlease(TaskRecord& rec, TaskRef ref, HolderCopy copy);
  // `w` runs a copy of task `id` that is not its lease, in its order behind what it holds
  // (`ref`: the task's record, if the broker has one, else it counts as started at once).
  void hold_phantom(WorkerRef w, const std::string& id, const TaskRef* ref);
  // A result `w` sent for task `id` ends one of its phantom copies of it, if it has one
  // (freeing its process, or its place among the waiting): true if it did.
  bool end_phantom(WorkerRef w, const std::string& id);
  // Waiting entry `h` of `w`, whose task has left or moved on, stands for a waiting
  // phantom of the task if there is one: it starts, taking a process.
  void start_phantom(WorkerRef w, const HeldTask& h);
  // The phantom copies of `st` that waiting entry `h` stands for, or phantoms.end(). Found
  // by the id of the entry's record while it still holds the entry's task (same gen), else
  // (its result expired, its record erased or reused) by a search of st's phantoms.
  PhantomMap::iterator phantom_for(WorkerState& st, const HeldTask& h);
  // A phantom copy of task `id` (`rec`: its record, or nullptr if unknown) starts on `w`
  // now, taking a process; with a known time limit, it holds it until limit + grace at
  // most (expire_phantoms).
  void start_phantom_copy(WorkerRef w, PhantomCopies& p, const std::string& id,
                          const TaskRecord* rec);
  // Phantom copies whose limit + grace have passed are taken for lost, as the backstop
  // takes a lease: their processes count as free (a later result of one frees none).
  void expire_phantoms(int64_t now);
  // Keeps `w`'s phantoms bounded: a worker holds at most capacity() copies, so beyond
  // that the oldest knowledge is wrong (copies it lost without a result); amortised O(1).
  void prune_phantoms(WorkerRef w);
  // Adds running `ref` to what `w` holds, behind the tasks it was sent before: started
  // (its time limit armed from `now`) if `w` has a process free for it, else waiting.
  void hold(TaskRef ref, TaskRecord& rec, WorkerRef w, int64_t now);
  // Starts the tasks waiting on `w`, oldest first, while it has processes free for them,
  // arming their time limits from now.
  void start_waiting(WorkerRef w);
  // Arms the backstop of `ref`, which its worker started at `now`: the attempt is lost
  // once its limit (per item of a chunk) and the grace have passed with no result.
  void arm_time_limit(TaskRef ref, const TaskRecord& rec, int64_t now);
  // When a run of `rec` started at `now` is over: its limit (per item of a chunk) and the
  // grace from now, or INT64_MAX with no limit.
  int64_t run_deadline(const TaskRecord& rec, int64_t now) const;
  // True while the lease timer `t` was armed for is still running.
  bool lease_timer_current(const Timer& t) const;
  // Attempt of running `ref` lost (its holder's copy as `copy` says): retried while its
  // retries allow, else ended with `reported` or a WORKER_LOST failure saying `why`.
  void lost_attempt(TaskRef ref, const std::string& why,
                    std::unique_ptr<shoal::v1::TaskResult> reported, Actions& out,
                    HolderCopy copy = HolderCopy::kEnded);
  void fail_unrunnable(TaskQueue& q, Actions& out);
  void mark_dirty(TaskQueue& q);
  // Leases queued tasks to workers with credit, for each queue marked dirty.
  void dispatch(Actions& out);
  // Leases to `w`, a worker of several queues, while it has credit: one task from each of
  // its queues in turn (highest priority first within each), from the queue after the one
  // its last task came from, skipping those with nothing it can run.
  void lease_in_turn(WorkerRef w, Actions& out);
  void release_restored();  // puts held_restored_ in their lanes
  void lease(TaskRef ref, WorkerRef w, TaskQueue& q, Actions& out);
  void send_to(WorkerRef w, Actions& out);

  SchedulerOptions options_;
  const Clock* clock_;
  TaskStore* store_;
  int64_t start_ms_;
  int64_t hold_closes_until_ms_ = 0;  // worker_disconnected(): deafness just ended

  NameTable names_;
  NameId default_queue_;
  absl::flat_hash_map<NameId, std::unique_ptr<TaskQueue>> queues_;
  std::vector<TaskQueue*> dirty_;
  WorkerRegistry workers_;
  absl::flat_hash_set<SessionId> sessions_;
  absl::flat_hash_map<SessionId, uint64_t> pending_;  // open session -> its unfinished tasks
  absl::flat_hash_set<SessionId> half_closed_;
  uint64_t next_seq_ = 1;
  bool grace_checked_;  // queues checked for unrunnable tasks since the grace ended
  // Restored unfinished tasks, counted as queued but kept out of their lanes (so leased to
  // no one) until the registration grace ends: a worker still running one may yet claim it.
  std::vector<QueueEntry> held_restored_;

  // The Task.lease of `ref` at generation `gen`: the ref in the low half, and in the high
  // half a hash of both keyed by options_.lease_key, which no worker can compute.
  uint64_t lease_of(TaskRef ref, uint32_t gen) const;

  std::array<unsigned char, 16> lease_key_{};
  shoal::v1::Task lease_scratch_;  // reused by lease(): its strings keep their buffers
  LeaseTimerHeap lease_timers_;
  PrunableHeap<PhantomTimer> phantom_timers_;
  std::size_t phantom_timers_prune_at_ = 64;  // drop those of ended copies past this
  WaiterHeap waiter_timers_;
  WaiterMap waiter_task_;                                        // token -> task, place
  absl::flat_hash_map<TaskRef, std::vector<uint64_t>> waiters_;  // task -> tokens
  // Unfinished task -> live sessions other than its record's that wait for it too (a
  // second client watching it). Rarely any. watching_ is the same pairs by session, so
  // that a session's entries go when it closes (a task that never ends would otherwise
  // collect every session that ever watched it).
  absl::flat_hash_map<TaskRef, absl::flat_hash_set<SessionId>> watchers_;
  absl::flat_hash_map<SessionId, absl::flat_hash_set<TaskRef>> watching_;
  static constexpr int64_t kQueueSweepMs = 10'000;
  int64_t next_queue_sweep_ms_ = 0;
  std::size_t names_sweep_at_ = 1024;  // forget_unused_names when more are interned
  std::deque<Timer> expiry_;  // retained results, by expiry (ttl is constant)
  // Remembered cancels (cancel_unknown()), by expiry: kept apart because under the memory
  // cap they give way only to each other, never to results (mark_delivered()).
  std::deque<Timer> cancel_expiry_;
  uint64_t retained_bytes_ = 0;  // of results in the store

  uint64_t submitted_ = 0, completed_ = 0, failed_ = 0, retried_ = 0;
  uint64_t queued_ = 0, running_ = 0, retained_ = 0, bad_client_messages_ = 0;
  uint64_t task_bytes_ = 0;  // args of the records not done (fill_record to retain_result)
  uint64_t bad_worker_results_ = 0;  // in none of TaskResult's forms
  static constexpr int kRateBuckets = 8;  // completions per second, last seconds
  mutable int64_t rate_second_[kRateBuckets] = {};
  mutable uint64_t rate_count_[kRateBuckets] = {};
  void count_completion();
};

}  // namespace shoal::broker
