// ByteQueue: byte rings in shared memory with one lock per side, so a producer and a
// consumer never contend on the same lock; they meet only on published positions.
//
// Records are [u32 length][u32 unused][payload, padded to 8 bytes] at monotonically
// increasing 64-bit positions; position p lives at ring offset p % capacity. Items go
// to the small main ring, whose pages stay warm. When it is full (or the item is big)
// the producers switch to the spill ring, remembering where the main ring stopped
// (switch_pos); consumers read the main ring up to switch_pos, then the spill ring.
// Producers switch back once consumers have drained the spill ring, so FIFO order
// holds across both. Waiters sleep on the other side's operation counter after a
// short spin.
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "shared/mp/futex.h"
#include "shoal/queue.hpp"

namespace shoal::internal {
namespace {

constexpr uint64_t kHeaderBytes = 4096;
constexpr uint64_t kMainBytes = 4u << 20;
constexpr uint64_t kRecordHeader = 8;
constexpr uint64_t kReleaseChunk = 2u << 20;  // spill memory goes back per 2 MiB consumed
constexpr auto kSpinFor = std::chrono::microseconds(40);

uint64_t spill_capacity() {
  uint64_t phys = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
                  static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint64_t cap = 64u << 20;
  while (cap * 2 <= std::min<uint64_t>(phys / 2, 4ull << 30)) cap *= 2;
  return cap;
}

uint64_t record_size(uint64_t len) { return kRecordHeader + ((len + 7) & ~uint64_t{7}); }

void write_record(std::byte* ring, uint64_t cap, uint64_t pos, std::string_view item) {
  const uint32_t len = static_cast<uint32_t>(item.size());
  std::memcpy(ring + pos % cap, &len, sizeof len);
  const uint64_t at = (pos + kRecordHeader) % cap;
  const uint64_t first = std::min<uint64_t>(item.size(), cap - at);
  std::memcpy(ring + at, item.data(), first);
  if (first < item.size()) std::memcpy(ring, item.data() + first, item.size() - first);
}

// Copies the record at `pos` into `out`; returns the position after it.
uint64_t read_record(const std::byte* ring, uint64_t cap, uint64_t pos, std::string& out) {
  uint32_t len;
  std::memcpy(&len, ring + pos % cap, sizeof len);
  out.resize(len);
  const uint64_t at = (pos + kRecordHeader) % cap;
  const uint64_t first = std::min<uint64_t>(len, cap - at);
  std::memcpy(out.data(), ring + at, first);
  if (first < len) std::memcpy(out.data() + first, ring, len - first);
  return pos + record_size(len);
}

class SideLock {
 public:
  explicit SideLock(std::atomic<uint32_t>* word) : word_(word) {
    owner_acquire(word_, self_pid_u32(), std::nullopt);
  }
  ~SideLock() { owner_release(word_); }

