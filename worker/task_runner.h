#pragma once
// Runs broker tasks on the local engine (the same fork/shared-memory pool a local
// shoal::Pool uses) and turns each reply into a TaskResult for the session thread.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "shoal/internal/backend.h"
#include "shoal/v1/task.pb.h"

namespace shoal::worker {

// Finished results, handed from the engine's threads to the session thread, which
// polls fd() (an eventfd, readable while results wait). Thread-safe.
class CompletionQueue {
 public:
  static absl::StatusOr<std::unique_ptr<CompletionQueue>> create();
  ~CompletionQueue();
  CompletionQueue(const CompletionQueue&) = delete;
  CompletionQueue& operator=(const CompletionQueue&) = delete;

  // Queues `result` and makes fd() readable.
  void push(v1::TaskResult result);
  // Queues `result`; true when the caller must then call wake() (the queue was empty).
  // Lets a caller queue under its own lock and wake the session thread after releasing
  // it, so the woken thread does not block on that lock at once.
  bool enqueue(v1::TaskResult result);
  // Makes fd() readable.
  void wake();
  // Every waiting result, in completion order; clears fd()'s readiness.
  std::vector<v1::TaskResult> take();
  int fd() const { return fd_; }

 private:
  explicit CompletionQueue(int fd) : fd_(fd) {}
  const int fd_;
  std::mutex mu_;
  std::vector<v1::TaskResult> results_;  // guarded by mu_
};

class TaskRunner {
 public:
  // `backend` runs the tasks; `done` receives every result. Both must outlive the
  // runner's last result (terminate or drain the backend before destroying them).
  TaskRunner(std::shared_ptr<internal::Backend> backend, std::string worker_name,
             CompletionQueue* done);

  // Starts `tasks`. Each one's result arrives through `done` exactly once: the reply
  // items, a NOT_REGISTERED failure for a name this process lacks, TIME_LIMIT when the
  // engine killed it, WORKER_LOST when its process died. Never throws.
  // The tasks' argument bytes are moved out.
  void start(const std::vector<v1::Task*>& tasks);

  // Tasks started and not yet finished.
  std::size_t running() const;
  // Their ids, in the order they were started (the order the engine runs them in: the
  // broker counts a waiting task's time limit from when those ahead of it end).
  std::vector<std::string> running_ids() const;

  // Why the engine stopped by itself (its processes are gone), or "" while it works.
  std::string failure() const { return backend_->failure(); }

  // Kills the running tasks (the engine stops); they end as WORKER_LOST so that the
  // broker runs them elsewhere.
  void terminate();

  // A task handed back unstarted: its id and the lease it came with.
  struct Returned {
    std::string id;
    std::uint64_t lease = 0;
  };
  // Takes back from the engine every task it has not started (they never run here) and
  // returns them; their results never come through `done`.
  std::vector<Returned> return_unstarted();

 private:
  class ResultSink;
  // Ends the copy of task `id` the engine knew as `engine_seq`, with `result`.
  void finish(const std::string& id, std::uint64_t engine_seq, v1::TaskResult result);

  std::shared_ptr<internal::Backend> backend_;
  const std::string name_;
  CompletionQueue* done_;
  mutable std::mutex mu_;
  // By id, the engine seqs of its copies still running, in the order they were started
  // (seqs grow with it): a copy that ended leaves the others' place, not its own.
  absl::flat_hash_map<std::string, absl::InlinedVector<std::uint64_t, 1>> running_;  // mu_
  std::size_t count_ = 0;                              // guarded by mu_: sum of copies
  bool terminating_ = false;                       // guarded by mu_
  // Engine seqs of copies return_unstarted() is taking back, and those it took.
  absl::flat_hash_set<std::uint64_t> returning_;  // guarded by mu_
  std::vector<Returned> returned_;                 // guarded by mu_
};

}  // namespace shoal::worker
