#include "shared/engine/token_ring.h"

namespace shoal::engine {

std::size_t TokenRing::bytes_for(std::size_t capacity) {
  return sizeof(Header) + capacity * sizeof(std::atomic<std::uint64_t>);
}

TokenRing::TokenRing(void* memory, std::size_t capacity)
    : header_(static_cast<Header*>(memory)),
      slots_(reinterpret_cast<std::atomic<std::uint64_t>*>(static_cast<Header*>(memory) + 1)),
      mask_(capacity - 1) {}

bool TokenRing::push(std::uint64_t token) {
  std::uint64_t t = header_->tail.load(std::memory_order_relaxed);
  // acquire: every consumer that claimed position t - capacity has read its slot.
  if (t - cached_head_ > mask_) {
    cached_head_ = header_->head.load(std::memory_order_acquire);
    if (t - cached_head_ > mask_) return false;
  }
  slots_[t & mask_].store(token, std::memory_order_relaxed);
  header_->tail.store(t + 1, std::memory_order_release);
  return true;
}

bool TokenRing::pop(std::uint64_t* token) {
  std::uint64_t h = header_->head.load(std::memory_order_acquire);
  for (;;) {
    if (h == header_->tail.load(std::memory_order_acquire)) return false;
    // Read before claiming: the producer cannot reuse this slot until head passes h,
    // and if another consumer moved head first, the CAS fails and we retry.
    std::uint64_t value = slots_[h & mask_].load(std::memory_order_relaxed);
    if (header_->head.compare_exchange_weak(h, h + 1, std::memory_order_acq_rel,
                                            std::memory_order_acquire)) {
      *token = value;
      return true;
    }
  }
}

}  // namespace shoal::engine
