#pragma once
// The zygote: a single-threaded process forked once when a pool starts. It forks the
// workers and every replacement (never the pool's process, which may run gRPC or
// ZeroMQ threads by then), reaps them at once and reports each death through the
// worker's slot, and kills its workers and exits when the pool goes away.

#include <sys/types.h>

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "shared/engine/layout.h"

namespace shoal::engine {

// What the pool asks of its zygote (one SOCK_SEQPACKET message each).
struct ZygoteCommand {
  enum Op : char {
    kSpawn = 'S',      // fork a worker into slot `worker`
    kKill = 'K',       // SIGKILL slot `worker` if it still runs process `pid`
    kQuit = 'Q',       // exit once every worker has exited (they see control.shutdown)
    kTerminate = 'T',  // SIGKILL every worker, reap them, exit
  };
  Op op;
  std::int32_t worker = 0;
  std::int32_t pid = 0;
};

struct ZygoteConfig {
  SharedState* shared = nullptr;
  const std::function<void()>* initializer = nullptr;
  int max_tasks_per_child = 0;
  pid_t pool = 0;  // the pool's process: when it is gone, so are we
  bool detached = false;  // EngineOptions::detached
};

// Forks the zygote, which forks `config.shared->workers()` workers at once.
// `*command_fd` receives the pool's end of the command socket (close-on-exec).
// Call with no engine lock held: fork() runs the process's atfork handlers.
absl::StatusOr<pid_t> start_zygote(const ZygoteConfig& config, int* command_fd);

// Sends `command`; false if the zygote is gone. Never raises SIGPIPE. Thread-safe.
bool send_command(int command_fd, const ZygoteCommand& command);

// Closes the pool's end of the command socket (the zygote then sees end-of-file).
void close_command(int command_fd);

}  // namespace shoal::engine
