// ByteQueue: byte rings in shared memory with one lock per side, so a producer and a
// consumer never contend on the same lock; they meet only on published words.
//
// Records are [u32 length][u32 unused][payload, padded to 8 bytes] at monotonically
// increasing 64-bit positions; position p lives at ring offset p % capacity. Items go
// to the small main ring, whose pages stay warm. When it is full (or the item is big)
// the producers switch to the spill ring, remembering where the main ring stopped
// (switch_pos); consumers read the main ring up to switch_pos, then the spill ring.
// Producers switch back once consumers have drained the spill ring, so FIFO order
// holds across both. Waiters sleep on the other side's operation counter after a
// short spin.
//
// Processes may be killed anywhere, so each operation has one commit point: the store
// of items_put (a put) or items_got (a get). Before it nothing another process reads has
// changed: the record was copied, and the positions the operation moves to were written
// down in its side's Commit. After it, the operation counts as done; if its process dies
// before the rest (moving its own side's positions, and for a get giving spill memory
// back), the next holder of the side lock finishes that from the Commit. Consumers find
// the oldest item by the counts, never by the producers' positions: when items_put is
// ahead of items_got, that item is at main_head if producers are not spilling or
// main_head < switch_pos (either was so when it was put, or producers have come back to
// the main ring since, which they only do once the spill ring is drained), else at
// spill_head.
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

#include "shared/mp/futex.h"
#include "shoal/queue.hpp"

namespace shoal::internal {
namespace {

constexpr uint64_t kHeaderBytes = 4096;
constexpr uint64_t kMainBytes = 4u << 20;
constexpr uint64_t kRecordHeader = 8;
constexpr uint64_t kReleaseChunk = 2u << 20;  // spill memory goes back in 2 MiB chunks
constexpr auto kSpinFor = std::chrono::microseconds(40);
// A process killed between its change and its futex_wake leaves sleepers unwoken: they
// look again this often.
constexpr auto kRecheck = std::chrono::milliseconds(100);

constexpr uint64_t kMinSpillBytes = 64u << 20;

// The largest overflow ring wanted: 4 GiB, or half of RAM if less.
uint64_t spill_capacity() {
  uint64_t phys = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
                  static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint64_t cap = kMinSpillBytes;
  while (cap * 2 <= std::min<uint64_t>(phys / 2, 4ull << 30)) cap *= 2;
  return cap;
}

uint64_t record_size(uint64_t len) { return kRecordHeader + ((len + 7) & ~uint64_t{7}); }

uint64_t chunk_start(uint64_t pos) { return pos / kReleaseChunk * kReleaseChunk; }

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

// How long a call that does not block waits for its side's lock: another process's put
// or get of a small item holds it for microseconds, which must not pass for a full (or
// empty) queue; one copying a very big item, or one stopped, holds it far longer.
constexpr auto kBusySideWait = std::chrono::milliseconds(10);

// A side's lock, taken within the caller's limit: !block, within kBusySideWait (taken
// over at once from a dead holder); else by `deadline` (nullopt: however long it takes).
// A consumer copying a big item out, or one stopped by SIGSTOP, holds it for a long time.
class SideLock {
 public:
  SideLock(std::atomic<uint32_t>* word, bool block, const Deadline& deadline)
      : word_(word),
        held_(owner_try_acquire(word_, self_pid_u32()) ||
              owner_acquire(word_, self_pid_u32(),
                            block ? deadline
                                  : Deadline(std::chrono::steady_clock::now() + kBusySideWait))) {}
  ~SideLock() {
    if (held_) owner_release(word_);
  }
  bool held() const { return held_; }

