#include "shared/engine/zygote.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>

#include "absl/strings/str_cat.h"
#include "shared/engine/worker_loop.h"
#include "shared/mp/futex.h"
#include "shoal/internal/future_state.h"

namespace shoal::engine {
namespace {

// The command sockets of this process's live pools (fd + 1; 0: empty). A new zygote
// closes the other pools' sockets so its children never hold them open: a zygote
// learns that its pool is gone from end-of-file on its socket.
constexpr int kMaxPools = 256;
std::atomic<int> g_pool_fds[kMaxPools];
// Serialises socketpair + fork + registration, so no zygote inherits an
// unregistered socket of a pool being started on another thread.
std::mutex g_start_mu;

void remember_fd(int fd) {
  for (auto& slot : g_pool_fds) {
    int empty = 0;
    if (slot.compare_exchange_strong(empty, fd + 1)) return;
  }
}

void forget_fd(int fd) {
  for (auto& slot : g_pool_fds) {
    int expected = fd + 1;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

// The zygote itself. Single-threaded from here on; it allocates nothing.
class Zygote {
 public:
  Zygote(const ZygoteConfig& config, int fd, const sigset_t& mask)
      : config_(config), shared_(*config.shared), fd_(fd), mask_(mask) {}

  [[noreturn]] void run() {
    prctl(PR_SET_NAME, "shoal-zygote");
    for (auto& slot : g_pool_fds) {
      int v = slot.exchange(0);  // our workers inherit an empty list
      if (v != 0 && v - 1 != fd_) close(v - 1);
    }
    signal(SIGCHLD, SIG_DFL);  // the pool's process may ignore SIGCHLD: we must reap
    if (config_.detached) {
      setpgid(0, 0);
      // A task reading the terminal from a background group would be stopped (SIGTTIN).
      int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (null_fd >= 0) {
        dup2(null_fd, STDIN_FILENO);
        close(null_fd);
      }
    }
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, nullptr);
    sfd_ = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd_ < 0) _exit(70);
    for (int w = 0; w < shared_.workers(); ++w) spawn(w);
    bool quitting = false;
    for (;;) {
      pollfd fds[2] = {{fd_, POLLIN, 0}, {sfd_, POLLIN, 0}};
      int r = poll(fds, 2, 500);
      if (r < 0 && errno != EINTR) kill_all_and_exit();
      if (r > 0 && fds[1].revents) {
        signalfd_siginfo info[8];
        while (read(sfd_, info, sizeof(info)) > 0) {
        }
      }
      reap();
      if (r > 0 && fds[0].revents) {
        ZygoteCommand c;
        ssize_t n = recv(fd_, &c, sizeof(c), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) kill_all_and_exit();
        if (n == sizeof(c)) {
          switch (c.op) {
            case ZygoteCommand::kSpawn:
              if (c.worker >= 0 && c.worker < shared_.workers()) spawn(c.worker);
              break;
            case ZygoteCommand::kKill:
              // A child not yet reaped keeps its pid: killing it here cannot hit a
              // recycled pid.
              if (c.worker >= 0 && c.worker < shared_.workers() &&
                  shared_.slot(c.worker).pid.load() == c.pid && c.pid > 0) {
                kill(c.pid, SIGKILL);
              }
              break;
            case ZygoteCommand::kQuit:
              quitting = true;
              break;
            case ZygoteCommand::kTerminate:
              kill_all_and_exit();
          }
        }
      }
      if (quitting && alive() == 0) _exit(0);
      if (getppid() != config_.pool) kill_all_and_exit();  // the pool's process died
    }
  }

 private:
  void spawn(int w) {
    WorkerSlot& slot = shared_.slot(w);
    slot.current.store(0);
    // _Fork: no atfork handlers (they belong to the pool's threads, which do not exist
    // here); this process is single-threaded, so libc's locks are all free. The per-process
    // caches those handlers renew are renewed here instead.
    pid_t pid = _Fork();
    if (pid == 0) {
      internal::renew_task_id_prefix();  // a task that submits must not name as its siblings
      internal::refresh_self_pid();      // a Lock it takes records its pid, not the zygote's
      close(fd_);
      close(sfd_);
      sigprocmask(SIG_SETMASK, &mask_, nullptr);
      WorkerConfig wc;
      wc.shared = config_.shared;
      wc.worker = w;
      wc.initializer = config_.initializer;
      wc.max_tasks_per_child = config_.max_tasks_per_child;
      wc.zygote = getppid();
      try {
        run_worker(wc);
      } catch (...) {
        // Never unwind out of a forked child: it would go on in the zygote's loop.
      }
      _exit(70);
    }
    if (pid < 0) {
      slot.fork_errno.store(errno);   // for the pool's error, should forks keep failing
      timespec pause{0, 50'000'000};  // a failing fork retries at a slow pace
      nanosleep(&pause, nullptr);
      report(w, 0, -1);
      return;
    }
    slot.pid.store(pid);
    slot.life.store(kAlive, std::memory_order_release);
  }

  void report(int w, pid_t pid, int status) {
    WorkerSlot& slot = shared_.slot(w);
    slot.dead_pid.store(pid);
    slot.wait_status.store(status);
    slot.pid.store(0);
    slot.life.store(kDead, std::memory_order_release);
    shared_.control().deaths.fetch_add(1, std::memory_order_release);
    shared_.control().results.notify(1);
  }

  void reap() {
    for (;;) {
      int status = 0;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) return;
      for (int w = 0; w < shared_.workers(); ++w) {
        if (shared_.slot(w).pid.load() == pid) {
          report(w, pid, status);
          break;
        }
      }
    }
  }

