#pragma once
// An anonymous MAP_SHARED mapping: children forked after it is made see the same pages.

#include <cstddef>

#include "absl/status/statusor.h"

namespace shoal::engine {

// Owns one mapping; move-only. Zero-filled when made.
class SharedRegion {
 public:
  // Maps `size` bytes (rounded up to pages). `reserve_only`: MAP_NORESERVE, for big
  // regions of which only a part is ever touched. Fails with kResourceExhausted.
  static absl::StatusOr<SharedRegion> create(std::size_t size, bool reserve_only);

  SharedRegion() = default;
  SharedRegion(SharedRegion&& other) noexcept;
  SharedRegion& operator=(SharedRegion&& other) noexcept;
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;
  ~SharedRegion();  // unmaps (in this process only)

  std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  // Gives the pages of [offset, offset + length) back to the kernel (MADV_REMOVE);
  // they read as zeros afterwards. Only whole pages inside the range are released.
  void release(std::size_t offset, std::size_t length);

 private:
  SharedRegion(std::byte* data, std::size_t size) : data_(data), size_(size) {}
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace shoal::engine
