// The Backend seam (client/include/shoal/internal/backend.h): submit_one's default
// hands a batch of one to submit(), and the local backend's own submit_one runs the
// task and resolves its sink like submit() does.

#include "shoal/internal/backend.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "shoal/errors.hpp"
#include "shoal/future.hpp"

namespace shoal::internal {
namespace {

int triple(int x) { return 3 * x; }

// Records what submit() was given; everything else is inert.
class RecordingBackend final : public Backend {
 public:
  bool local() const override { return false; }
  void submit(std::vector<Submission>& batch) override {
    batches.push_back(std::move(batch));
    batch.clear();
  }
  void close() override {}
  void terminate() override {}
  void join() override {}
  int processes() const override { return 1; }
  bool cancel(std::uint64_t) override { return false; }

  std::vector<std::vector<Submission>> batches;
};

// A raw-mode submission of triple(x) resolving `sink`.
Submission triple_of(int x, std::shared_ptr<Sink> sink) {
  Submission s;
  s.seq = next_task_seq();
  s.fn = reinterpret_cast<std::uintptr_t>(&triple);
  s.invoke = &invoke_items<true, int (*)(int)>;
  s.raw = true;
  s.args.assign(reinterpret_cast<const char*>(&x), sizeof(x));
  s.sink = std::move(sink);
  return s;
}

TEST(BackendTest, SubmitOneDefaultHandsOverABatchOfOne) {
  RecordingBackend backend;
  auto state = std::make_shared<FutureState>(7, true);
  Submission s = triple_of(5, state);
  s.name = "triple";
  s.index = 3;
  const std::uint64_t seq = s.seq;
  backend.submit_one(s);
  ASSERT_EQ(backend.batches.size(), 1u);
  ASSERT_EQ(backend.batches[0].size(), 1u);
  const Submission& got = backend.batches[0][0];
  EXPECT_EQ(got.seq, seq);
  EXPECT_EQ(got.name, "triple");
  EXPECT_EQ(got.index, 3u);
  EXPECT_EQ(got.args.size(), sizeof(int));
  EXPECT_EQ(got.sink, state);
  EXPECT_EQ(s.sink, nullptr);  // moved from, as submit() moves from its batch
}

TEST(BackendTest, LocalSubmitOneRunsTheTaskAndResolvesItsSink) {
  auto backend = make_local_backend(PoolOptions{1, {}, 0});
  std::vector<Future<int>> futures;
  for (int x = 0; x < 100; ++x) {
    auto state = std::make_shared<FutureState>(next_task_seq(), true);
    Submission s = triple_of(x, state);
    backend->submit_one(s);
    futures.emplace_back(std::move(state));
  }
  for (int x = 0; x < 100; ++x) EXPECT_EQ(futures[x].get(), 3 * x);
  backend->close();
  backend->join();
}

TEST(BackendTest, LocalSubmitOneAfterCloseThrowsPoolClosedError) {
  auto backend = make_local_backend(PoolOptions{1, {}, 0});
  backend->close();
  auto state = std::make_shared<FutureState>(next_task_seq(), true);
  Submission s = triple_of(1, state);
  EXPECT_THROW(backend->submit_one(s), PoolClosedError);
  backend->join();
}

}  // namespace
}  // namespace shoal::internal
