#pragma once
// Task records and the store that owns them. The scheduler keeps only compact indices
// (queues of TaskRef, leases) and reaches task data through a TaskStore, so a durable
// store (durable_task_store.h) can replace the in-memory default.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "shoal/v1/task.pb.h"

namespace shoal::broker {

using TaskRef = uint32_t;    // index of a record in its store
using NameId = uint32_t;     // an interned queue or task name
using WorkerRef = uint32_t;  // index of a worker in the scheduler
using SessionId = uint64_t;  // a client session (0 = none; 64 bits, so ids never wrap)
inline constexpr WorkerRef kNoWorker = ~0u;
inline constexpr NameId kNoName = ~0u;

enum class TaskPhase : uint8_t { kQueued, kRunning, kDone };

// One task as the broker keeps it (~128 bytes plus the id and args when longer than
// the small-string buffer). Arguments are stored once and dropped when the task ends.
struct TaskRecord {
  std::string id;
  std::string args;                              // MessagePack; cleared when done
  // Done: the encoded TaskResult without its id (that is `id`) and, when
  // `result_worker` names it, without its worker: a small result then fits the
  // string's own buffer and retaining it allocates nothing.
  std::string result;
  uint64_t time_limit_ms = 0;
  int64_t deadline_ms = 0;   // done: when its retention ends (INT64_MAX inside finish())
  uint64_t seq = 0;          // queued: matches its queue entry (a retry keeps it)
  uint32_t gen = 0;          // bumped on each reuse of the slot (stale timers are skipped)
  NameId name = 0;
  NameId queue = 0;
  // Done: the interned worker name left out of `result`. Queued: the worker whose loss
  // re-queued it (a retry spent), kNoName once it is leased again: if that worker's
  // hello says it still runs the task, it takes it back and the retry is given back.
  NameId result_worker = kNoName;
  uint32_t items = 0;
  WorkerRef worker = kNoWorker;  // running: the lease holder
  SessionId session = 0;         // where the result goes
  int16_t max_retries = 0;       // resolved (never -1)
  uint16_t attempt = 0;          // 0 for the first run
  uint8_t priority = 0;
  TaskPhase phase = TaskPhase::kQueued;
  // Running: its worker holds it behind tasks it has yet to end (prefetched), so it has
  // not started and its time limit does not count yet (WorkerState::waiting).
  bool waiting = false;
};

// Owner of all task records, addressed by TaskRef and found by id. Not thread-safe:
// the scheduler's thread is its only user. References returned stay valid until the
// record is erased.
class TaskStore {
 public:
  virtual ~TaskStore() = default;
  // Creates an empty record for `id` (which must not exist) and returns its ref.
  virtual TaskRef insert(std::string id) = 0;
  // The ref of the record with this id, or false.
  virtual bool find(std::string_view id, TaskRef* ref) const = 0;
  // True if `ref` names a live record whose id is `id` (a cheaper find when the caller
  // holds a ref that may be stale or forged).
  virtual bool matches(TaskRef ref, std::string_view id) const = 0;
  // The record behind a live ref.
  virtual TaskRecord& get(TaskRef ref) = 0;
  virtual const TaskRecord& get(TaskRef ref) const = 0;
  // Destroys the record; `ref` may be reused by a later insert (with a new gen).
  virtual void erase(TaskRef ref) = 0;
  // Number of live records.
  virtual size_t size() const = 0;
  // Calls `fn` with the ref of every live record, in no particular order.
  virtual void for_each(const std::function<void(TaskRef)>& fn) const = 0;

