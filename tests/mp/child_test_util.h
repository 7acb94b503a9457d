#pragma once
// Helpers of the mp/ tests: running what may hang in a child process, and reading what
// the kernel says of a process (its state, its resident memory) where no handshake can
// say it, such as "it is asleep inside wait()" or "it is copying an item".

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "shoal/process.hpp"

namespace shoal::testing {

// Runs `body` in a child process; true if the child exits with code 0 within `timeout`.
// A child still running then is killed: what it ran hung.
template <class F>
bool finishes_in_a_child(F body, std::chrono::seconds timeout = std::chrono::seconds(30)) {
  Process child(std::move(body));
  child.start();
  if (!child.join(timeout)) {
    child.kill();
    child.join();
    return false;
  }
  return child.exitcode() == 0;
}

// A child the test forked itself: SIGKILLed and reaped (by pid) when this goes out of
// scope, on every path of the test (a failed ASSERT included), unless reaped before.
class ForkedChild {
 public:
  ForkedChild() = default;
  explicit ForkedChild(pid_t pid) : pid_(pid) {}
  ~ForkedChild() { kill_and_reap(); }
  ForkedChild(ForkedChild&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}
  ForkedChild& operator=(ForkedChild&& other) noexcept {
    if (this != &other) {
      kill_and_reap();
      pid_ = std::exchange(other.pid_, -1);
    }
    return *this;
  }
  pid_t pid() const { return pid_; }  // -1: none (fork failed, or reaped)
  void kill_and_reap() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// Forks a child that runs `body` and exits: 0, or 1 if `body` threw (an exception never
// escapes into the test's code in the child). The child gets SIGKILL if the test process
// dies first (PR_SET_PDEATHSIG). Returns the child (pid -1 if fork failed).
template <class F>
ForkedChild fork_child(F body) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    try {
      body();
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  return ForkedChild(pid < 0 ? -1 : pid);
}

// Makes the kernel kill the calling process (SIGSYS) at its next futex(FUTEX_WAKE) on
// shared memory, the wake-up every mp/ primitive sends after changing its state: it dies
// between the two, as a process SIGKILLed at the worst moment would. glibc's own wake-ups
// are private futexes and go through. False if seccomp filters are not available.
inline bool die_at_next_shared_futex_wake() {
#if defined(__x86_64__)
  constexpr uint32_t kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
  constexpr uint32_t kArch = AUDIT_ARCH_AARCH64;
#else
  return false;
#endif
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex, 0, 3),
      // The futex operation: the low half of the second argument (little-endian).
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args) + sizeof(uint64_t)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FUTEX_WAKE, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) == 0;
}

// The state letter of process (or thread) `pid` in /proc/PID/stat ('R', 'S', 'T', ...);
// '?' if it cannot be read.
inline char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return '?';
  return stat[paren + 2];
}

// Waits (up to `timeout`) until process `pid` is in state `state`; false if it never was.
inline bool wait_for_state(pid_t pid, char state,
                           std::chrono::seconds timeout = std::chrono::seconds(30)) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (process_state(pid) != state) {
    if (std::chrono::steady_clock::now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

// Waits (up to `timeout`) until process `pid` sleeps in a futex wait (the system call
// every mp/ primitive blocks in); false if it never did.
inline bool wait_for_futex_sleep(pid_t pid,
                                 std::chrono::seconds timeout = std::chrono::seconds(30)) {
  const std::string path = "/proc/" + std::to_string(pid) + "/syscall";
  const std::string futex = std::to_string(SYS_futex) + " ";
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::ifstream in(path);
    std::string call;
    std::getline(in, call);
    if (call.compare(0, futex.size(), futex) == 0 && process_state(pid) == 'S') return true;
    if (std::chrono::steady_clock::now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

// One "Rss...:" line of /proc/PID/status ("RssAnon", "RssShmem"), in kB; -1 if absent.
inline long rss_kb(pid_t pid, std::string_view field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 &&
        line[field.size()] == ':') {
      std::istringstream value(line.substr(field.size() + 1));
      long kb = -1;
      value >> kb;
      return kb;
    }
  }
  return -1;
}

}  // namespace shoal::testing
