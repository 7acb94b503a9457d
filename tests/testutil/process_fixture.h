#pragma once
// ChildProcess: a program started by a test, with its stdout readable line by line,
// killed (SIGKILL) and reaped by pid when the owner goes away, on every path. The child
// also gets SIGKILL if the test process dies first (PR_SET_PDEATHSIG).

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace shoal::testutil {

class ChildProcess {
 public:
  // Starts argv[0] (a path) with `argv`; `env` entries ("K=V") are added to the
  // environment. stdout is piped to read_line(); stderr is inherited, or goes into the
  // same pipe when `with_stderr`. Throws std::runtime_error when the program cannot be
  // started.
  static std::unique_ptr<ChildProcess> start(const std::vector<std::string>& argv,
                                             const std::vector<std::string>& env = {},
                                             bool with_stderr = false);
  ~ChildProcess();  // SIGKILL and reap unless it has already exited
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The next line of stdout (without '\n'), or nullopt at EOF or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // Reads lines until one starts with `prefix`; returns it, or nullopt.
  std::optional<std::string> wait_for_line(const std::string& prefix,
                                           std::chrono::milliseconds timeout);
  void signal(int sig);
  // The exit status once exited within `timeout`: the exit code, or -N if killed by N.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }

 private:
  ChildProcess(pid_t pid, int out_fd) : pid_(pid), out_fd_(out_fd) {}
  pid_t pid_;
  int out_fd_;
  std::string buffer_;
  std::optional<int> status_;
};

// A TCP port on 127.0.0.1 that was free a moment ago (for restarting on fixed ports).
int free_port();

}  // namespace shoal::testutil
