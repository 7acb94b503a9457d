// W1-W4 of ../shared/peers through a broker (mode "remote"): the same tasks, sizes and
// checks as the local workloads, with Pool::connect(s.broker). Start a broker and
// bench/bench_worker.cc's worker first (scripts/bench_remote.sh does it all).

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

// 64-bit: W2's 10 M squares overflow int.
long long sq(long long x) { return x * x; }
Bytes echo(Bytes b) { return b; }

void run_remote(const Settings& s) {
  ConnectOptions options;
  options.tls = !s.root_certs_pem.empty();
  options.root_certs_pem = s.root_certs_pem;
  Pool pool = Pool::connect(s.broker, options);
  pool.map(sq, range(1000));  // warm-up: connection, broker lanes, worker processes

  run_sq_workloads(s, pool, sq);
  if (s.wants("W4")) run_w4(s, pool, echo);
}

const bool kRegistered = register_group("remote", run_remote);

}  // namespace
}  // namespace shoal::bench

// By name, for the broker's workers (bench/bench_worker.cc registers the same names).
SHOAL_TASK_AS(shoal::bench::sq, "bench.sq");
SHOAL_TASK_AS(shoal::bench::echo, "bench.echo");