  // --- Durability. A store that keeps nothing across restarts ignores all of this. ---
  // True if the hooks below keep anything (callers skip building what they take).
  virtual bool durable() const { return false; }
  // Bytes the store keeps on disk (0 when it keeps nothing).
  virtual uint64_t stored_bytes() const { return 0; }
  // A task was accepted, as submitted (`attempt` = retries it has used).
  virtual void accepted(const shoal::v1::Task& /*task*/) {}
  // A task ended with `result` (its id set).
  virtual void ended(const shoal::v1::TaskResult& /*result*/) {}
  // A task is queued again after a lost attempt; it has used `attempt` retries.
  virtual void retried(const std::string& /*id*/, uint32_t /*attempt*/) {}
  // Makes every change so far survive a crash of this process. Called before anything
  // is acknowledged; a failure means nothing more can be made durable.
  virtual absl::Status commit() { return absl::OkStatus(); }
  // Receives one live task (and its result, if it ended) when the store is rewritten.
  using LiveTaskSink =
      std::function<void(const shoal::v1::Task& task, const shoal::v1::TaskResult* result)>;
  // True when what the store keeps has grown well past the live tasks.
  virtual bool wants_rewrite() const { return false; }
  // Replaces what the store keeps with what `write_live` passes to its sink.
  virtual absl::Status rewrite(const std::function<void(const LiveTaskSink&)>& /*write_live*/) {
    return absl::OkStatus();
  }
};

// The default store: records in fixed-size chunks (stable addresses, no growth copies)
// and an id index of 8-byte entries (the id's hash and the ref).
class InMemoryTaskStore final : public TaskStore {
 public:
  InMemoryTaskStore();
  InMemoryTaskStore(const InMemoryTaskStore&) = delete;
  InMemoryTaskStore& operator=(const InMemoryTaskStore&) = delete;

  TaskRef insert(std::string id) override;
  bool find(std::string_view id, TaskRef* ref) const override;
  bool matches(TaskRef ref, std::string_view id) const override {
    if (ref >= next_) return false;
    const TaskRecord& rec = get(ref);
    return !rec.id.empty() && rec.id == id;
  }
  TaskRecord& get(TaskRef ref) override { return chunks_[ref >> kChunkBits][ref & kChunkMask]; }
  const TaskRecord& get(TaskRef ref) const override {
    return chunks_[ref >> kChunkBits][ref & kChunkMask];
  }
  void erase(TaskRef ref) override;
  size_t size() const override { return index_.size(); }
  void for_each(const std::function<void(TaskRef)>& fn) const override {
    for (Entry e : index_) fn(TaskRef(e));
  }

 private:
  static constexpr uint32_t kChunkBits = 12;
  static constexpr uint32_t kChunkMask = (1u << kChunkBits) - 1;

  // The index holds one 64-bit entry per record: a 32-bit hash of its id (high half)
  // and its ref (low half). Probing and rehashing read only the entries; a record's id
  // is read only when the hashes match, so a miss (the duplicate check of every
  // submission) touches no record at all.
  using Entry = uint64_t;
  struct Key {  // an id being looked up, hashed once
    std::string_view id;
    uint32_t hash;
  };
  static uint32_t hash_id(std::string_view id);
  static Entry entry(uint32_t hash, TaskRef ref) { return uint64_t{hash} << 32 | ref; }
  struct IdHash {
    using is_transparent = void;
    // Spreads the 32-bit hash over 64 bits (absl takes H2 from the low bits).
    static size_t spread(uint32_t h) { return size_t{h} * 0x9E3779B97F4A7C15ull ^ h; }
    size_t operator()(Entry e) const { return spread(uint32_t(e >> 32)); }
    size_t operator()(const Key& k) const { return spread(k.hash); }
  };
  struct IdEq {
    using is_transparent = void;
    const InMemoryTaskStore* store;
    bool operator()(Entry a, Entry b) const { return a == b; }
    bool operator()(Entry a, const Key& k) const {
      return uint32_t(a >> 32) == k.hash && store->get(TaskRef(a)).id == k.id;
    }
    bool operator()(const Key& k, Entry a) const { return (*this)(a, k); }
  };

  std::vector<std::unique_ptr<TaskRecord[]>> chunks_;
  std::vector<TaskRef> free_;
  TaskRef next_ = 0;
  absl::flat_hash_set<Entry, IdHash, IdEq> index_;
};

}  // namespace shoal::broker
