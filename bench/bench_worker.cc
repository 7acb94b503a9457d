// shoal-bench-worker: the worker for `shoal-bench --mode=remote`. It registers the
// same task names as bench/workloads_remote.cc and runs shoal::worker_main.
#include "shoal/shoal.hpp"

namespace {

// 64-bit: W2's 10 M squares overflow int.
long long sq(long long x) { return x * x; }
shoal::Bytes echo(shoal::Bytes b) { return b; }

}  // namespace

SHOAL_TASK_AS(sq, "bench.sq");
SHOAL_TASK_AS(echo, "bench.echo");

int main(int argc, char** argv) { return shoal::worker_main(argc, argv); }
