// Workers coming and going, end to end: SIGTERM drains a worker without running its
// tasks twice.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <optional>
#include <thread>

#include "shoal/shoal.hpp"
#include "tests/integration/cluster.h"
#include "tests/integration/test_tasks.h"

namespace shoal::itest {
namespace {

using namespace std::chrono_literals;

// SIGTERM drains: the worker's running task finishes there and nowhere else (it used to
// be re-queued at the Bye, counted as retried, and run a second time on another worker),
// and the draining worker gets nothing new although it has a free process.
TEST(ClusterWorkerTest, SigtermDrainsTheRunningTaskWithoutRunningItTwice) {
  Cluster cluster;
  cluster.start_broker();
  auto& w1 = cluster.start_worker("w1", 2);
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  std::string runs = cluster.temp_dir() + "/runs", gate_file = cluster.temp_dir() + "/gate";
  auto f = pool.apply_async(logged_gate, runs, gate_file);
  ASSERT_TRUE(wait_for_lines(runs, 1));  // running on w1
  cluster.start_worker("w2", 1);
  w1.signal(SIGTERM);
  // The broker has read the Bye once it shows w1 draining (or, as it used to, gone).
  auto give_up = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    auto info = cluster.worker_info("w1");
    if (!info || info->draining()) break;
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "the broker never saw the Bye";
    std::this_thread::sleep_for(5ms);
  }
  v1::Stats stats = cluster.stats();
  EXPECT_EQ(stats.retried(), 0u);
  EXPECT_EQ(stats.queued(), 0u);
  EXPECT_EQ(stats.running(), 1u);
  std::vector<Future<std::string>> others;
  for (int i = 0; i < 6; ++i) others.push_back(pool.apply_async(whoami, i));
  for (auto& other : others) EXPECT_EQ(other.get(30s), "w2");
  std::ofstream(gate_file) << "open";
  EXPECT_EQ(f.get(30s), 1);
  EXPECT_EQ(w1.wait(30s), 0);
  ASSERT_TRUE(cluster.wait_stats([](const v1::Stats& s) { return s.workers() == 1; }));
  EXPECT_EQ(read_lines(runs), std::vector<std::string>{"w1"});
  EXPECT_EQ(cluster.stats().retried(), 0u);
}

// What a draining worker cannot finish by its deadline is killed and retried elsewhere.
TEST(ClusterWorkerTest, ATaskStillRunningAtTheDrainDeadlineIsRetriedElsewhere) {
  Cluster cluster;
  cluster.start_broker();
  auto& w1 = cluster.start_worker("w1", 1, "default", {"--drain-timeout-ms=100"});
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  std::string runs = cluster.temp_dir() + "/runs", gate_file = cluster.temp_dir() + "/gate";
  auto f = pool.apply_async(logged_gate, runs, gate_file);
  ASSERT_TRUE(wait_for_lines(runs, 1));
  cluster.start_worker("w2", 1);
  w1.signal(SIGTERM);
  EXPECT_EQ(w1.wait(30s), 0);
  ASSERT_TRUE(wait_for_lines(runs, 2));  // the second run, on w2
  std::ofstream(gate_file) << "open";
  EXPECT_EQ(f.get(30s), 1);
  EXPECT_EQ(read_lines(runs), (std::vector<std::string>{"w1", "w2"}));
  EXPECT_EQ(cluster.stats().retried(), 1u);
}

}  // namespace
}  // namespace shoal::itest
