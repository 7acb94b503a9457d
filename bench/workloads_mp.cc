// Q1, Q2, P1, M1: the multiprocessing toolbox against Python's multiprocessing
// (bench/mp_peer.py runs the same workloads there).
//   Q1_queue_1to1   one producer, one consumer, 64-byte items: items/s
//   Q2_queue_2to2   two producers, two consumers, 64-byte items: items/s
//   P1_pipe_rtt     64-byte send_bytes/recv_bytes ping-pong with a child: p50/p99 (us)
//   M1_manager_dict_rtt  Manager dict set and get, alternating, each one sample: p50/p99
// Every item is checked after the clock stops; a wrong result stops the run.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench/workloads.h"
#include "shoal/shoal.hpp"

namespace shoal::bench {
namespace {

constexpr long kQueueItems = 2'000'000;
constexpr long kRoundTrips = 20'000;
constexpr std::size_t kItemBytes = 64;

double now_us() {
  return std::chrono::duration<double, std::micro>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void fail(const char* what) {
  std::fprintf(stderr, "shoal-bench: %s\n", what);
  std::exit(1);
}

// An item carrying its sequence number in the first 8 bytes.
Bytes make_item(long i) {
  Bytes b(kItemBytes, std::byte{0x5a});
  for (int k = 0; k < 8; ++k) b[k] = static_cast<std::byte>(i >> (8 * k));
  return b;
}

long item_number(const Bytes& b) {
  long v = 0;
  for (int k = 0; k < 8; ++k) v |= static_cast<long>(b[k]) << (8 * k);
  return v;
}

// `producers` processes put `n` items in total; `consumers` processes take them until
// each sees an empty item (one per consumer). The sum of item numbers checks delivery.
Metrics queue_run(int producers, int consumers, long n) {
  Queue<Bytes> q;
  Value<long> sum(0);
  Value<long> count(0);
  std::vector<Process> takers;
  for (int c = 0; c < consumers; ++c) {
    takers.emplace_back([&] {
      long local_sum = 0, local_count = 0;
      for (;;) {
        Bytes b = q.get();
        if (b.empty()) break;
        local_sum += item_number(b);
        ++local_count;
      }
      std::lock_guard guard(sum.get_lock());
      sum.value() += local_sum;
      count.value() += local_count;
    });
  }
  for (auto& p : takers) p.start();
  std::vector<Process> makers;
  for (int p = 0; p < producers; ++p) {
    makers.emplace_back([&, p] {
      for (long i = p; i < n; i += producers) q.put(make_item(i));
    });
  }
  Clock clk;
  for (auto& p : makers) p.start();
  for (auto& p : makers) p.join();
  for (int c = 0; c < consumers; ++c) q.put(Bytes{});
  for (auto& p : takers) p.join();
  clk.stop();
  if (count.load() != n || sum.load() != n * (n - 1) / 2) fail("queue lost or duplicated items");
  return throughput(static_cast<double>(n), clk, "items/s");
}

Metrics pipe_run(long k) {
  auto [here, there] = Pipe();
  Process echo([there = there]() mutable {
    for (;;) {
      std::string m = there.recv_bytes();
      if (m.empty()) return;
      there.send_bytes(m);
    }
  });
  echo.start();
  there.close();
  const std::string message(kItemBytes, 'p');
  for (int i = 0; i < 200; ++i) {  // warm-up
    here.send_bytes(message);
    here.recv_bytes();
  }
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(k));
  Clock clk;
  for (long i = 0; i < k; ++i) {
    double t0 = now_us();
    here.send_bytes(message);
    std::string back = here.recv_bytes();
    samples.push_back(now_us() - t0);
    if (back.size() != message.size()) fail("pipe echo mismatch");
  }
  clk.stop();
  here.send_bytes("");
  echo.join();
  return latency(std::move(samples), clk);
}

Metrics manager_run(Manager& m, long k) {
  auto d = m.dict<int, Bytes>();
  const Bytes value(kItemBytes, std::byte{'x'});
  for (int i = 0; i < 200; ++i) d.set(i % 100, value);  // warm-up
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(k));
  Clock clk;
  for (long i = 0; i < k; ++i) {
    double t0 = now_us();
    if (i % 2 == 0) {
      d.set(static_cast<int>(i % 100), value);
    } else if (d.get(static_cast<int>((i - 1) % 100)).size() != kItemBytes) {
      fail("manager dict mismatch");
    }
    samples.push_back(now_us() - t0);
  }
  clk.stop();
  return latency(std::move(samples), clk);
}

void run_mp(const Settings& s) {
  if (s.wants("Q1")) measure(s, "Q1_queue_1to1", [] { return queue_run(1, 1, kQueueItems); });
  if (s.wants("Q2")) measure(s, "Q2_queue_2to2", [] { return queue_run(2, 2, kQueueItems); });
  if (s.wants("P1")) measure(s, "P1_pipe_rtt", [] { return pipe_run(kRoundTrips); });
  if (s.wants("M1")) {
    Manager m;
    measure(s, "M1_manager_dict_rtt", [&] { return manager_run(m, kRoundTrips); });
  }
}

const bool kRegistered = register_group("any", run_mp);

}  // namespace
}  // namespace shoal::bench
