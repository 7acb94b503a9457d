#pragma once
// What submit and map hand the remote backend as the sink of their submissions.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "shoal/internal/backend.h"

namespace shoal::cli {

// Collects the outcome of every submission (chunk) by index, for the one thread that
// waits for them. Every method is thread-safe, but outcome(), whose answer is valid once
// done(index) is true.
class CollectSink final : public internal::Sink {
 public:
  struct Outcome {
    std::string reply;
    std::optional<internal::ErrorInfo> error;
  };

  explicit CollectSink(std::vector<std::size_t> sizes)
      : sizes_(std::move(sizes)), outcomes_(sizes_.size()) {}

  // Sink: record the outcome of submission `index`.
  void complete(std::size_t index, std::string reply) override {
    resolve(index, {std::move(reply), std::nullopt});
  }
  void fail(std::size_t index, const internal::ErrorInfo& error) override {
    resolve(index, {"", error});
  }
  // Items of the chunks ended so far: `ended` in all, `failed` of them in chunks that failed
  // whole (an item's own error inside a chunk is only known once decoded).
  struct Progress {
    std::size_t ended = 0;
    std::size_t failed = 0;
  };
  // Waits up to `timeout` for every chunk to end; returns the progress so far.
  Progress wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return chunks_done_ == sizes_.size(); });
    return progress_;
  }
  // Whether every submission has ended.
  bool all_done() {
    std::lock_guard lock(mu_);
    return chunks_done_ == sizes_.size();
  }
  // Waits up to `timeout` for every submission in `indexes` to end; true if they have.
  bool wait_done(const std::vector<std::size_t>& indexes, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      return std::all_of(indexes.begin(), indexes.end(),
                         [&](std::size_t i) { return outcomes_[i].has_value(); });
    });
  }
  // Whether submission `index` has ended (either way).
  bool done(std::size_t index) {
    std::lock_guard lock(mu_);
    return outcomes_[index].has_value();
  }
  // The outcome of submission `index`, once done(index).
  Outcome& outcome(std::size_t index) { return *outcomes_[index]; }

 private:
  void resolve(std::size_t index, Outcome outcome) {
    std::lock_guard lock(mu_);
    outcomes_[index] = std::move(outcome);
    progress_.failed += outcomes_[index]->error ? sizes_[index] : 0;
    ++chunks_done_;
    progress_.ended += sizes_[index];
    cv_.notify_all();
  }
  const std::vector<std::size_t> sizes_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::optional<Outcome>> outcomes_;
  std::size_t chunks_done_ = 0;
  Progress progress_;
};

}  // namespace shoal::cli