  int alive() const {
    int n = 0;
    for (int w = 0; w < shared_.workers(); ++w) n += shared_.slot(w).pid.load() > 0;
    return n;
  }

  [[noreturn]] void kill_all_and_exit() {
    for (int w = 0; w < shared_.workers(); ++w) {
      pid_t pid = shared_.slot(w).pid.load();
      if (pid > 0) kill(pid, SIGKILL);
    }
    for (int w = 0; w < shared_.workers(); ++w) {
      pid_t pid = shared_.slot(w).pid.load();
      if (pid > 0) {
        while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
      }
    }
    _exit(0);
  }

  const ZygoteConfig& config_;
  SharedState& shared_;
  int fd_;
  int sfd_ = -1;
  sigset_t mask_;
};

}  // namespace

absl::StatusOr<pid_t> start_zygote(const ZygoteConfig& config, int* command_fd) {
  std::lock_guard lock(g_start_mu);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return absl::ResourceExhaustedError(absl::StrCat("socketpair: ", std::strerror(errno)));
  }
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  std::fflush(nullptr);  // or the children would print buffered output again
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(sv[0]);
    close(sv[1]);
    return absl::ResourceExhaustedError(absl::StrCat("fork: ", std::strerror(err)));
  }
  if (pid == 0) {
    // The forking thread held g_start_mu: give this process (and the workers it forks,
    // whose tasks may start pools of their own) an unlocked one.
    new (&g_start_mu) std::mutex();
    close(sv[0]);
    try {
      Zygote(config, sv[1], mask).run();
    } catch (...) {
      // Never unwind out of a forked child: it would go on running the pool's program.
    }
    _exit(70);
  }
  close(sv[1]);
  remember_fd(sv[0]);
  *command_fd = sv[0];
  return pid;
}

bool send_command(int command_fd, const ZygoteCommand& command) {
  for (;;) {
    ssize_t n = send(command_fd, &command, sizeof(command), MSG_NOSIGNAL);
    if (n == sizeof(command)) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

void close_command(int command_fd) {
  forget_fd(command_fd);
  close(command_fd);
}

}  // namespace shoal::engine
