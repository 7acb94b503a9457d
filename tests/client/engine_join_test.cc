// The local engine's join(): every accepted job is resolved when it returns, even one
// another thread cancelled or failed and is still resolving.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <tuple>

#include "shared/engine/engine.h"
#include "shoal/task.hpp"
#include "tests/client/pool_test_util.h"

namespace shoal::engine {
namespace {

using shoal::testing::TestPipe;

// Blocks until the test writes to the pipe whose read end is `fd`, then returns `v`.
int wait_for_go(int fd, int v) {
  char c;
  while (read(fd, &c, 1) < 0 && errno == EINTR) {
  }
  return v;
}
SHOAL_TASK_AS(wait_for_go, "engine_join_test.wait_for_go");

// A sink slow to take a failure, as a future with slow done-callbacks would be.
class SlowSink final : public internal::Sink {
 public:
  void complete(std::size_t, std::string) override { resolved.store(true); }
  void fail(std::size_t, const internal::ErrorInfo& error) override {
    message = error.message;
    failing.store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    resolved.store(true);
  }
  std::string message;  // written before `failing`
  std::atomic<bool> failing{false};
  std::atomic<bool> resolved{false};
};

// Waits (10 s at most) until `flag` is set; false if it never was.
bool within_10s(const std::atomic<bool>& flag) {
  for (auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       !flag.load() && std::chrono::steady_clock::now() < give_up;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return flag.load();
}

Job wait_for_go_job(std::uint64_t seq, int fd, std::shared_ptr<internal::Sink> sink) {
  const internal::TaskEntry* task = internal::find_task("engine_join_test.wait_for_go");
  Job job;
  job.seq = seq;
  job.invoke = task->invoke;
  job.fn = task->fn;
  internal::encode_args<false>(job.args, std::tuple<int, int>{fd, int(seq)});
  job.sink = std::move(sink);
  return job;
}

TEST(EngineJoinTest, WaitsForACancelledJobStillBeingResolved) {
  TestPipe go;
  EngineOptions options;
  options.processes = 1;
  auto engine = Engine::start(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto running = std::make_shared<SlowSink>();
  auto queued = std::make_shared<SlowSink>();  // waits behind `running` on the one process
  Job first = wait_for_go_job(1, go.read_fd(), running);
  Job second = wait_for_go_job(2, go.read_fd(), queued);
  ASSERT_TRUE((*engine)->submit(first).ok());
  ASSERT_TRUE((*engine)->submit(second).ok());
  (*engine)->close();

  std::thread canceller([&] { EXPECT_TRUE((*engine)->cancel(2)); });
  for (auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       !queued->failing.load() && std::chrono::steady_clock::now() < give_up;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(queued->failing.load()) << "the cancel never reached the sink";
  go.write_int(1);  // the last job left ends: join() may return once `queued` is resolved
  ASSERT_TRUE((*engine)->join().ok());
  EXPECT_TRUE(running->resolved.load());
  EXPECT_TRUE(queued->resolved.load()) << "join() returned while a cancelled job's sink was "
                                          "still being resolved on another thread";
  canceller.join();
}

// A failure submit() finds itself (here arguments larger than the payload slab) is resolved
// after submit() releases the engine lock; a join() in another thread meanwhile waits for
// it. (It returned with the job's sink still being failed: join() saw nothing queued,
// placed or staging and no thread listed as resolving.)
TEST(EngineJoinTest, WaitsForAFailureSubmitIsStillResolving) {
  EngineOptions options;
  options.processes = 1;
  options.layout.slab_bytes = std::size_t{1} << 20;
  auto engine = Engine::start(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto too_big = std::make_shared<SlowSink>();
  Job job = wait_for_go_job(1, -1, too_big);
  job.args.assign(std::size_t{4} << 20, 'x');  // more than the whole slab
  std::thread submitter([&] { EXPECT_TRUE((*engine)->submit(job).ok()); });
  ASSERT_TRUE(within_10s(too_big->failing)) << "submit() never failed the job";
  (*engine)->close();
  ASSERT_TRUE((*engine)->join().ok());
  EXPECT_TRUE(too_big->resolved.load()) << "join() returned while a job submit() failed was "
                                           "still being resolved on another thread";
  EXPECT_NE(too_big->message.find("exceed the pool's payload slab"), std::string::npos)
      << too_big->message;
  submitter.join();
}

}  // namespace
}  // namespace shoal::engine
