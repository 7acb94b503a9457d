#pragma once
// What the pool process, its zygote and its workers share: one control region (task
// records, the task ring, per-worker slots and control words), one result ring per
// worker, and the payload slab. Made before the zygote is forked, so every process
// sees the same pages at the same addresses.
//
// A task travels as a token (generation << 32 | record index, never 0: generations skip
// 0 when they wrap) through the task ring.
// The record's state word decides who runs it: a worker runs a record only after its
// CAS (gen, kQueued) -> (gen, worker, kRunning) succeeds, so stale or duplicate tokens
// are harmless, and the pool cancels a task by winning that race instead.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "shared/engine/byte_ring.h"
#include "shared/engine/futex.h"
#include "shared/engine/shared_region.h"
#include "shared/engine/token_ring.h"

namespace shoal::engine {

inline constexpr std::size_t kInlineArgs = 72;

inline std::uint64_t make_token(std::uint32_t gen, std::uint32_t index) {
  return std::uint64_t{gen} << 32 | index;
}
// A record's generation after `gen`, never 0: record 0's token would then be 0, which a
// worker's slot (WorkerSlot::current) and the pool's watch of it read as "no task" (its
// time limit went unenforced, and the death of its worker unnoticed).
inline std::uint32_t next_gen(std::uint32_t gen) { return gen == UINT32_MAX ? 1 : gen + 1; }
inline std::uint32_t token_gen(std::uint64_t token) {
  return static_cast<std::uint32_t>(token >> 32);
}
// A token's record index; WorkerSlot::current's kill mark is not part of it.
inline std::uint32_t token_index(std::uint64_t token) {
  return static_cast<std::uint32_t>(token) & 0x7fffffffu;
}

// Set in WorkerSlot::current by the pool once it has decided to kill the worker for
// its task's time limit; the worker that finds it there takes no other task.
inline constexpr std::uint64_t kKillPending = std::uint64_t{1} << 31;

// Phases of a task record.
enum Phase : std::uint8_t { kFree = 0, kQueued = 1, kRunning = 2 };
inline std::uint64_t make_state(std::uint32_t gen, std::uint32_t worker, Phase phase) {
  return std::uint64_t{gen} << 32 | std::uint64_t{worker & 0xffffff} << 8 | phase;
}

// One task in flight. Written by the pool before its token is pushed; read by the
// worker that claims it.
// Set in TaskRecord::items when the job has a time limit: the worker then restarts the
// limit at each item (internal::item_started).
constexpr std::uint64_t kTimedItems = std::uint64_t{1} << 63;

struct alignas(64) TaskRecord {
  std::atomic<std::uint64_t> state;
  std::uint64_t invoke;  // the Invoker's address (valid in forked children)
  std::uint64_t fn;      // the task function's address
  std::uint64_t items;  // | kTimedItems when the job has a time limit
  std::uint64_t args_size;
  std::uint64_t args_offset;  // in the slab, when args_size > kInlineArgs
  std::uint64_t seq;
  char inline_args[kInlineArgs];
};
static_assert(sizeof(TaskRecord) == 128);

// Life of a worker slot, as the zygote reports it.
enum Life : std::uint32_t { kStarting = 0, kAlive = 1, kDead = 2 };

struct alignas(64) WorkerSlot {
  std::atomic<std::uint64_t> current;     // token being claimed or run (| kKillPending); 0: none
  std::atomic<std::int64_t> started_ns;   // when `current` started (now_ns clock)
  std::atomic<std::int32_t> pid;          // the live worker's pid, 0 when none (zygote; the
                                          // worker stores it too, before its first task)
  std::atomic<std::int32_t> dead_pid;     // the pid that died, once kDead (zygote)
  std::atomic<std::int32_t> wait_status;  // its waitpid status; -1: fork failed (zygote)
  std::atomic<std::int32_t> fork_errno;   // fork's errno when wait_status is -1 (zygote)
  std::atomic<std::uint32_t> life;        // Life: kAlive/kDead by the zygote, kStarting
                                          // by the pool once it has handled a death
  alignas(64) SingleWaiterWord wake;      // the worker sleeps here for tasks
};

struct alignas(64) Control {
  alignas(64) WaitWord results;                     // the pool's collector sleeps here
  alignas(64) std::atomic<std::uint32_t> shutdown;  // workers exit when idle
  std::atomic<std::uint32_t> deaths;                // bumped by the zygote on every reap
};

// Sizes of the shared parts.
struct LayoutOptions {
  int workers = 1;
  std::size_t records = 4096;                     // tasks in flight at most
  std::size_t result_ring_bytes = 16u << 20;      // per worker
  std::size_t slab_bytes = std::size_t{8} << 30;  // reserved, touched on demand
};

// The shared memory of one pool and every process's views of it (made in the pool's
// process before any fork, so children inherit the views without allocating).
class SharedState {
 public:
  static absl::StatusOr<SharedState> create(const LayoutOptions& options);

  Control& control() const { return *control_; }
  TaskRecord& record(std::uint32_t index) const { return records_[index]; }
  std::size_t record_count() const { return options_.records; }
  TokenRing& tasks() { return tasks_; }
  WorkerSlot& slot(int worker) const { return slots_[worker]; }
  ByteRing& results(int worker) { return results_[worker]; }
  int workers() const { return options_.workers; }
  std::byte* slab() const { return slab_.data(); }
  SharedRegion& slab_region() { return slab_; }
  // The arguments of `r` (inline or in the slab).
  const char* args_of(const TaskRecord& r) const {
    return r.args_size <= kInlineArgs ? r.inline_args
                                      : reinterpret_cast<const char*>(slab_.data() + r.args_offset);
  }
  // Wakes up to `n` sleeping workers (no system call when none sleeps).
  void wake_workers(int n);

 private:
  LayoutOptions options_;
  SharedRegion control_region_;
  SharedRegion result_region_;
  SharedRegion slab_;
  Control* control_ = nullptr;
  TaskRecord* records_ = nullptr;
  WorkerSlot* slots_ = nullptr;
  TokenRing tasks_;
  std::vector<ByteRing> results_;
};

}  // namespace shoal::engine