 private:
  std::atomic<uint32_t>* word_;
};

}  // namespace

struct ByteQueue::Header {
  // Producers (under put_lock).
  // Positions are only ever advanced by publishing them, so a producer or consumer that
  // dies mid-copy leaves nothing half-visible: the next one rewrites or rereads it.
  alignas(64) std::atomic<uint32_t> put_lock;
  std::atomic<uint32_t> spilling;    // written by producers only
  std::atomic<uint64_t> switch_pos;  // main position where spilling began
  std::atomic<uint64_t> main_tail_pub;
  std::atomic<uint64_t> spill_tail_pub;
  std::atomic<uint64_t> items_put;
  std::atomic<uint32_t> puts;  // bumped by every put: consumers sleep on it
  // Consumers (under get_lock).
  alignas(64) std::atomic<uint32_t> get_lock;
  uint64_t spill_released;
  std::atomic<uint64_t> main_head_pub;
  std::atomic<uint64_t> spill_head_pub;
  std::atomic<uint64_t> items_got;
  std::atomic<uint32_t> gets;  // bumped by every get: producers sleep on it
  alignas(64) std::atomic<uint32_t> get_waiters;
  std::atomic<uint32_t> put_waiters;
  alignas(64) std::atomic<uint32_t> unfinished;
  uint64_t maxsize;
  uint64_t spill_cap;
  uint32_t joinable;
};

ByteQueue::ByteQueue(std::size_t maxsize, bool joinable) {
  static_assert(sizeof(Header) <= kHeaderBytes);
  const uint64_t spill_cap = spill_capacity();
  region_ = SharedRegion::create(kHeaderBytes + kMainBytes + spill_cap, /*reserve_only=*/true);
  h_ = new (region_->data()) Header();
  h_->maxsize = maxsize;
  h_->spill_cap = spill_cap;
  h_->joinable = joinable ? 1 : 0;
  main_ = region_->data() + kHeaderBytes;
  spill_ = main_ + kMainBytes;
}

ByteQueue::~ByteQueue() = default;

void ByteQueue::check_open(const char* what) const {
  if (closed_) {
    throw std::logic_error(std::string("shoal::Queue::") + what + ": the queue is closed");
  }
}

bool ByteQueue::put(std::string_view item, bool block, const Deadline& deadline) {
  const uint64_t rec = record_size(item.size());
  if (item.size() > std::numeric_limits<uint32_t>::max() || rec > h_->spill_cap / 4) {
    throw Error("shoal::Queue::put: an item of " + std::to_string(item.size()) +
                " bytes is larger than a queue can hold");
  }
  for (;;) {
    uint32_t seen_gets;
    if (try_put(item, rec, seen_gets)) return true;
    if (!block) return false;
    if (!wait_changed(&h_->gets, seen_gets, &h_->put_waiters, deadline)) {
      return try_put(item, rec, seen_gets);
    }
  }
}

bool ByteQueue::try_put(std::string_view item, uint64_t rec, uint32_t& seen_gets) {
  {
    SideLock lock(&h_->put_lock);
    seen_gets = h_->gets.load(std::memory_order_acquire);
    const uint64_t count = h_->items_put.load(std::memory_order_relaxed) -
                           h_->items_got.load(std::memory_order_acquire);
    if (h_->maxsize != 0 && count >= h_->maxsize) return false;
    bool spilling = h_->spilling.load(std::memory_order_relaxed) != 0;
    const uint64_t main_tail = h_->main_tail_pub.load(std::memory_order_relaxed);
    const uint64_t spill_tail = h_->spill_tail_pub.load(std::memory_order_relaxed);
    if (spilling && h_->spill_head_pub.load(std::memory_order_acquire) == spill_tail) {
      spilling = false;  // consumers drained the spill ring: back to the main ring
      h_->spilling.store(0, std::memory_order_release);
    }
    if (!spilling) {
      if (rec > kMainBytes / 4 ||
          main_tail + rec - h_->main_head_pub.load(std::memory_order_acquire) > kMainBytes) {
        spilling = true;
        h_->switch_pos.store(main_tail, std::memory_order_relaxed);
        h_->spilling.store(1, std::memory_order_release);
      }
    }
    if (spilling &&
        spill_tail + rec - h_->spill_head_pub.load(std::memory_order_acquire) > h_->spill_cap) {
      return false;
    }
    // Count the item before a consumer can see it (task_done may follow at once).
    h_->items_put.fetch_add(1, std::memory_order_relaxed);
    if (h_->joinable) h_->unfinished.fetch_add(1);
    if (!spilling) {
      write_record(main_, kMainBytes, main_tail, item);
      h_->main_tail_pub.store(main_tail + rec, std::memory_order_release);
    } else {
      write_record(spill_, h_->spill_cap, spill_tail, item);
      h_->spill_tail_pub.store(spill_tail + rec, std::memory_order_release);
    }
    h_->puts.fetch_add(1, std::memory_order_seq_cst);
  }
  if (h_->get_waiters.load(std::memory_order_seq_cst) > 0) futex_wake(&h_->puts, 1);
  return true;
}

bool ByteQueue::get(std::string& out, bool block, const Deadline& deadline) {
  for (;;) {
    uint32_t seen_puts;
    if (try_get(out, seen_puts)) return true;
    if (!block) return false;
    if (!wait_changed(&h_->puts, seen_puts, &h_->get_waiters, deadline)) {
      return try_get(out, seen_puts);
    }
  }
}

bool ByteQueue::try_get(std::string& out, uint32_t& seen_puts) {
  {
    SideLock lock(&h_->get_lock);
    seen_puts = h_->puts.load(std::memory_order_acquire);
    const bool spilling = h_->spilling.load(std::memory_order_acquire) != 0;
    const uint64_t head = h_->main_head_pub.load(std::memory_order_relaxed);
    const uint64_t main_end = spilling ? h_->switch_pos.load(std::memory_order_relaxed)
                                       : h_->main_tail_pub.load(std::memory_order_acquire);
    if (head < main_end) {
      const uint64_t next = read_record(main_, kMainBytes, head, out);
      h_->main_head_pub.store(next, std::memory_order_release);
    } else if (const uint64_t spill_head = h_->spill_head_pub.load(std::memory_order_relaxed);
               spilling && spill_head < h_->spill_tail_pub.load(std::memory_order_acquire)) {
      const uint64_t next = read_record(spill_, h_->spill_cap, spill_head, out);
      if (next - h_->spill_released >= kReleaseChunk) release_spilled(next);
      h_->spill_head_pub.store(next, std::memory_order_release);
    } else {
      return false;
    }
    h_->items_got.fetch_add(1, std::memory_order_release);
    h_->gets.fetch_add(1, std::memory_order_seq_cst);
  }
  if (h_->put_waiters.load(std::memory_order_seq_cst) > 0) futex_wake(&h_->gets, 1);
  return true;
}

// Waits until `counter` differs from `seen` (spinning first, yielding the CPU between
// looks); false if `deadline` passed with no change.
bool ByteQueue::wait_changed(std::atomic<uint32_t>* counter, uint32_t seen,
                             std::atomic<uint32_t>* waiters, const Deadline& deadline) {
  auto changed = [&] { return counter->load(std::memory_order_acquire) != seen; };
  const auto until = std::chrono::steady_clock::now() + kSpinFor;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (changed()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= until) break;
    ::sched_yield();  // on a busy machine the other side may need this CPU
  }
  waiters->fetch_add(1, std::memory_order_seq_cst);
  bool in_time = changed() || futex_wait(counter, seen, deadline);
  waiters->fetch_sub(1, std::memory_order_relaxed);
  return changed() || (in_time && !expired(deadline));
}

