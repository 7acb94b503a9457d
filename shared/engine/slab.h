#pragma once
// The payload slab's allocator: hands out blocks of a big shared region for task
// arguments that do not fit a task record. It lives in the pool's process only (the
// workers just read blocks), so no worker death can leave it locked or torn.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

namespace shoal::engine {

class SlabAllocator {
 public:
  static constexpr std::size_t kAlign = 64;

  // Manages offsets [0, capacity). Not thread-safe: the engine holds its lock.
  explicit SlabAllocator(std::size_t capacity);

  // A block of at least `size` bytes (first fit, lowest address, so hot blocks are
  // reused), or nullopt while the slab has no such free range.
  std::optional<std::size_t> allocate(std::size_t size);
  // Returns the block at `offset` of `size` bytes (as given to allocate).
  void free(std::size_t offset, std::size_t size);

  std::size_t capacity() const { return capacity_; }
  std::size_t in_use() const { return in_use_; }

 private:
  static std::size_t rounded(std::size_t size) { return (size + kAlign - 1) & ~(kAlign - 1); }

  std::size_t capacity_;
  std::size_t in_use_ = 0;
  std::map<std::size_t, std::size_t> free_;  // offset -> size, never adjacent
};

}  // namespace shoal::engine
