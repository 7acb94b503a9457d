// W1-W4 of ../shared/peers (bench_mp.py) on a local Pool: the same tasks, sizes and
// checks as Python's multiprocessing.Pool, measured the same way. Results are checked
// after the clock stops; a wrong result stops the run.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "bench/pool_workloads.h"
#include "bench/workloads.h"
#include "shoal/shoal.hpp"

namespace shoal::bench {
namespace {

// 64-bit, as Python's: W2's 10 M squares overflow int (undefined behaviour, and the check
// compared against the same overflow).
long long sq(long long x) { return x * x; }
Bytes echo(Bytes b) { return b; }

void run_local(const Settings& s) {
  Pool pool(s.workers);
  pool.map(sq, range(1000));  // warm-up: workers forked and running

  run_sq_workloads(s, pool, sq);
  if (s.wants("W4")) run_w4(s, pool, echo);
}

const bool kRegistered = register_group("local", run_local);

}  // namespace
}  // namespace shoal::bench
