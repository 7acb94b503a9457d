#pragma once
// The seam between the Pool facade (shoal/pool.hpp) and its two backends: the local
// fork/shared-memory engine and the remote broker client. The facade encodes tasks
// and decodes replies; a backend only moves bytes and reports failures.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "shoal/internal/future_state.h"
#include "shoal/options.hpp"
#include "shoal/task.hpp"

namespace shoal::internal {

// One unit of work: `items` argument sets of one task, resolved through `sink`.
struct Submission {
  std::uint64_t seq = 0;             // task id (printable form: task_id_string(seq))
  Invoker invoke = nullptr;          // local: runs the items in a worker process
  std::uintptr_t fn = 0;             // local: the function address given to `invoke`
  std::string name;                  // registered name ("" if unregistered; remote needs it)
  std::string args;                  // `items` argument sets back to back (raw, or one
                                     // MessagePack array of positional arguments each)
  std::size_t items = 1;
  bool raw = false;                  // raw mode for args and reply (local only)
  TaskOptions options;
  std::shared_ptr<Sink> sink;        // receives exactly one complete() or fail()
  std::size_t index = 0;             // passed back to `sink`
};

class Backend : public Canceller {
 public:
  // True for the local engine: raw mode and unregistered functions are allowed.
  virtual bool local() const = 0;
  // Hands `batch` over (moving from it), in order. Blocks while the backend is full.
  // Throws PoolClosedError after close()/terminate(), even for an empty batch.
  // Thread-safe.
  virtual void submit(std::vector<Submission>& batch) = 0;
  // As submit(), but waits for room only until `deadline`: false, with `batch` left as
  // it was, if the backend was still full then. Thread-safe. The default submits (a
  // backend that never waits for room).
  virtual bool submit_until(std::vector<Submission>& batch, Clock::time_point /*deadline*/) {
    submit(batch);
    return true;
  }
  // As submit() with a batch of one: hands `s` over (moving from it). Blocks and throws
  // as submit() does. Thread-safe. The default wraps submit(); a backend may override
  // it to skip the batch's allocation (the local pool's per-task path).
  virtual void submit_one(Submission& s) {
    std::vector<Submission> batch;
    batch.push_back(std::move(s));
    submit(batch);
  }
  // No new work; queued work still runs. Idempotent.
  virtual void close() = 0;
  // Stops now: unfinished submissions fail with kCancelled; workers are killed.
  virtual void terminate() = 0;
  // Waits until every worker has exited (after close: once all work is done).
  // Throws std::logic_error unless closed or terminated.
  virtual void join() = 0;
  // Local: worker processes; remote: connected worker slots.
  virtual int processes() const = 0;
  // processes() as of at most a second ago, for sizing chunks and windows (remote: one
  // broker round trip a second, not one per map), counting the slots of `queue` (remote;
  // "": the pool's own). Thread-safe.
  virtual int processes_hint(const std::string& /*queue*/) const { return processes(); }
  // The most bytes of arguments one task may carry (0: no limit known). Thread-safe.
  virtual std::uint64_t max_task_bytes() const { return 0; }
  // A source of progress for waiting threads, or nullptr.
  virtual std::shared_ptr<ProgressSource> progress() { return nullptr; }
  // Why the backend stopped by itself (its worker processes are gone), or "" while it
  // works or was only closed. Thread-safe.
  virtual std::string failure() const { return ""; }
};

// The local fork/shared-memory backend (client/local_backend.cc).
// Throws std::invalid_argument when options.processes < 0. `detached`: its processes
// are out of reach of signals to the caller's process group (EngineOptions::detached).
std::shared_ptr<Backend> make_local_backend(const PoolOptions& options, bool detached = false);

// The remote backend (client/remote_backend.cc): a gRPC session with a broker at
// `address` ("HOST:PORT"). Throws ConnectionError when nothing answers within
// options.connect_timeout.
std::shared_ptr<Backend> make_remote_backend(const std::string& address,
                                             const ConnectOptions& options);

}  // namespace shoal::internal