 private:
  std::atomic<uint32_t>* word_;
  bool held_;
};

// Where one side's last operation moves that side's positions. It counts only once the
// side's item count equals `items` (see the file comment); touched under the side lock.
struct Commit {
  std::atomic<uint64_t> items;  // written first, so a half-written Commit never counts
  std::atomic<uint64_t> main_pos;
  std::atomic<uint64_t> spill_pos;
};

// Writes down in `c` the positions an operation leaves behind, then commits it: the store
// of `count` (items_put or items_got) to `items` is the one point after which it is done.
void commit(Commit& c, std::atomic<uint64_t>& count, uint64_t items, uint64_t main_pos,
            uint64_t spill_pos) {
  c.items.store(items, std::memory_order_release);
  c.main_pos.store(main_pos, std::memory_order_release);
  c.spill_pos.store(spill_pos, std::memory_order_release);
  count.store(items, std::memory_order_release);  // the commit point
}

// The positions `c` holds if it was committed (`count` reached its items); false if the
// last Commit written never was, so that the positions are already right.
bool committed(const Commit& c, const std::atomic<uint64_t>& count, uint64_t& main_pos,
               uint64_t& spill_pos) {
  if (c.items.load(std::memory_order_acquire) != count.load(std::memory_order_relaxed)) {
    return false;
  }
  main_pos = c.main_pos.load(std::memory_order_relaxed);
  spill_pos = c.spill_pos.load(std::memory_order_relaxed);
  return true;
}

}  // namespace

struct ByteQueue::Header {
  // Producers (under put_lock).
  alignas(64) std::atomic<uint32_t> put_lock;
  std::atomic<uint32_t> spilling;    // written by producers only
  std::atomic<uint64_t> switch_pos;  // main position where spilling began
  std::atomic<uint64_t> main_tail;   // read by producers only
  std::atomic<uint64_t> spill_tail;  // read by producers only
  std::atomic<uint64_t> items_put;   // a put's commit point
  std::atomic<uint32_t> puts;        // bumped by every put: consumers sleep on it
  Commit put_commit;
  // Consumers (under get_lock). Spill memory is given back up to the chunk holding
  // spill_head, and producers never write into that chunk's next lap.
  alignas(64) std::atomic<uint32_t> get_lock;
  std::atomic<uint64_t> main_head;
  std::atomic<uint64_t> spill_head;
  std::atomic<uint64_t> items_got;  // a get's commit point
  std::atomic<uint32_t> gets;       // bumped by every get: producers sleep on it
  Commit get_commit;
  alignas(64) std::atomic<uint32_t> get_waiters;
  std::atomic<uint32_t> put_waiters;
  // JoinableQueue: unfinished items are items_put - tasks_done, so that a put has no
  // second count for a kill to leave out of step.
  alignas(64) std::atomic<uint64_t> tasks_done;
  std::atomic<uint32_t> all_done;  // bumped when tasks_done reaches items_put: join sleeps
  uint64_t maxsize;
  uint64_t spill_cap;
};

ByteQueue::ByteQueue(std::size_t maxsize, bool /*joinable*/) {
  static_assert(sizeof(Header) <= kHeaderBytes);
  // Where address space cannot be reserved freely (vm.overcommit_memory=2, a ulimit -v),
  // the overflow ring is halved until it fits, down to 64 MiB.
  uint64_t spill_cap = spill_capacity();
  for (;;) {
    try {
      region_ = SharedRegion::create(kHeaderBytes + kMainBytes + spill_cap, /*reserve_only=*/true);
      break;
    } catch (const Error&) {
      if (spill_cap <= kMinSpillBytes) throw;
      spill_cap /= 2;
    }
  }
  h_ = new (region_->data()) Header();
  h_->maxsize = maxsize;
  h_->spill_cap = spill_cap;
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
    uint32_t seen_gets = 0;
    const Try tried = try_put(item, rec, block, deadline, seen_gets);
    if (tried != Try::kNotNow) return tried == Try::kDone;
    if (!block) return false;
    if (!wait_changed(&h_->gets, seen_gets, &h_->put_waiters, deadline)) {
      return try_put(item, rec, false, std::nullopt, seen_gets) == Try::kDone;
    }
  }
}

