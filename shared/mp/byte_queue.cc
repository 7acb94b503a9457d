// ByteQueue: a byte ring in shared memory with one lock per side, so a producer and a
// consumer never contend on the same lock; they meet only on the published positions.
//
// Records are [u32 length][u32 unused][payload, padded to 8 bytes] at monotonically
// increasing 64-bit positions; position p lives at ring offset p & mask_. Waiters sleep
// on the low 32 bits of the position the other side publishes, after a short spin.
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
constexpr uint64_t kRecordHeader = 8;
constexpr uint64_t kReleaseChunk = 2u << 20;  // give consumed ring memory back per 2 MiB
constexpr auto kSpinFor = std::chrono::microseconds(40);

uint64_t ring_capacity() {
  uint64_t phys = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
                  static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint64_t cap = 64u << 20;
  while (cap * 2 <= std::min<uint64_t>(phys / 2, 4ull << 30)) cap *= 2;
  return cap;
}

uint64_t record_size(uint64_t len) { return kRecordHeader + ((len + 7) & ~uint64_t{7}); }

// The low 32 bits of a published 64-bit position: the futex word for its waiters.
std::atomic<uint32_t>* low_word(std::atomic<uint64_t>* position) {
  return reinterpret_cast<std::atomic<uint32_t>*>(position);  // little-endian
}

// Spins briefly until `ready()`; true if it became ready.
template <class Ready>
bool spin_until(Ready ready) {
  auto until = std::chrono::steady_clock::now() + kSpinFor;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= until) return false;
    ::sched_yield();  // on a busy machine the other side may need this CPU
  }
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
  alignas(64) std::atomic<uint32_t> put_lock;
  uint64_t tail;  // producers' next position (under put_lock)
  alignas(64) std::atomic<uint64_t> tail_pub;
  std::atomic<uint64_t> items_put;
  alignas(64) std::atomic<uint32_t> get_lock;
  uint64_t head;      // consumers' next position (under get_lock)
  uint64_t released;  // ring memory below this position has been given back
  alignas(64) std::atomic<uint64_t> head_pub;
  std::atomic<uint64_t> items_got;
  alignas(64) std::atomic<uint32_t> get_waiters;
  std::atomic<uint32_t> put_waiters;
  alignas(64) std::atomic<uint32_t> unfinished;
  uint64_t maxsize;
  uint64_t capacity;
  uint32_t joinable;
};

ByteQueue::ByteQueue(std::size_t maxsize, bool joinable) {
  static_assert(sizeof(Header) <= kHeaderBytes);
  uint64_t cap = ring_capacity();
  region_ = SharedRegion::create(kHeaderBytes + cap, /*reserve_only=*/true);
  h_ = new (region_->data()) Header();
  h_->maxsize = maxsize;
  h_->capacity = cap;
  h_->joinable = joinable ? 1 : 0;
  ring_ = region_->data() + kHeaderBytes;
  mask_ = cap - 1;
}

ByteQueue::~ByteQueue() = default;

void ByteQueue::check_open(const char* what) const {
  if (closed_) {
    throw std::logic_error(std::string("shoal::Queue::") + what + ": the queue is closed");
  }
}

bool ByteQueue::put(std::string_view item, bool block, const Deadline& deadline) {
  const uint64_t rec = record_size(item.size());
  if (item.size() > std::numeric_limits<uint32_t>::max() || rec > h_->capacity / 4) {
    throw Error("shoal::Queue::put: an item of " + std::to_string(item.size()) +
                " bytes is larger than a queue can hold");
  }
  for (;;) {
    uint64_t seen_head;
    if (try_put(item, rec, seen_head)) return true;
    if (!block) return false;
    if (!wait_moved(&h_->head_pub, seen_head, &h_->put_waiters, deadline)) {
      return try_put(item, rec, seen_head);
    }
  }
}

