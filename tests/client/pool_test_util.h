#pragma once
// Helpers of the Pool tests: pipes and shared words made before a pool forks (so its
// workers inherit them), and waiting for processes to exit without sleeping.

#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>
#include <stdexcept>

namespace shoal::testing {

// A pipe; tasks write to write_fd(), the test reads read_fd() (or the reverse).
class TestPipe {
 public:
  TestPipe() {
    if (pipe(fds_) != 0) throw std::runtime_error("pipe failed");
  }
  ~TestPipe() {
    close(fds_[0]);
    close(fds_[1]);
  }
  TestPipe(const TestPipe&) = delete;
  TestPipe& operator=(const TestPipe&) = delete;
  int read_fd() const { return fds_[0]; }
  int write_fd() const { return fds_[1]; }
  // Blocks until an int arrives (a task's handshake); throws after `timeout`, so a
  // handshake that never comes fails the test instead of hanging it.
  int read_int(std::chrono::milliseconds timeout = std::chrono::seconds(60)) const {
    int v = 0;
    std::size_t got = 0;
    while (got < sizeof(v)) {
      pollfd p{fds_[0], POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) throw std::runtime_error("no handshake on the pipe within the timeout");
      ssize_t n = read(fds_[0], reinterpret_cast<char*>(&v) + got, sizeof(v) - got);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        throw std::runtime_error("pipe closed");
      }
      got += static_cast<std::size_t>(n);
    }
    return v;
  }
  void write_int(int v) const {
    if (write(fds_[1], &v, sizeof(v)) != sizeof(v)) throw std::runtime_error("pipe write failed");
  }

 private:
  int fds_[2];
};

// A T in an anonymous MAP_SHARED page, seen by processes forked after it was made.
template <class T>
class SharedCell {
 public:
  SharedCell() {
    void* p = mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
    value_ = new (p) T();
  }
  ~SharedCell() { munmap(value_, sizeof(T)); }
  SharedCell(const SharedCell&) = delete;
  SharedCell& operator=(const SharedCell&) = delete;
  T& operator*() const { return *value_; }
  T* operator->() const { return value_; }
  T* get() const { return value_; }

 private:
  T* value_;
};

// True while `pid` exists (a zombie counts: it has not been reaped).
inline bool process_exists(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

// Waits until `pid` (any process, not only a child) has exited, through a pidfd:
// true if it exited within `timeout`.
inline bool wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errno == ESRCH;  // already gone
  pollfd p{fd, POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (r < 0 && errno == EINTR);
  close(fd);
  return r == 1;
}

}  // namespace shoal::testing
