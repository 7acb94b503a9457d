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

int sq(int x) { return x * x; }
Bytes echo(Bytes b) { return b; }

void check_sq(const std::vector<int>& out, long n) {
  bool ok = out.size() == static_cast<std::size_t>(n);
  for (std::size_t i = 0; ok && i < out.size(); ++i) ok = out[i] == sq(static_cast<int>(i));
  if (!ok) {
    wrong_results("results");
  }
}

void run_local(const Settings& s) {
  Pool pool(s.workers);
  pool.map(sq, range(1000));  // warm-up: workers forked and running

  if (s.wants("W1")) {
    measure(s, "W1_async", [&] {
      std::vector<Future<int>> futures;
      futures.reserve(static_cast<std::size_t>(s.n1));
      std::vector<int> out;
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
        std::vector<int> out = pool.map(sq, xs, chunksize);
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
        int r = pool.apply_async(sq, static_cast<int>(i)).get();
        lat.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                .count());
        ok = ok && r == sq(static_cast<int>(i));
      }
      clk.stop();
      if (!ok) wrong_results("results");
      return latency(std::move(lat), clk);
    });
  }

  if (s.wants("W4")) run_w4(s, pool, echo);
}

const bool kRegistered = register_group("local", run_local);

}  // namespace
}  // namespace shoal::bench