bool ByteQueue::try_put(std::string_view item, uint64_t rec, uint64_t& seen_head) {
  {
    SideLock lock(&h_->put_lock);
    const uint64_t tail = h_->tail;
    seen_head = h_->head_pub.load(std::memory_order_acquire);
    const uint64_t count = h_->items_put.load(std::memory_order_relaxed) -
                           h_->items_got.load(std::memory_order_acquire);
    if ((h_->maxsize != 0 && count >= h_->maxsize) || tail + rec - seen_head > h_->capacity) {
      return false;
    }
    const uint32_t len = static_cast<uint32_t>(item.size());
    std::memcpy(ring_ + (tail & mask_), &len, sizeof len);
    const uint64_t at = (tail + kRecordHeader) & mask_;
    const uint64_t first = std::min<uint64_t>(item.size(), h_->capacity - at);
    std::memcpy(ring_ + at, item.data(), first);
    if (first < item.size()) std::memcpy(ring_, item.data() + first, item.size() - first);
    h_->tail = tail + rec;
    h_->items_put.fetch_add(1, std::memory_order_relaxed);
    if (h_->joinable) h_->unfinished.fetch_add(1);
    h_->tail_pub.store(tail + rec, std::memory_order_seq_cst);
  }
  if (h_->get_waiters.load(std::memory_order_seq_cst) > 0) futex_wake(low_word(&h_->tail_pub), 1);
  return true;
}

bool ByteQueue::get(std::string& out, bool block, const Deadline& deadline) {
  for (;;) {
    uint64_t seen_tail;
    if (try_get(out, seen_tail)) return true;
    if (!block) return false;
    if (!wait_moved(&h_->tail_pub, seen_tail, &h_->get_waiters, deadline)) {
      return try_get(out, seen_tail);
    }
  }
}

bool ByteQueue::try_get(std::string& out, uint64_t& seen_tail) {
  {
    SideLock lock(&h_->get_lock);
    const uint64_t head = h_->head;
    seen_tail = h_->tail_pub.load(std::memory_order_acquire);
    if (head == seen_tail) return false;
    uint32_t len;
    std::memcpy(&len, ring_ + (head & mask_), sizeof len);
    out.resize(len);
    const uint64_t at = (head + kRecordHeader) & mask_;
    const uint64_t first = std::min<uint64_t>(len, h_->capacity - at);
    std::memcpy(out.data(), ring_ + at, first);
    if (first < len) std::memcpy(out.data() + first, ring_, len - first);
    const uint64_t next = head + record_size(len);
    h_->head = next;
    if (next - h_->released >= kReleaseChunk) release_consumed(next);
    h_->items_got.fetch_add(1, std::memory_order_release);
    h_->head_pub.store(next, std::memory_order_seq_cst);
  }
  if (h_->put_waiters.load(std::memory_order_seq_cst) > 0) futex_wake(low_word(&h_->head_pub), 1);
  return true;
}

// Waits until the other side publishes a position other than `seen` (spinning first);
// false if `deadline` passed with nothing new.
bool ByteQueue::wait_moved(std::atomic<uint64_t>* position, uint64_t seen,
                           std::atomic<uint32_t>* waiters, const Deadline& deadline) {
  auto moved = [&] { return position->load(std::memory_order_acquire) != seen; };
  if (spin_until(moved)) return true;
  waiters->fetch_add(1, std::memory_order_seq_cst);
  bool in_time = moved() || futex_wait(low_word(position), static_cast<uint32_t>(seen), deadline);
  waiters->fetch_sub(1, std::memory_order_relaxed);
  return moved() || (in_time && !expired(deadline));
}

// Gives whole consumed chunks back to the kernel before the head that frees them is
// published, so no producer can be writing there yet.
void ByteQueue::release_consumed(uint64_t head) {
  const uint64_t from = h_->released;
  const uint64_t to = head & ~(kReleaseChunk - 1);
  for (uint64_t p = from; p < to; p += kReleaseChunk) {
    ::madvise(ring_ + (p & mask_), kReleaseChunk, MADV_REMOVE);
  }
  h_->released = std::max(from, to);
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
