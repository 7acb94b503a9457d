// Process: fork, run, reap. pidfd_open lets join(timeout) wait without polling.
#include "shoal/process.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cxxabi.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <iostream>
#include <stdexcept>
#include <thread>
#include <typeinfo>

#include "shared/mp/cpu_limit.h"
#include "shoal/codec.hpp"
#include "shoal/errors.hpp"

namespace shoal {
namespace {

// How long a daemon child has to leave after SIGTERM when its Process is destroyed.
constexpr auto kDaemonGrace = std::chrono::seconds(1);

std::atomic<int> g_constructed{0};
std::string& current_name() {
  static std::string name = "MainProcess";
  return name;
}

int status_to_exitcode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

void flush_all() {
  std::cout.flush();
  std::cerr.flush();
  std::clog.flush();
  std::fflush(nullptr);
}

// Runs `process.run()` in the child and returns its exit code: 0, or 1 after printing
// what it threw. pthread_exit's abi::__forced_unwind goes on, as it must. UBSan takes
// that catch's reference (the foreign exception has no object) for a null one, and
// GCC's no_sanitize("null") does not reach the catch: UBSan leaves this function alone.
__attribute__((no_sanitize_undefined)) int run_in_child(Process& process) {
  try {
    process.run();
  } catch (abi::__forced_unwind&) {
    throw;
  } catch (const std::exception& e) {
    flush_all();
    std::fprintf(stderr, "Process %s: %s: %s\n", process.name().c_str(),
                 internal::demangle(typeid(e).name()).c_str(), e.what());
    return 1;
  } catch (...) {
    flush_all();
    std::fprintf(stderr, "Process %s: unknown exception\n", process.name().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

struct Process::State {
  std::string name;
  bool daemon = false;
  bool started = false;
  pid_t pid = 0;
  pid_t creator = 0;  // the process that called start()
  int pidfd = -1;
  std::optional<int> exitcode;

  // Reaps the child if it exited (blocking when `block`); true once reaped.
  bool reap(bool block) {
    if (exitcode) return true;
    int status = 0;
    for (;;) {
      pid_t r = ::waitpid(pid, &status, block ? 0 : WNOHANG);
      if (r == pid) {
        exitcode = status_to_exitcode(status);
        break;
      }
      if (r == 0) return false;
      if (errno == EINTR) continue;
      exitcode = -1;  // ECHILD: someone else reaped it; the status is lost
      break;
    }
    if (pidfd >= 0) {
      ::close(pidfd);
      pidfd = -1;
    }
    return true;
  }
  void check_owner(const char* what) const {
    if (!started)
      throw std::logic_error(std::string("shoal::Process::") + what +
                             ": the process has not been started");
    if (creator != ::getpid()) {
      throw std::logic_error(std::string("shoal::Process::") + what +
                             ": only the process that started it can do this");
    }
  }
};

Process::Process() : state_(std::make_unique<State>()) {
  state_->name = "Process-" + std::to_string(++g_constructed);
}

Process::Process(Process&&) noexcept = default;
Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    finish();
    state_ = std::move(other.state_);
    target_ = std::move(other.target_);
  }
  return *this;
}

Process::~Process() { finish(); }

void Process::finish() noexcept {
  if (!state_) return;
  if (state_->started && state_->creator == ::getpid() && !state_->exitcode) {
    if (state_->daemon) {
      // A child that ignores or handles SIGTERM without leaving must not block us for ever.
      ::kill(state_->pid, SIGTERM);
      if (!join_until(std::chrono::steady_clock::now() + kDaemonGrace)) {
        ::kill(state_->pid, SIGKILL);
      }
    }
    state_->reap(true);
  }
  if (state_->pidfd >= 0) {
    ::close(state_->pidfd);
    state_->pidfd = -1;
  }
}

void Process::run() {
  if (target_) target_->call();
}

Process::State& Process::state() const {
  if (!state_) throw std::logic_error("shoal::Process: used after it was moved from");
  return *state_;
}

void Process::start() {
  if (state().started) throw std::logic_error("shoal::Process::start: already started");
  flush_all();
  const pid_t parent = ::getpid();
  const pid_t parent_thread = static_cast<pid_t>(::syscall(SYS_gettid));
  pid_t pid = ::fork();
  if (pid < 0)
    throw Error(std::string("shoal::Process::start: fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    if (state().daemon) {
      // The signal follows the thread that forked: if it ended, or the parent died,
      // before prctl, none will come, so the child leaves now.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent || ::syscall(SYS_tgkill, parent, parent_thread, 0) != 0) {
        ::_exit(1);
      }
    }
    current_name() = state().name;
    // pthread_exit() in run() unwinds the stack with abi::__forced_unwind, which must be
    // rethrown; the child then ends here, with exit code 0 as a program whose main thread
    // calls pthread_exit: the parent's frames that fork copied are never unwound.
    struct ExitWhenUnwound {
      ~ExitWhenUnwound() {
        flush_all();
        ::_exit(0);
      }
    } exit_when_unwound;
    const int code = run_in_child(*this);
    flush_all();
    ::_exit(code);
  }
  state().started = true;
  state().pid = pid;
  state().creator = parent;
  state().pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

void Process::join() {
  state().check_owner("join");
  state().reap(true);
}

bool Process::join_until(std::chrono::steady_clock::time_point deadline) {
  state().check_owner("join");
  if (state().reap(false)) return true;
  for (;;) {
    if (state().pidfd >= 0) {
      pollfd p{state().pidfd, POLLIN, 0};
      ::poll(&p, 1, internal::poll_timeout_ms(deadline));
    } else {
      ::usleep(1000);  // no pidfd (old kernel): poll the child every millisecond
    }
    if (state().reap(false)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
  }
}

bool Process::is_alive() const {
  if (!state().started || state().exitcode) return false;
  if (state().creator != ::getpid()) {
    throw std::logic_error("shoal::Process::is_alive: only the process that started it can ask");
  }
  return !state().reap(false);
}

std::optional<int> Process::exitcode() const {
  if (state().started && !state().exitcode && state().creator == ::getpid()) state().reap(false);
  return state().exitcode;
}

std::optional<pid_t> Process::pid() const {
  if (!state().started) return std::nullopt;
  return state().pid;
}

const std::string& Process::name() const { return state().name; }
void Process::set_name(std::string name) { state().name = std::move(name); }
bool Process::daemon() const { return state().daemon; }

void Process::set_daemon(bool daemon) {
  if (state().started) throw std::logic_error("shoal::Process::set_daemon: already started");
  state().daemon = daemon;
}

void Process::terminate() {
  if (state().started && !state().exitcode) ::kill(state().pid, SIGTERM);
}

void Process::kill() {
  if (state().started && !state().exitcode) ::kill(state().pid, SIGKILL);
}

int cpu_count() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) n = static_cast<long>(std::thread::hardware_concurrency());
  if (n < 1) n = 1;
  int allowed = internal::affinity_cpu_count();
  if (allowed > 0 && allowed < n) n = allowed;
  std::ifstream file("/proc/self/cgroup");
  std::string cgroup((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  int quota = internal::cgroup_cpu_limit(cgroup, "/sys/fs/cgroup");
  if (quota > 0 && quota < n) n = quota;
  return static_cast<int>(n);
}

std::string current_process_name() { return current_name(); }

}  // namespace shoal