ByteQueue::Try ByteQueue::try_put(std::string_view item, uint64_t rec, bool block,
                                  const Deadline& lock_deadline, uint32_t& seen_gets) {
  {
    SideLock lock(&h_->put_lock, block, lock_deadline);
    if (!lock.held()) return Try::kLockBusy;
    finish_put();  // in case the last producer died after its commit point
    seen_gets = h_->gets.load(std::memory_order_acquire);
    const uint64_t items_put = h_->items_put.load(std::memory_order_relaxed);
    const uint64_t count = items_put - h_->items_got.load(std::memory_order_acquire);
    if (h_->maxsize != 0 && count >= h_->maxsize) return Try::kNotNow;
    bool spilling = h_->spilling.load(std::memory_order_relaxed) != 0;
    uint64_t main_tail = h_->main_tail.load(std::memory_order_relaxed);
    uint64_t spill_tail = h_->spill_tail.load(std::memory_order_relaxed);
    const uint64_t spill_head = h_->spill_head.load(std::memory_order_acquire);
    if (spilling && spill_head == spill_tail) {
      spilling = false;  // consumers drained the spill ring: back to the main ring
      h_->spilling.store(0, std::memory_order_release);
    }
    if (!spilling) {
      if (rec > kMainBytes / 4 ||
          main_tail + rec - h_->main_head.load(std::memory_order_acquire) > kMainBytes) {
        spilling = true;
        h_->switch_pos.store(main_tail, std::memory_order_release);
        h_->spilling.store(1, std::memory_order_release);
      }
    }
    // Not into the next lap of the consumers' current chunk: they give its memory back
    // before they move past it.
    if (spilling && spill_tail + rec > chunk_start(spill_head) + h_->spill_cap) {
      return Try::kNotNow;
    }
    if (!spilling) {
      write_record(main_, kMainBytes, main_tail, item);
      main_tail += rec;
    } else {
      write_record(spill_, h_->spill_cap, spill_tail, item);
      spill_tail += rec;
    }
    commit(h_->put_commit, h_->items_put, items_put + 1, main_tail, spill_tail);
    finish_put();
    h_->puts.fetch_add(1, std::memory_order_seq_cst);
  }
  if (h_->get_waiters.load(std::memory_order_seq_cst) > 0) futex_wake(&h_->puts, 1);
  return Try::kDone;
}

// Moves the tails as the last committed put says (a no-op if they are there already).
void ByteQueue::finish_put() {
  uint64_t main_tail, spill_tail;
  if (!committed(h_->put_commit, h_->items_put, main_tail, spill_tail)) return;
  // Stored only when they differ: consumers read this cache line.
  if (h_->main_tail.load(std::memory_order_relaxed) != main_tail) {
    h_->main_tail.store(main_tail, std::memory_order_relaxed);
  }
  if (h_->spill_tail.load(std::memory_order_relaxed) != spill_tail) {
    h_->spill_tail.store(spill_tail, std::memory_order_relaxed);
  }
}

bool ByteQueue::get(std::string& out, bool block, const Deadline& deadline) {
  for (;;) {
    uint32_t seen_puts = 0;
    const Try tried = try_get(out, block, deadline, seen_puts);
    if (tried != Try::kNotNow) return tried == Try::kDone;
    if (!block) return false;
    if (!wait_changed(&h_->puts, seen_puts, &h_->get_waiters, deadline)) {
      return try_get(out, false, std::nullopt, seen_puts) == Try::kDone;
    }
  }
}

