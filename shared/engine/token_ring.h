#pragma once
// A bounded ring of 64-bit tokens in shared memory: one producer at a time (callers
// serialise producers), any number of consumers in any processes.
//
// A consumer claims a position with one CAS on `head` after reading the slot, so a
// consumer killed at any instant leaves the ring consistent: the token was either
// claimed (and the engine's record state says whether it started) or not. There is
// no per-slot "being read" state that a dead process could leave behind, which is why
// the engine uses this shape instead of a per-slot-sequence (Vyukov) MPMC queue.

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace shoal::engine {

class TokenRing {
 public:
  // Bytes of shared memory a ring of `capacity` tokens (a power of two) needs.
  static std::size_t bytes_for(std::size_t capacity);

  TokenRing() = default;
  // A view of the ring in `memory` (64-byte aligned, zero-filled when first used),
  // which must outlive the view. Every process uses its own view of the same memory.
  TokenRing(void* memory, std::size_t capacity);

  // Appends `token` (never 0); false when full. One producer at a time.
  bool push(std::uint64_t token);
  // Takes the oldest token; false when empty. Thread- and process-safe.
  bool pop(std::uint64_t* token);

  // Positions: `head` counts claimed tokens, `tail` pushed ones.
  std::uint64_t head() const { return header_->head.load(std::memory_order_acquire); }
  std::uint64_t tail() const { return header_->tail.load(std::memory_order_acquire); }
  bool empty() const { return head() == tail(); }
  std::size_t capacity() const { return mask_ + 1; }
  // Room for more pushes (exact for the producer).
  std::size_t free_slots() const { return capacity() - static_cast<std::size_t>(tail() - head()); }

 private:
  struct Header {
    alignas(64) std::atomic<std::uint64_t> head;
    alignas(64) std::atomic<std::uint64_t> tail;
  };
  Header* header_ = nullptr;
  std::atomic<std::uint64_t>* slots_ = nullptr;
  std::uint64_t mask_ = 0;
  std::uint64_t cached_head_ = 0;  // the producer's last view of head: fewer shared reads
};

}  // namespace shoal::engine
