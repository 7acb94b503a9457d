// The local engine's join(): every accepted job is resolved when it returns, even one
// another thread cancelled and is still resolving.

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
  void fail(std::size_t, const internal::ErrorInfo&) override {
    failing.store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    resolved.store(true);
  }
  std::atomic<bool> failing{false};
  std::atomic<bool> resolved{false};
};

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

}  // namespace
}  // namespace shoal::engine