ByteQueue::Try ByteQueue::try_get(std::string& out, bool block, const Deadline& lock_deadline,
                                  uint32_t& seen_puts) {
  {
    SideLock lock(&h_->get_lock, block, lock_deadline);
    if (!lock.held()) return Try::kLockBusy;
    finish_get();  // in case the last consumer died after its commit point
    seen_puts = h_->puts.load(std::memory_order_acquire);
    const uint64_t items_got = h_->items_got.load(std::memory_order_relaxed);
    if (items_got == h_->items_put.load(std::memory_order_acquire)) return Try::kNotNow;
    uint64_t main_head = h_->main_head.load(std::memory_order_relaxed);
    uint64_t spill_head = h_->spill_head.load(std::memory_order_relaxed);
    // Where the oldest item is: see the file comment.
    if (h_->spilling.load(std::memory_order_acquire) == 0 ||
        main_head < h_->switch_pos.load(std::memory_order_acquire)) {
      main_head = read_record(main_, kMainBytes, main_head, out);
    } else {
      spill_head = read_record(spill_, h_->spill_cap, spill_head, out);
    }
    commit(h_->get_commit, h_->items_got, items_got + 1, main_head, spill_head);
    finish_get();
    h_->gets.fetch_add(1, std::memory_order_seq_cst);
  }
  if (h_->put_waiters.load(std::memory_order_seq_cst) > 0) futex_wake(&h_->gets, 1);
  return Try::kDone;
}

// Moves the heads as the last committed get says (a no-op if they are there already).
void ByteQueue::finish_get() {
  uint64_t main_head, spill_head;
  if (!committed(h_->get_commit, h_->items_got, main_head, spill_head)) return;
  const uint64_t old_spill_head = h_->spill_head.load(std::memory_order_relaxed);
  if (spill_head != old_spill_head) {
    // Whole chunks left behind go back to the kernel before the head that lets producers
    // write there moves. (Done twice if a consumer dies here: harmless.)
    for (uint64_t p = chunk_start(old_spill_head); p < chunk_start(spill_head);
         p += kReleaseChunk) {
      ::madvise(spill_ + p % h_->spill_cap, kReleaseChunk, MADV_REMOVE);
    }
    h_->spill_head.store(spill_head, std::memory_order_release);
  }
  if (h_->main_head.load(std::memory_order_relaxed) != main_head) {
    h_->main_head.store(main_head, std::memory_order_release);
  }
}

// Waits until `counter` differs from `seen` (spinning first, yielding the CPU between
// looks); false if `deadline` passed with no change. May return true with no change
// (after kRecheck): the caller looks again.
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
  const auto slice = std::chrono::steady_clock::now() + kRecheck;
  const bool deadline_first = deadline && *deadline < slice;
  waiters->fetch_add(1, std::memory_order_seq_cst);
  const bool in_time = changed() ||
                       futex_wait(counter, seen, deadline_first ? deadline : Deadline(slice)) ||
                       !deadline_first;
  waiters->fetch_sub(1, std::memory_order_relaxed);
  return changed() || (in_time && !expired(deadline));
}

std::size_t ByteQueue::qsize() const {
  const uint64_t got = h_->items_got.load(std::memory_order_acquire);
  const uint64_t put = h_->items_put.load(std::memory_order_acquire);
  return put > got ? static_cast<std::size_t>(put - got) : 0;
}

std::size_t ByteQueue::maxsize() const { return h_->maxsize; }

bool ByteQueue::full() const { return h_->maxsize != 0 && qsize() >= h_->maxsize; }

void ByteQueue::task_done() {
  uint64_t done = h_->tasks_done.load(std::memory_order_acquire);
  do {
    if (done >= h_->items_put.load(std::memory_order_acquire)) {
      throw std::logic_error("shoal::JoinableQueue::task_done: called more times than put()");
    }
  } while (!h_->tasks_done.compare_exchange_weak(done, done + 1, std::memory_order_acq_rel));
  if (done + 1 == h_->items_put.load(std::memory_order_acquire)) {
    h_->all_done.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(&h_->all_done, std::numeric_limits<int>::max());
  }
}

void ByteQueue::join() {
  for (;;) {
    const uint32_t seen = h_->all_done.load(std::memory_order_seq_cst);
    // tasks_done first: items_put only grows, so equality is a true snapshot.
    if (h_->tasks_done.load(std::memory_order_acquire) ==
        h_->items_put.load(std::memory_order_acquire)) {
      return;
    }
    futex_wait(&h_->all_done, seen, deadline_after(kRecheck));
  }
}

}  // namespace shoal::internal
