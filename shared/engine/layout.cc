#include "shared/engine/layout.h"

#include <new>

namespace shoal::engine {
namespace {

constexpr std::size_t kMinSlabBytes = std::size_t{64} << 20;

std::size_t align64(std::size_t n) { return (n + 63) & ~std::size_t{63}; }

}  // namespace

absl::StatusOr<SharedState> SharedState::create(const LayoutOptions& options) {
  if (options.records >= kKillPending) {
    return absl::InvalidArgumentError("too many task records for a token's index");
  }
  SharedState s;
  s.options_ = options;
  const std::size_t n = static_cast<std::size_t>(options.workers);
  // Duplicate tokens (re-pushed after a worker death, or of cancelled tasks) may sit
  // in the ring beside live ones: twice the records leaves room for them.
  const std::size_t ring_capacity = options.records * 2;
  std::size_t at = align64(sizeof(Control));
  const std::size_t records_at = at;
  at = align64(at + options.records * sizeof(TaskRecord));
  const std::size_t ring_at = at;
  at = align64(at + TokenRing::bytes_for(ring_capacity));
  const std::size_t slots_at = at;
  at = align64(at + n * sizeof(WorkerSlot));

  auto control = SharedRegion::create(at, false);
  if (!control.ok()) return control.status();
  const std::size_t ring_bytes = align64(ByteRing::bytes_for(options.result_ring_bytes));
  auto results = SharedRegion::create(ring_bytes * n, true);
  if (!results.ok()) return results.status();
  // Where address space cannot be reserved freely (vm.overcommit_memory=2, a ulimit -v),
  // the slab is halved until it fits, down to 64 MiB: larger arguments then fail their
  // tasks with an error that names the slab's size.
  std::size_t slab_bytes = options.slab_bytes;
  auto slab = SharedRegion::create(slab_bytes, true);
  while (!slab.ok() && slab_bytes / 2 >= kMinSlabBytes) {
    slab_bytes /= 2;
    slab = SharedRegion::create(slab_bytes, true);
  }
  if (!slab.ok()) return slab.status();

  s.control_region_ = std::move(*control);
  s.result_region_ = std::move(*results);
  s.slab_ = std::move(*slab);
  std::byte* base = s.control_region_.data();
  // The memory is zero-filled: constructing the atomics in place is only formal.
  s.control_ = new (base) Control();
  s.records_ = reinterpret_cast<TaskRecord*>(base + records_at);
  for (std::size_t i = 0; i < options.records; ++i) {
    new (&s.records_[i]) TaskRecord();
    s.records_[i].state.store(make_state(1, 0, kFree), std::memory_order_relaxed);
  }
  s.tasks_ = TokenRing(base + ring_at, ring_capacity);
  s.slots_ = reinterpret_cast<WorkerSlot*>(base + slots_at);
  for (std::size_t i = 0; i < n; ++i) new (&s.slots_[i]) WorkerSlot();
  for (std::size_t i = 0; i < n; ++i) {
    s.results_.emplace_back(s.result_region_.data() + i * ring_bytes, options.result_ring_bytes);
  }
  return s;
}

void SharedState::wake_workers(int n) {
  for (int w = 0; w < options_.workers && n > 0; ++w) {
    if (slots_[w].wake.wake()) --n;  // a worker already woken is not woken twice
  }
}

}  // namespace shoal::engine