// Gives whole consumed chunks of the spill ring back to the kernel before the head
// that frees them is published, so no producer can be writing there yet.
void ByteQueue::release_spilled(uint64_t head) {
  const uint64_t from = h_->spill_released;
  const uint64_t to = head / kReleaseChunk * kReleaseChunk;
  for (uint64_t p = from; p < to; p += kReleaseChunk) {
    ::madvise(spill_ + p % h_->spill_cap, kReleaseChunk, MADV_REMOVE);
  }
  h_->spill_released = std::max(from, to);
}

std::size_t ByteQueue::qsize() const {
  const uint64_t got = h_->items_got.load(std::memory_order_acquire);
  const uint64_t put = h_->items_put.load(std::memory_order_acquire);
  return put > got ? static_cast<std::size_t>(put - got) : 0;
}

std::size_t ByteQueue::maxsize() const { return h_->maxsize; }

bool ByteQueue::full() const { return h_->maxsize != 0 && qsize() >= h_->maxsize; }

void ByteQueue::task_done() {
  uint32_t v = h_->unfinished.load();
  do {
    if (v == 0) {
      throw std::logic_error("shoal::JoinableQueue::task_done: called more times than put()");
    }
  } while (!h_->unfinished.compare_exchange_weak(v, v - 1));
  if (v == 1) futex_wake(&h_->unfinished, std::numeric_limits<int>::max());
}

void ByteQueue::join() {
  for (uint32_t v = h_->unfinished.load(); v != 0; v = h_->unfinished.load()) {
    futex_wait(&h_->unfinished, v, std::nullopt);
  }
}

}  // namespace shoal::internal
