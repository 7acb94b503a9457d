#pragma once
// The workers the scheduler knows, by ref, ZeroMQ routing id and name.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "broker/task_store.h"

namespace shoal::broker {

// A task leased to a worker, as it was leased: `ref` at generation `gen`, attempt `attempt`
// (an entry whose record has moved on since is stale).
struct HeldTask {
  TaskRef ref;
  uint32_t gen;
  uint16_t attempt;
};

// Copies of one task a worker still runs though they are not its lease (a "phantom"):
// the task ended by another copy's result, or the hello listed it as running while the
// broker leases it elsewhere or knows it no more. Each takes a process while it runs, at
// most until its time limit and grace have passed (then it is taken for lost: `freed`).
struct PhantomCopies {
  // Those started (counted in WorkerState::started), oldest first: when each one's time
  // limit and grace are over, from when it started or from when it became a phantom
  // (INT64_MAX: no limit, or none known). A result ends the oldest.
  std::vector<int64_t> started;  // a few at most: erased from the front
  // Taken for lost by the backstop (their process counted as free then): a result of
  // such a copy frees nothing. Oldest: a result is taken for one of these first.
  uint32_t freed = 0;
  // Those waiting: the entries of WorkerState::waiting that stand for them, oldest first.
  std::vector<HeldTask> waiting;

  // True if waiting entry `h` stands for one of these copies.
  bool stands_for(const HeldTask& h) const {
    return std::any_of(waiting.begin(), waiting.end(), [&](const HeldTask& e) {
      return e.ref == h.ref && e.gen == h.gen && e.attempt == h.attempt;
    });
  }
};

// One connected worker as the scheduler sees it.
struct WorkerState {
  std::string peer;  // ZeroMQ routing id
  std::string name;
  NameId name_id = 0;  // `name` interned (results name their worker by it)
  std::string host;
  uint64_t pid = 0;
  std::string instance;  // WorkerHello.instance: which process (with host and pid)
  std::vector<NameId> queues;
  // Of several queues: the index in `queues` of the one its next task is taken from first
  // (they take turns: Scheduler::lease_in_turn).
  uint32_t next_queue = 0;
  absl::flat_hash_set<NameId> tasks;  // task names it can run
  uint32_t slots = 0;
  uint32_t prefetch = 1;
  uint32_t credit = 0;                 // tasks it may be sent now
  absl::flat_hash_set<TaskRef> leased;  // tasks it holds
  // A worker starts the tasks it holds in the order it received them, at most `slots` at
  // once (worker.proto). Of `leased`, `started` have a process (their time limits
  // count) as far as the broker can tell: a result frees one for the first of `waiting`,
  // the others in the order they were sent (entries of tasks that left are skipped).
  // Phantoms (PhantomCopies) count too: in `started`, or in order among `waiting` (an
  // entry whose task has left, or moved on, stands for a waiting phantom of that task if
  // one of its PhantomCopies::waiting is that entry, even once the task's record has been
  // erased or reused by another task).
  uint32_t started = 0;
  std::deque<HeldTask> waiting;
  std::size_t waiting_after_prune = 0;  // entries `waiting` kept when last pruned
  // By task id; empty but for the rare cases PhantomCopies names. A result the worker
  // sends for one of these ids ends one copy (WorkerState::started or waiting).
  absl::flat_hash_map<std::string, PhantomCopies> phantoms;
  int64_t last_seen_ms = 0;  // last frame received
  int64_t last_sent_ms = 0;  // last frame sent
  bool live = false;
  // Said Bye{draining}: gets no tasks or credit any more, but keeps those it holds until
  // it leaves (or is lost).
  bool draining = false;
  // Its connection closed just after the broker was deaf: it gets nothing new, keeps
  // what it holds for its reconnect's hello, and is lost after liveness without one.
  bool closed = false;

  // The most tasks it may hold at once: slots x prefetch (at most UINT32_MAX).
  uint32_t capacity() const {
    uint64_t held = uint64_t(slots) * (prefetch == 0 ? 1 : prefetch);
    return uint32_t(std::min<uint64_t>(held, UINT32_MAX));
  }
};

// Registry of live workers; refs of removed workers are reused. Not thread-safe.
class WorkerRegistry {
 public:
  // Registers `state` (peer and name must be free) and returns its ref.
  WorkerRef add(WorkerState state);
  // Forgets worker `w`.
  void remove(WorkerRef w);
  // The live worker with this routing id / name, or kNoWorker.
  WorkerRef by_peer(const std::string& peer) const;
  WorkerRef by_name(const std::string& name) const;
  WorkerState& get(WorkerRef w) { return workers_[w]; }
  const WorkerState& get(WorkerRef w) const { return workers_[w]; }
  // Refs of all live workers (a copy: callers may remove while iterating).
  std::vector<WorkerRef> live() const;
  size_t size() const { return by_peer_.size(); }

 private:
  std::vector<WorkerState> workers_;
  std::vector<WorkerRef> free_;
  absl::flat_hash_map<std::string, WorkerRef> by_peer_;
  absl::flat_hash_map<std::string, WorkerRef> by_name_;
};

}  // namespace shoal::broker
