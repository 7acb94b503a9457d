#include "shared/engine/slab.h"

#include <iterator>

namespace shoal::engine {

SlabAllocator::SlabAllocator(std::size_t capacity) : capacity_(capacity) { free_[0] = capacity; }

std::optional<std::size_t> SlabAllocator::allocate(std::size_t size) {
  size = rounded(size == 0 ? 1 : size);
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < size) continue;
    std::size_t offset = it->first;
    std::size_t rest = it->second - size;
    free_.erase(it);
    if (rest) free_[offset + size] = rest;
    in_use_ += size;
    return offset;
  }
  return std::nullopt;
}

void SlabAllocator::free(std::size_t offset, std::size_t size) {
  size = rounded(size == 0 ? 1 : size);
  in_use_ -= size;
  auto next = free_.lower_bound(offset);
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == offset) {  // merge with the block before
      offset = prev->first;
      size += prev->second;
      free_.erase(prev);
    }
  }
  if (next != free_.end() && offset + size == next->first) {  // and the one after
    size += next->second;
    free_.erase(next);
  }
  free_[offset] = size;
}

}  // namespace shoal::engine
