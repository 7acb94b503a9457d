#include "worker/task_runner.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_replace.h"
#include "client/remote_wire.h"
#include "shoal/internal/future_state.h"
#include "shoal/task.hpp"

namespace shoal::worker {

absl::StatusOr<std::unique_ptr<CompletionQueue>> CompletionQueue::create() {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return absl::InternalError(std::string("eventfd: ") + std::strerror(errno));
  return std::unique_ptr<CompletionQueue>(new CompletionQueue(fd));
}

CompletionQueue::~CompletionQueue() { close(fd_); }

void CompletionQueue::push(v1::TaskResult result) {
  if (enqueue(std::move(result))) wake();
}

bool CompletionQueue::enqueue(v1::TaskResult result) {
  std::lock_guard lock(mu_);
  bool first = results_.empty();  // one wake-up per batch, not per result
  results_.push_back(std::move(result));
  return first;
}

void CompletionQueue::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(fd_, &one, sizeof(one));
}

std::vector<v1::TaskResult> CompletionQueue::take() {
  std::uint64_t count;
  [[maybe_unused]] ssize_t n = read(fd_, &count, sizeof(count));
  std::lock_guard lock(mu_);
  return std::exchange(results_, {});
}

// Receives the engine's outcome of one task and turns it into a TaskResult.
class TaskRunner::ResultSink final : public internal::Sink {
 public:
  ResultSink(TaskRunner* runner, const v1::Task& task, std::uint64_t engine_seq)
      : runner_(runner), id_(task.id()), items_(task.items()), attempt_(task.attempt()),
        lease_(task.lease()), engine_seq_(engine_seq) {}

  const std::string& id() const { return id_; }

  // Both build the result before claiming the sink: one that throws (out of memory)
  // leaves it unclaimed, for the engine to fail it again (internal::fail_undelivered).
  void complete(std::size_t, std::string reply) override {
    if (resolved_.load()) return;
    v1::TaskResult result = base();
    absl::Status status = internal::reply_to_result(std::move(reply), items_, &result);
    if (!status.ok()) {
      result.clear_items();
      internal::to_task_error({internal::ErrorKind::kSerialization, "shoal::SerializationError",
                               "the worker could not read the task's reply: " +
                                   std::string(status.message()),
                               internal::where_am_i()},
                              result.mutable_failure());
    }
    if (resolved_.exchange(true)) return;
    runner_->finish(id_, engine_seq_, std::move(result));
  }

  void fail(std::size_t, const internal::ErrorInfo& error) override {
    if (resolved_.load()) return;
    v1::TaskResult result = base();
    // The engine names the task by its own id ("task X exceeded its time limit"); the
    // broker's id is the one its client knows.
    internal::ErrorInfo named = error;
    named.message = absl::StrReplaceAll(
        error.message, {{internal::task_id_string(engine_seq_), id_}});
    internal::to_task_error(named, result.mutable_failure());
    if (resolved_.exchange(true)) return;
    runner_->finish(id_, engine_seq_, std::move(result));
  }

 private:
  v1::TaskResult base() const {
    v1::TaskResult result;
    result.set_id(id_);
    result.set_worker(runner_->name_);
    result.set_attempts(attempt_ + 1);
    result.set_lease(lease_);
    return result;
  }

  TaskRunner* runner_;
  std::string id_;
  std::uint32_t items_;
  std::uint32_t attempt_;
  std::uint64_t lease_;
  std::uint64_t engine_seq_;
  std::atomic<bool> resolved_{false};  // exactly one result, even if submit() failed late
};

TaskRunner::TaskRunner(std::shared_ptr<internal::Backend> backend, std::string worker_name,
                       CompletionQueue* done)
    : backend_(std::move(backend)), name_(std::move(worker_name)), done_(done) {}

