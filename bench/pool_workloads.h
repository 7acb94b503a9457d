#pragma once
// Pieces the local and remote W1-W4 workloads share: inputs, checks, and W4 itself
// (the same loop for any Pool).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "bench/workloads.h"
#include "shoal/shoal.hpp"

namespace shoal::bench {

// 0, 1, ..., n-1.
inline std::vector<int> range(long n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int>(i);
  return v;
}

// Stops the run: a benchmark with wrong results measures nothing.
[[noreturn]] inline void wrong_results(const char* what) {
  std::fprintf(stderr, "shoal-bench: wrong %s\n", what);
  std::exit(1);
}

// `tasks` distinct random payloads of `size` bytes (nothing to deduplicate or cache).
inline std::vector<Bytes> make_payloads(long tasks, long size) {
  std::mt19937_64 rng(std::random_device{}());
  std::vector<Bytes> out(static_cast<std::size_t>(tasks));
  for (Bytes& b : out) {
    b.resize(static_cast<std::size_t>(size));
    for (std::size_t i = 0; i + 8 <= b.size(); i += 8) {
      std::uint64_t r = rng();
      std::memcpy(&b[i], &r, 8);
    }
  }
  return out;
}

// W4: rounds of a map echoing distinct payloads; MB/s counts both directions.
inline void run_w4(const Settings& s, Pool& pool, Bytes (*echo)(Bytes)) {
  std::vector<Bytes> payloads = make_payloads(s.w4_tasks, s.w4_size);
  pool.map(echo, std::vector<Bytes>(payloads.begin(), payloads.begin() + 4));  // warm-up
  measure(s, "W4_payload", [&] {
    std::vector<Bytes> out;
    Clock clk;
    for (long r = 0; r < s.w4_rounds; ++r) out = pool.map(echo, payloads);
    clk.stop();
    if (out != payloads) wrong_results("payload results");
    double moved = 2.0 * static_cast<double>(s.w4_rounds * s.w4_tasks * s.w4_size);
    return bandwidth(moved, static_cast<double>(s.w4_rounds * s.w4_tasks), clk);
  });
}

}  // namespace shoal::bench
