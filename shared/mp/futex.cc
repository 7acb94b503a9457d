#include "shared/mp/futex.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace shoal::internal {
namespace {

pid_t g_pid = 0;
thread_local pid_t t_tid = 0;
thread_local pid_t t_tid_pid = 0;

void refresh_pid() { g_pid = static_cast<pid_t>(::syscall(SYS_getpid)); }

}  // namespace

bool futex_wait(std::atomic<uint32_t>* word, uint32_t expected, const Deadline& deadline) {
  timespec ts{};
  timespec* tsp = nullptr;
  if (deadline) {
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, as steady_clock is.
    auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline->time_since_epoch()).count();
    if (ns < 0) ns = 0;
    ts.tv_sec = ns / 1'000'000'000;
    ts.tv_nsec = ns % 1'000'000'000;
    tsp = &ts;
  }
  // Not FUTEX_PRIVATE: the word lives in memory shared between processes.
  long r = ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_BITSET, expected, tsp,
                     nullptr, FUTEX_BITSET_MATCH_ANY);
  if (r == -1 && errno == ETIMEDOUT) return false;
  return true;
}

void futex_wake(std::atomic<uint32_t>* word, int count) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, count, nullptr, nullptr, 0);
}

bool expired(const Deadline& deadline) {
  return deadline && std::chrono::steady_clock::now() >= *deadline;
}

pid_t self_pid() {
  static const bool registered = [] {
    refresh_pid();
    pthread_atfork(nullptr, nullptr, refresh_pid);
    return true;
  }();
  (void)registered;
  return g_pid;
}

void refresh_self_pid() { refresh_pid(); }

pid_t self_tid() {
  pid_t pid = self_pid();
  if (t_tid == 0 || t_tid_pid != pid) {  // the forked child's thread has a new tid
    t_tid = static_cast<pid_t>(::syscall(SYS_gettid));
    t_tid_pid = pid;
  }
  return t_tid;
}

bool task_alive(pid_t id) {
  if (id <= 0) return false;
  if (::kill(id, 0) == -1 && errno == ESRCH) return false;
  // kill() succeeds on zombies: a SIGKILLed holder not yet reaped by its parent is dead.
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(id));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno != ENOENT;
  char buf[512];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');
  if (paren == nullptr || paren[1] == '\0' || paren[2] == '\0') return true;
  char state = paren[2];
  return state != 'Z' && state != 'X' && state != 'x';
}

}  // namespace shoal::internal
