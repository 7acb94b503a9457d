// The local engine's join(): every accepted job is resolved when it returns, even one
// another thread cancelled or failed and is still resolving; and a join() in a
// done-callback returns once that is done.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <tuple>

#include "shared/engine/engine.h"
#include "shoal/task.hpp"
#include "tests/client/engine_test_util.h"
#include "tests/client/pool_test_util.h"

namespace shoal::engine {
namespace {

using shoal::testing::TestPipe;
using testing::gated_job;
using testing::within_10s;

// A sink slow to take a failure, as a future with slow done-callbacks would be.
class SlowSink final : public internal::Sink {
 public:
  void complete(std::size_t, std::string) override { resolved.store(true); }
  void fail(std::size_t, const internal::ErrorInfo& error) override {
    message = error.message;
    failing.store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    resolved_at = std::chrono::steady_clock::now();
    resolved.store(true);
  }
  std::string message;  // written before `failing`
  std::chrono::steady_clock::time_point resolved_at;  // written before `resolved`
  std::atomic<bool> failing{false};
  std::atomic<bool> resolved{false};
};

TEST(EngineJoinTest, WaitsForACancelledJobStillBeingResolved) {
  TestPipe go;
  EngineOptions options;
  options.processes = 1;
  auto engine = Engine::start(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto running = std::make_shared<SlowSink>();
  auto queued = std::make_shared<SlowSink>();  // waits behind `running` on the one process
  Job first = gated_job(1, go.read_fd(), running);
  Job second = gated_job(2, go.read_fd(), queued);
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
  Job job = gated_job(1, -1, too_big);
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

// join() in a done-callback (on the supervisor thread) whose last awaited job another thread
// is resolving (a cancel) is woken when that ends. It slept until the supervisor's idle tick
// (200 ms) instead: only replies and deaths woke it. Performance is not asserted here (this
// is a hang guard); the test prints how long join() took after the job was resolved.
TEST(EngineJoinTest, AJoinInADoneCallbackReturnsWhenAnotherThreadResolvesTheLastJob) {
  TestPipe go;
  EngineOptions options;
  options.processes = 1;
  auto engine = Engine::start(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  Engine* e = engine->get();
  auto first = std::make_shared<internal::FutureState>(1, false);
  auto queued = std::make_shared<SlowSink>();  // waits behind `first` on the one process
  std::promise<std::chrono::steady_clock::time_point> joined;
  first->add_callback([&] {
    e->close();
    EXPECT_TRUE(e->join().ok());
    joined.set_value(std::chrono::steady_clock::now());
  });
  Job job1 = gated_job(1, go.read_fd(), first);
  Job job2 = gated_job(2, go.read_fd(), queued);
  ASSERT_TRUE(e->submit(job1).ok());
  ASSERT_TRUE(e->submit(job2).ok());

  std::thread canceller([&] { EXPECT_TRUE(e->cancel(2)); });
  ASSERT_TRUE(within_10s(queued->failing)) << "the cancel never reached the sink";
  go.write_int(1);  // `first` ends; its callback's join() waits for the cancel to resolve
  std::future<std::chrono::steady_clock::time_point> returned = joined.get_future();
  if (returned.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    ADD_FAILURE() << "join() in a done-callback did not return";
    std::fflush(stdout);
    std::_Exit(1);  // the engine's teardown would wait for that callback for ever
  }
  const auto at = returned.get();
  ASSERT_TRUE(queued->resolved.load());
  std::printf("join() in the done-callback returned %.1f ms after the last job was resolved\n",
              std::chrono::duration<double, std::milli>(at - queued->resolved_at).count());
  canceller.join();
}

}  // namespace
}  // namespace shoal::engine
