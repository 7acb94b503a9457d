#pragma once
// Test helper: runs a shell command and captures its stdout and exit code.

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace shoal::testing_util {

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

// Runs `command` with /bin/sh, waits for it, and returns its stdout and exit status.
inline CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) result.output.append(buf, n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace shoal::testing_util
