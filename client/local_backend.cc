// The local Pool backend: the Pool facade's Submissions run on the fork/shared-memory
// engine (shared/engine/engine.h).

#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "shared/engine/engine.h"
#include "shoal/errors.hpp"
#include "shoal/internal/backend.h"
#include "shoal/internal/malloc_tuning.h"
#include "shoal/process.hpp"

namespace shoal::internal {
namespace {

class LocalBackend final : public Backend, public std::enable_shared_from_this<LocalBackend> {
 public:
  explicit LocalBackend(std::unique_ptr<engine::Engine> engine) : engine_(std::move(engine)) {}

  bool local() const override { return true; }

  void submit(std::vector<Submission>& batch) override {
    std::vector<engine::Job> jobs;
    jobs.reserve(batch.size());
    for (Submission& s : batch) jobs.push_back(to_job(s));
    batch.clear();
    check(engine_->submit(jobs));
  }

  // One task: no batch vectors on the way (apply_async's path).
  void submit_one(Submission& s) override {
    engine::Job job = to_job(s);
    check(engine_->submit(job));
  }

  bool cancel(std::uint64_t id) override { return engine_->cancel(id); }
  void close() override { engine_->close(); }
  void terminate() override { engine_->terminate(); }

  void join() override {
    absl::Status status = engine_->join();
    if (absl::IsFailedPrecondition(status)) throw std::logic_error(std::string(status.message()));
    if (!status.ok()) throw Error(std::string(status.message()));
  }

  int processes() const override { return engine_->processes(); }

  std::string failure() const override { return engine_->failure(); }

  // True on the thread that runs the engine's collector (and so done-callbacks).
  bool on_supervisor_thread() const { return engine_->on_supervisor_thread(); }

  // Threads waiting on this pool's futures collect replies themselves; the alias
  // keeps the backend (and so the engine) alive while one does.
  std::shared_ptr<ProgressSource> progress() override {
    return std::shared_ptr<ProgressSource>(shared_from_this(), engine_.get());
  }

 private:
  static engine::Job to_job(Submission& s) {
    engine::Job job;
    job.seq = s.seq;
    job.invoke = s.invoke;
    job.fn = s.fn;
    job.args = std::move(s.args);
    job.items = s.items;
    job.time_limit_ms = s.options.time_limit.count();
    // -1: the local default, no re-runs (a crash is usually deterministic).
    job.max_retries = s.options.max_retries < 0 ? 0 : s.options.max_retries;
    job.sink = std::move(s.sink);
    job.index = s.index;
    return job;
  }

  static void check(const absl::Status& status) {
    if (!status.ok()) throw PoolClosedError(std::string(status.message()));
  }

  std::unique_ptr<engine::Engine> engine_;
};

}  // namespace

std::shared_ptr<Backend> make_local_backend(const PoolOptions& options, bool detached) {
  if (options.processes < 0) {
    throw std::invalid_argument("shoal::Pool needs processes >= 0 (0: cpu_count()), not " +
                                std::to_string(options.processes));
  }
  engine::EngineOptions engine_options;
  engine_options.processes = options.processes == 0 ? shoal::cpu_count() : options.processes;
  engine_options.initializer = options.initializer;
  engine_options.max_tasks_per_child = options.max_tasks_per_child;
  engine_options.detached = detached;
  tune_malloc_for_payloads();
  auto engine = engine::Engine::start(std::move(engine_options));
  if (!engine.ok()) {
    throw Error("shoal::Pool could not start: " + std::string(engine.status().message()));
  }
  // The last handle may go in a done-callback on the engine's supervisor thread, which the
  // engine's teardown joins: then it is torn down on a thread of its own. (Destroyed on
  // that thread, it could not join it: std::terminate.)
  return std::shared_ptr<LocalBackend>(new LocalBackend(std::move(*engine)), [](LocalBackend* b) {
    if (b->on_supervisor_thread()) {
      std::thread([b] { delete b; }).detach();
    } else {
      delete b;
    }
  });
}

}  // namespace shoal::internal