void TaskRunner::start(const std::vector<v1::Task*>& tasks) {
  std::vector<internal::Submission> batch;
  batch.reserve(tasks.size());
  std::vector<std::pair<const v1::Task*, internal::ErrorInfo>> refused;
  for (v1::Task* task : tasks) {
    const internal::TaskEntry* entry = internal::find_task(task->name());
    auto args = internal::invoke_args(*task);
    if (entry == nullptr) {
      refused.push_back({task,
                         {internal::ErrorKind::kNotRegistered, "shoal::NotRegisteredError",
                          "task '" + task->name() + "' is not registered on worker " + name_,
                          internal::where_am_i()}});
      continue;
    }
    if (!args.ok()) {
      refused.push_back({task,
                         {internal::ErrorKind::kSerialization, "shoal::SerializationError",
                          std::string(args.status().message()), internal::where_am_i()}});
      continue;
    }
    internal::Submission s;
    s.seq = internal::next_task_seq();
    s.invoke = entry->invoke;
    s.fn = entry->fn;
    s.name = task->name();
    if (args->size() == task->args().size()) {
      s.args = std::move(*task->mutable_args());  // a single call: take the bytes as they are
    } else {
      s.args = std::string(*args);
    }
    s.items = std::max<std::uint32_t>(1, task->items());
    s.raw = false;
    s.options.queue = task->queue();
    s.options.priority = static_cast<int>(task->priority());
    s.options.time_limit = std::chrono::milliseconds(  // any uint64 is a valid limit
        std::min<std::uint64_t>(task->time_limit_ms(), INT64_MAX));
    s.options.max_retries = 0;  // the broker retries, on any worker
    s.sink = std::make_shared<ResultSink>(this, *task, s.seq);
    batch.push_back(std::move(s));
  }
  {
    std::lock_guard lock(mu_);
    for (const auto& s : batch) {
      running_[static_cast<ResultSink*>(s.sink.get())->id()].push_back(s.seq);
    }
    count_ += batch.size();
  }
  for (auto& [task, error] : refused) {  // `tasks` still holds them: nothing was moved
    v1::TaskResult result;
    result.set_id(task->id());
    result.set_lease(task->lease());
    result.set_worker(name_);
    internal::to_task_error(error, result.mutable_failure());
    done_->push(std::move(result));
  }
  if (batch.empty()) return;
  std::vector<std::shared_ptr<internal::Sink>> sinks;
  for (const auto& s : batch) sinks.push_back(s.sink);
  try {
    backend_->submit(batch);
  } catch (const std::exception& e) {
    // The engine is closed (we are stopping): let the broker run these elsewhere.
    for (auto& sink : sinks) {
      sink->fail(0, {internal::ErrorKind::kWorkerLost, "", e.what(), internal::where_am_i()});
    }
  }
}

void TaskRunner::finish(const std::string& id, std::uint64_t engine_seq, v1::TaskResult result) {
  // Queued under mu_: once running() reads 0, every result is in `done_`. The session
  // thread is woken after mu_ is released: woken at once, it reads running() (credit),
  // and would otherwise sleep on mu_ and need a second wake-up.
  bool wake;
  {
    std::lock_guard lock(mu_);
    if (auto it = running_.find(id); it != running_.end()) {
      auto& seqs = it->second;
      if (auto copy = std::find(seqs.begin(), seqs.end(), engine_seq); copy != seqs.end()) {
        --count_;
        seqs.erase(copy);
        if (seqs.empty()) running_.erase(it);
      }
    }
    if (returning_.erase(engine_seq) > 0 &&
        result.failure().kind() == v1::ERROR_KIND_CANCELLED) {
      returned_.push_back({id, result.lease()});  // return_unstarted() takes it
      return;
    }
    if (terminating_ && result.failure().kind() == v1::ERROR_KIND_CANCELLED) {
      // Killed by our own shutdown, not cancelled by anyone: the broker should retry it.
      result.mutable_failure()->set_kind(v1::ERROR_KIND_WORKER_LOST);
      result.mutable_failure()->set_message("the worker stopped before the task ended");
    }
    wake = done_->enqueue(std::move(result));
  }
  if (wake) done_->wake();
}

std::size_t TaskRunner::running() const {
  std::lock_guard lock(mu_);
  return count_;
}

std::vector<std::string> TaskRunner::running_ids() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::uint64_t, std::string>> ordered;
  ordered.reserve(running_.size());
  for (const auto& [id, seqs] : running_) ordered.emplace_back(seqs.front(), id);
  std::sort(ordered.begin(), ordered.end());
  std::vector<std::string> ids;
  ids.reserve(ordered.size());
  for (auto& [order, id] : ordered) ids.push_back(std::move(id));
  return ids;
}

std::vector<TaskRunner::Returned> TaskRunner::return_unstarted() {
  std::vector<std::uint64_t> seqs;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, copies] : running_) {
      for (std::uint64_t seq : copies) {
        seqs.push_back(seq);
        returning_.insert(seq);
      }
    }
  }
  // The engine fails a copy it takes back (one not started) with kCancelled, here.
  for (std::uint64_t seq : seqs) backend_->cancel(seq);
  std::lock_guard lock(mu_);
  for (std::uint64_t seq : seqs) returning_.erase(seq);  // started: they end as they do
  return std::exchange(returned_, {});
}

void TaskRunner::terminate() {
  {
    std::lock_guard lock(mu_);
    terminating_ = true;
  }
  backend_->terminate();
}

}  // namespace shoal::worker
