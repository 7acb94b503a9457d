// Random faults while clients work: workers SIGKILLed and restarted or stopped past
// their liveness, the broker stopped past the workers' liveness (they reconnect, their
// hellos read late) or SIGKILLed and restarted on its journal, all while two threads of a
// remote Pool submit maps and single tasks. Every future must resolve with its right
// value: tasks may run more than once, none may be lost, fail or hang.
//
// CI runs it for 15 s. Longer, or another sequence of faults:
//   SHOAL_CHAOS_SECONDS=300 SHOAL_CHAOS_SEED=7 build/tests/integration/shoal_integration_tests
//     --gtest_filter='ClusterChaosTest.*'
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "shoal/shoal.hpp"
#include "tests/integration/cluster.h"
#include "tests/integration/test_tasks.h"

namespace shoal::itest {
namespace {

using namespace std::chrono_literals;

long env_or(const char* name, long fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtol(value, nullptr, 10) : fallback;
}

// What the clients did and saw.
struct Tally {
  std::atomic<long> items{0};     // results checked
  std::atomic<long> wrong{0};     // a value not the one asked for
  std::atomic<long> errors{0};    // a future that failed
  std::atomic<bool> stop{false};
};

// Submits maps of varying chunk sizes and bursts of single tasks until told to stop,
// checking each result.
void client_loop(Pool& pool, Tally& tally, unsigned seed) {
  std::mt19937 rng(seed);
  TaskOptions options;
  options.max_retries = 1000;  // the faults must cost no failure
  Pool patient = pool.with(options);
  while (!tally.stop.load()) {
    try {
      if (rng() % 2 == 0) {
        std::vector<int> xs(60 + rng() % 100);
        for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = int(rng() % 1000);
        auto ys = patient.map_async(slow_square, xs, int(1 + rng() % 6)).get(180s);
        for (std::size_t i = 0; i < xs.size(); ++i) tally.wrong += ys[i] != xs[i] * xs[i];
        tally.items += long(xs.size());
      } else {
        std::vector<Future<long long>> futures;
        std::vector<long long> xs;
        for (int i = 0; i < 20; ++i) {
          xs.push_back(rng() % 100000);
          futures.push_back(patient.apply_async(square, xs.back()));
        }
        for (std::size_t i = 0; i < futures.size(); ++i) {
          tally.wrong += futures[i].get(180s) != xs[i] * xs[i];
        }
        tally.items += long(futures.size());
      }
    } catch (const std::exception& e) {
      ++tally.errors;
      ADD_FAILURE() << "a client's future failed: " << e.what();
    }
  }
}

TEST(ClusterChaosTest, RandomFaultsLoseNoTaskAndFailNone) {
  const long seconds = env_or("SHOAL_CHAOS_SECONDS", 15);
  const unsigned seed = unsigned(env_or("SHOAL_CHAOS_SEED", long(std::random_device{}())));
  SCOPED_TRACE("SHOAL_CHAOS_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  Cluster cluster;
  cluster.use_quick_loss();  // stalled workers and broker are lost after 600 ms
  const std::string store = "--store-dir=" + cluster.temp_dir() + "/store";
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {store});
  const std::string clients = cluster.clients(), workers = cluster.workers();
  const std::vector<std::string> names{"w1", "w2", "w3"};
  for (const auto& name : names) cluster.start_worker(name, 2);

  Pool pool = Pool::connect(clients);
  TerminateOnFailure guard(pool);
  Tally tally;
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] { client_loop(pool, tally, seed + i + 1); });
  }

  std::vector<std::string> done;  // the faults made, for the failure message
  auto pause = [&](int min_ms, int max_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(min_ms + rng() % (max_ms - min_ms)));
  };
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until && !::testing::Test::HasFailure()) {
    pause(200, 800);
    const std::string& name = names[rng() % names.size()];
    switch (rng() % 5) {
      case 0:  // a worker host crashes and comes back
        cluster.worker(name).signal(SIGKILL);
        cluster.worker(name).wait(10s);
        pause(50, 500);
        cluster.start_worker(name, 2);
        done.push_back("kill " + name);
        break;
      case 1:  // a worker stalls past its liveness (600 ms), then goes on
        cluster.worker(name).signal(SIGSTOP);
        pause(700, 1500);
        cluster.worker(name).signal(SIGCONT);
        done.push_back("stop " + name);
        break;
      case 2:  // the broker stalls past the workers' liveness: they reconnect meanwhile
        cluster.broker().signal(SIGSTOP);
        pause(700, 2500);
        cluster.broker().signal(SIGCONT);
        done.push_back("stop broker");
        break;
      case 3:  // the broker crashes and restarts on its journal, on the same ports
        cluster.kill_broker();
        pause(50, 500);
        cluster.start_broker(clients, workers, {store});
        done.push_back("kill broker");
        break;
      default:  // a quiet spell
        pause(200, 1000);
        done.push_back("quiet");
        break;
    }
  }
  tally.stop = true;
  for (auto& t : threads) t.join();
  std::string faults;
  for (const auto& f : done) faults += f + "; ";
  SCOPED_TRACE("faults: " + faults);
  std::printf("chaos: seed %u, %zu faults, %ld results checked\n", seed, done.size(),
              tally.items.load());
  EXPECT_EQ(tally.errors.load(), 0);
  EXPECT_EQ(tally.wrong.load(), 0);
  EXPECT_GT(tally.items.load(), 0);
  // The broker still serves, with every worker back.
  EXPECT_TRUE(cluster.wait_stats([&](const v1::Stats& s) { return s.workers() == names.size(); }));
  EXPECT_EQ(pool.apply(square, 12), 144);
}

}  // namespace
}  // namespace shoal::itest
