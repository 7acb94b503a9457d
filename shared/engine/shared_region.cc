#include "shared/engine/shared_region.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace shoal::engine {
namespace {

std::size_t page_size() {
  static const std::size_t size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

}  // namespace

absl::StatusOr<SharedRegion> SharedRegion::create(std::size_t size, bool reserve_only) {
  std::size_t page = page_size();
  size = (size + page - 1) / page * page;
  int flags = MAP_SHARED | MAP_ANONYMOUS | (reserve_only ? MAP_NORESERVE : 0);
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (p == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrCat("mmap of ", size, " shared bytes failed: ", std::strerror(errno)));
  }
  return SharedRegion(static_cast<std::byte*>(p), size);
}

SharedRegion::SharedRegion(SharedRegion&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SharedRegion& SharedRegion::operator=(SharedRegion&& other) noexcept {
  if (this != &other) {
    if (data_) munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SharedRegion::~SharedRegion() {
  if (data_) munmap(data_, size_);
}

void SharedRegion::release(std::size_t offset, std::size_t length) {
  std::size_t page = page_size();
  std::size_t begin = (offset + page - 1) / page * page;
  std::size_t end = (offset + length) / page * page;
  if (end > begin) madvise(data_ + begin, end - begin, MADV_REMOVE);
}

}  // namespace shoal::engine
