#pragma once
// Pieces the local and remote W1-W4 workloads share: inputs, checks, and W4 itself
// (the same loop for any Pool).

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <ranges>
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


// W1 (apply_async one at a time, then all results), W2 (one map, default chunks and
// chunksize 1), W3 (sequential round trips) and I1 (imap with chunksize 1, Python's
// default, consumed in order) of `sq`, with results checked after the clock stops. R is
// the task's integer type (the same checks for local and remote).
template <class R>
void run_sq_workloads(const Settings& s, Pool& pool, R (*sq)(R)) {
  auto check = [sq](const std::vector<R>& out, long n) {
    bool ok = out.size() == static_cast<std::size_t>(n);
    for (std::size_t i = 0; ok && i < out.size(); ++i) ok = out[i] == sq(static_cast<R>(i));
    if (!ok) wrong_results("results");
  };
  if (s.wants("W1")) {
    measure(s, "W1_async", [&] {
      std::vector<Future<R>> futures;
      futures.reserve(static_cast<std::size_t>(s.n1));
      std::vector<R> out;
      out.reserve(static_cast<std::size_t>(s.n1));
      Clock clk;
      for (long x = 0; x < s.n1; ++x) futures.push_back(pool.apply_async(sq, static_cast<int>(x)));
      for (auto& f : futures) out.push_back(f.get());
      clk.stop();
      check(out, s.n1);
      return throughput(static_cast<double>(s.n1), clk);
    });
  }
  if (s.wants("W2")) {
    auto w2 = [&](long n, std::size_t chunksize) {
      return [&pool, &check, sq, n, chunksize] {
        std::vector<int> xs = range(n);
        Clock clk;
        std::vector<R> out = pool.map(sq, xs, chunksize);
        clk.stop();
        check(out, n);
        return throughput(static_cast<double>(n), clk);
      };
    };
    measure(s, "W2_map_chunkdefault", w2(s.n2, 0));
    measure(s, "W2_map_chunk1", w2(s.n2_chunk1, 1));
  }
  if (s.wants("I1")) {
    measure(s, "I1_imap_chunk1", [&] {
      std::vector<R> out;
      out.reserve(static_cast<std::size_t>(s.n2_chunk1));
      Clock clk;
      for (R r : pool.imap(sq, std::views::iota(0, static_cast<int>(s.n2_chunk1)))) {
        out.push_back(r);
      }
      clk.stop();
      check(out, s.n2_chunk1);
      return throughput(static_cast<double>(s.n2_chunk1), clk);
    });
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
        R r = pool.apply_async(sq, static_cast<int>(i)).get();
        lat.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                .count());
        ok = ok && r == sq(static_cast<R>(i));
      }
      clk.stop();
      if (!ok) wrong_results("results");
      return latency(std::move(lat), clk);
    });
  }
}

}  // namespace shoal::bench
