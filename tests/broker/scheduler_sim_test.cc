// A simulator of the scheduler (ARCHITECTURE.md: "driven by a simulator with thousands
// of fake workers and faults"). A seeded generator drives a real Scheduler and
// InMemoryTaskStore on a fake clock through random steps: submissions (with duplicate
// ids and invalid tasks), results (with duplicates, late ones and crash reports),
// credits, heartbeats, workers falling silent, disconnecting and saying hello again,
// cancels, GetResult calls, watches, sessions ending and reopening, time passing. It
// reads every Actions list and checks, after every step, what users rely on (API.md §8
// "Remote semantics"); a failure names the seed and the step, which replay the run.
// The simulator itself is in scheduler_sim_runner.h and its two .cc files.
#include <cstdlib>
#include <iostream>
#include <vector>

#include "gtest/gtest.h"
#include "scheduler_sim_runner.h"

namespace shoal::broker::sim {
namespace {

// Runs `config` with each seed, stopping at the first failure (enough to replay it).
void run_seeds(SimConfig config, const std::vector<uint64_t>& seeds) {
  for (uint64_t seed : seeds) {
    config.seed = seed;
    SchedulerSim sim(config);
    bool ok = sim.run();
    if (std::getenv("SHOAL_SIM_VERBOSE") != nullptr) std::cout << sim.summary() << "\n";
    if (!ok) return;
  }
}

TEST(SchedulerSimTest, SmallClustersKeepEveryInvariant) {
  run_seeds({.workers = 6, .clients = 3, .steps = 3000}, {1, 2, 3, 4});
}

TEST(SchedulerSimTest, MediumClusterKeepsEveryInvariant) {
  run_seeds({.workers = 60, .clients = 6, .steps = 3000, .max_batch = 32, .max_queued = 600,
             .check_workers_every = 5},
            {11, 12});
}

TEST(SchedulerSimTest, ThousandWorkersKeepEveryInvariant) {
  run_seeds({.workers = 1000, .clients = 10, .steps = 2500, .max_batch = 400,
             .max_queued = 5000, .check_workers_every = 50},
            {101});
}

// More seeds on request (with --gtest_also_run_disabled_tests): SHOAL_SIM_SEEDS seeds
// from SHOAL_SIM_FIRST_SEED, with SHOAL_SIM_WORKERS workers.
TEST(SchedulerSimTest, DISABLED_ManySeeds) {
  auto env = [](const char* name, uint64_t otherwise) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::strtoull(value, nullptr, 10) : otherwise;
  };
  std::vector<uint64_t> seeds;
  for (uint64_t i = 0; i < env("SHOAL_SIM_SEEDS", 100); ++i) {
    seeds.push_back(env("SHOAL_SIM_FIRST_SEED", 1000) + i);
  }
  int workers = int(env("SHOAL_SIM_WORKERS", 8));
  run_seeds({.workers = workers, .clients = 3, .steps = 3000,
             .max_queued = 300 + 5 * uint64_t(workers), .check_workers_every = 1 + workers / 20},
            seeds);
}

}  // namespace
}  // namespace shoal::broker::sim
