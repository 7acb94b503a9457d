#include "shoal/shared_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace shoal {

struct SharedMemory::State {
  std::string name;
  std::byte* data = nullptr;
  std::size_t size = 0;
  void unmap() {
    if (data != nullptr) ::munmap(data, size);
    data = nullptr;
  }
  ~State() { unmap(); }
};

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& name) {
  throw Error("shoal::SharedMemory(\"" + name + "\"): " + what + ": " + std::strerror(errno));
}

}  // namespace

SharedMemory::SharedMemory(std::string name, std::size_t size, bool create)
    : state_(std::make_shared<State>()) {
  if (name.empty() || name.find('/') != std::string::npos) {
    throw Error("shoal::SharedMemory: the name must be non-empty and contain no '/'");
  }
  if (name.size() > NAME_MAX) {  // a file name in /dev/shm
    throw Error("shoal::SharedMemory: the name has " + std::to_string(name.size()) +
                " bytes, more than " + std::to_string(NAME_MAX));
  }
  state_->name = std::move(name);
  const std::string path = "/" + state_->name;
  if (create && size == 0) throw Error("shoal::SharedMemory: cannot create a segment of size 0");
  int fd = create ? ::shm_open(path.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600)
                  : ::shm_open(path.c_str(), O_RDWR, 0);
  if (fd < 0) {
    fail(create ? (errno == EEXIST ? "cannot create: it exists already" : "cannot create")
                : "cannot attach",
         path);
  }
  struct stat st {};
  if (create) {
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
      int e = errno;
      ::close(fd);
      ::shm_unlink(path.c_str());
      errno = e;
      fail("cannot size", path);
    }
  } else {
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      fail("cannot stat", path);
    }
    std::size_t real = static_cast<std::size_t>(st.st_size);
    if (size > real) {
      ::close(fd);
      throw Error("shoal::SharedMemory(\"" + path + "\"): asked for " + std::to_string(size) +
                  " bytes but the segment has " + std::to_string(real));
    }
    size = real;
  }
  void* p = size == 0 ? nullptr : ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) {
    int e = errno;
    if (create) ::shm_unlink(path.c_str());  // the half-made segment would block the name
    errno = e;
    fail("cannot map", path);
  }
  state_->data = static_cast<std::byte*>(p);
  state_->size = size;
}

const std::string& SharedMemory::name() const { return state_->name; }
std::size_t SharedMemory::size() const { return state_->size; }

std::span<std::byte> SharedMemory::buf() {
  if (state_->data == nullptr) return {};
  return {state_->data, state_->size};
}

void SharedMemory::close() { state_->unmap(); }

void SharedMemory::unlink() {
  const std::string path = "/" + state_->name;
  if (::shm_unlink(path.c_str()) != 0) fail("cannot unlink", path);
}

}  // namespace shoal
