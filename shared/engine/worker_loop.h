#pragma once
// The loop of a worker process: take a token, claim its record, run the task,
// send the reply through the worker's result ring; sleep on a futex when idle.

#include <sys/types.h>

#include <functional>

#include "shared/engine/layout.h"

namespace shoal::engine {

struct WorkerConfig {
  SharedState* shared = nullptr;
  int worker = 0;                                      // slot index
  const std::function<void()>* initializer = nullptr;  // may be empty
  int max_tasks_per_child = 0;                         // 0: unlimited
  pid_t zygote = 0;                                    // the expected parent
};

// Runs in a freshly forked worker; never returns (exits 0 when the pool shuts down or
// after max_tasks_per_child tasks). Dies with its zygote (PR_SET_PDEATHSIG).
[[noreturn]] void run_worker(const WorkerConfig& config);

// Sends `reply` for `token` through `ring` in fragments, waiting for room; wakes the
// pool's collector through `results`. Exposed for tests.
void send_reply(ByteRing& ring, WaitWord& results, std::uint64_t token, const char* data,
                std::size_t size);

}  // namespace shoal::engine
