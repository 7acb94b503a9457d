#include "shared/mp/futex.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>

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

Deadline sleep_slice(const Deadline& deadline) {
  const auto slice = std::chrono::steady_clock::now() + kSleepSlice;
  return deadline && *deadline < slice ? deadline : Deadline(slice);
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

namespace {

// Whether process `pid` has ended (its thread group: a leader that exited while other
// threads run has not), asked of a pidfd, which needs no /proc. nullopt: no pidfd here
// (a kernel before 5.3, or a sandbox that forbids pidfd_open).
std::optional<bool> process_ended(pid_t pid) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    if (errno == ESRCH) return true;
    return std::nullopt;
  }
  pollfd p{fd, POLLIN, 0};
  const int r = ::poll(&p, 1, 0);
  ::close(fd);
  if (r < 0) return std::nullopt;
  return r > 0;
}

// The "Threads:" count of /proc/PID/status, -1 if it cannot be read. A thread-group
// leader that exited while other threads run is a zombie that still counts itself.
int thread_count(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(pid));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char* line = std::strstr(buf, "\nThreads:");
  return line == nullptr ? -1 : std::atoi(line + std::strlen("\nThreads:"));
}

}  // namespace

bool task_alive(pid_t id, TaskKind kind) {
  if (id <= 0) return false;
  if (::kill(id, 0) == -1 && errno == ESRCH) return false;
  // kill() succeeds on zombies: a SIGKILLed holder not yet reaped by its parent is dead.
  if (kind == TaskKind::kProcess) {
    if (std::optional<bool> ended = process_ended(id)) return !*ended;
  }
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(id));
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    // No such file while kill() found the task: /proc is missing or not ours (a chroot,
    // a sandbox, hidepid), or the task ended since. Only kill() can tell, unable to see
    // a zombie: one not yet reaped counts as alive.
    return errno != ENOENT || ::kill(id, 0) == 0 || errno != ESRCH;
  }
  char buf[512];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');
  if (paren == nullptr || paren[1] == '\0' || paren[2] == '\0') return true;
  char state = paren[2];
  if (state == 'X' || state == 'x') return false;
  if (state != 'Z') return true;
  // A zombie thread is dead; a zombie leader's process lives on while its other threads do.
  return kind == TaskKind::kProcess && thread_count(id) > 1;
}

}  // namespace shoal::internal
