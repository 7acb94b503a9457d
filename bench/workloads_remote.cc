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

void check_sq(const std::vector<long long>& out, long n) {
  bool ok = out.size() == static_cast<std::size_t>(n);
  for (std::size_t i = 0; ok && i < out.size(); ++i) ok = out[i] == sq(static_cast<long long>(i));
  if (!ok) {
    wrong_results("results");
  }
}

void run_remote(const Settings& s) {
  Pool pool = Pool::connect(s.broker);
  pool.map(sq, range(1000));  // warm-up: connection, broker lanes, worker processes

  if (s.wants("W1")) {
    measure(s, "W1_async", [&] {
      std::vector<Future<long long>> futures;
      futures.reserve(static_cast<std::size_t>(s.n1));
      std::vector<long long> out;
      out.reserve(static_cast<std::size_t>(s.n1));
      Clock clk;
      for (long x = 0; x < s.n1; ++x) futures.push_back(pool.apply_async(sq, static_cast<int>(x)));
      for (auto& f : futures) out.push_back(f.get());
      clk.stop();
      check_sq(out, s.n1);
      return throughput(static_cast<double>(s.n1), clk);
    });
  }

  if (s.wants("W2")) {
    auto w2 = [&](long n, std::size_t chunksize) {
      return [&pool, n, chunksize] {
        std::vector<int> xs = range(n);
        Clock clk;
        std::vector<long long> out = pool.map(sq, xs, chunksize);
        clk.stop();
        check_sq(out, n);
        return throughput(static_cast<double>(n), clk);
      };
    };
    measure(s, "W2_map_chunkdefault", w2(s.n2, 0));
    measure(s, "W2_map_chunk1", w2(s.n2_chunk1, 1));
  }

  if (s.wants("W3")) {
    measure(s, "W3_latency", [&] {
      for (int i = 0; i < 200; ++i) pool.apply_async(sq, i).get();  // warm-up
      std::vector<double> lat;
      lat.reserve(static_cast<std::size_t>(s.k3));
      bool ok = true;
      Clock clk;
      for (long i = 0; i < s.k3; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        long long r = pool.apply_async(sq, static_cast<int>(i)).get();
        lat.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                .count());
        ok = ok && r == sq(i);
      }
      clk.stop();
      if (!ok) wrong_results("results");
      return latency(std::move(lat), clk);
    });
  }

  if (s.wants("W4")) run_w4(s, pool, echo);
}

const bool kRegistered = register_group("remote", run_remote);

}  // namespace
}  // namespace shoal::bench

// By name, for the broker's workers (bench/bench_worker.cc registers the same names).
SHOAL_TASK_AS(shoal::bench::sq, "bench.sq");
SHOAL_TASK_AS(shoal::bench::echo, "bench.echo");
