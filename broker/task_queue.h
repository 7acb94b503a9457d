#pragma once
// A named queue: per task name a lane of ten FIFOs (priorities 0-9), each in seq order.
// Entries are 16 bytes; a task taken out of the queue other than by pop_for (cancelled,
// claimed back by a hello) leaves its entry behind, stale while the task is not queued
// (or its record is another task's: the seq no longer matches) and skipped lazily, so
// removal is O(1). A retry queued again with its seq finds that entry live again. Stale
// entries behind a head that does not move (no worker can run it yet) are dropped once
// they outnumber the queue's live tasks 2:1, so they cannot pile up.

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "broker/task_store.h"

namespace shoal::broker {

inline constexpr int kPriorities = 10;

struct QueueEntry {
  TaskRef ref;
  uint64_t seq;  // the record's seq when queued (64 bits: FIFO order never wraps)
};

// The queued tasks of one name in one queue.
struct Lane {
  explicit Lane(NameId task_name) : name(task_name) {}
  NameId name;
  uint32_t capable_workers = 0;  // live workers of the queue that have this name
  uint16_t mask = 0;             // bit p set: by_priority[p] may hold entries
  std::array<std::deque<QueueEntry>, kPriorities> by_priority;
};

// One named queue with its lanes and the workers serving it. Not thread-safe.
class TaskQueue {
 public:
  explicit TaskQueue(NameId name) : name_(name) {}
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  NameId name() const { return name_; }
  // The lane for `task_name`, created empty when absent. The reference is stable.
  Lane& lane(NameId task_name);
  // The lane for `task_name`, or nullptr.
  Lane* find_lane(NameId task_name);
  // All lanes, for scans on worker arrival and departure.
  const std::vector<std::unique_ptr<Lane>>& lanes() const { return lanes_; }

  // Queues `entry` at the back of its priority in `lane`; a retry (`front`) goes where
  // its seq puts it (it waited its turn already), or, when its stale entry is still
  // there, is queued by that entry alone. Drops the stale entries of that priority of
  // `lane` once they outnumber the queue's live tasks (`depth`) 2:1, in amortised O(1).
  void push(const TaskStore& store, Lane& lane, QueueEntry entry, int priority, bool front);
  // Removes and returns (in *ref) the next live task a worker able to run `can_run`
  // should get: highest priority first, FIFO within a priority across lanes. False when
  // no live task of those names is queued.
  bool pop_for(const TaskStore& store, const absl::flat_hash_set<NameId>& can_run, TaskRef* ref);
  // Removes every entry of `lane` and returns the live ones in queue order.
  std::vector<TaskRef> drain(const TaskStore& store, Lane& lane);
  // Drops the lanes that hold no live task (stale entries are cleaned first), which
  // invalidates references to them; returns how many lanes are left. pop_for scans every
  // lane, so lanes of names no longer queued (a client that sent many distinct names)
  // must not pile up.
  std::size_t forget_empty_lanes(const TaskStore& store);
  // Entries held in all lanes, live and stale (for tests: stale ones do not pile up).
  std::size_t entries() const;

  uint64_t depth = 0;              // live queued tasks (kept by the scheduler, read by push)
  uint64_t in_flight = 0;          // leased tasks of this queue
  std::vector<WorkerRef> workers;  // live workers serving it
  uint32_t rr = 0;                 // round-robin start among workers
  bool dirty = false;              // in the scheduler's dispatch list
  std::size_t lanes_after_sweep = 0;  // lanes left by the last forget_empty_lanes

 private:
  // Drops stale entries at the head of lane's priority p; true if a live one remains.
  static bool clean_head(const TaskStore& store, Lane& lane, int p);

  NameId name_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  absl::flat_hash_map<NameId, Lane*> by_name_;
};

// True when `entry` still designates a queued task.
inline bool is_live(const TaskStore& store, QueueEntry entry) {
  const TaskRecord& rec = store.get(entry.ref);
  return rec.phase == TaskPhase::kQueued && rec.seq == entry.seq;
}

}  // namespace shoal::broker
