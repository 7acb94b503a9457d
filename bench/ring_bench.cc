// Micro-benchmarks of the engine's shared-memory rings (Google Benchmark).
//   build/bench/ring_bench --benchmark_filter=Token

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include "shared/engine/byte_ring.h"
#include "shared/engine/shared_region.h"
#include "shared/engine/token_ring.h"

namespace shoal::engine {
namespace {

SharedRegion region(std::size_t bytes) { return std::move(*SharedRegion::create(bytes, false)); }

// One thread pushes and pops: the cost of the operations themselves.
void BM_TokenRingPushPop(benchmark::State& state) {
  SharedRegion mem = region(TokenRing::bytes_for(1024));
  TokenRing ring(mem.data(), 1024);
  std::uint64_t t = 0;
  for (auto _ : state) {
    ring.push(1);
    ring.pop(&t);
    benchmark::DoNotOptimize(t);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TokenRingPushPop);

// A producer thread against one consumer thread (another core): tokens per second.
void BM_TokenRingAcrossThreads(benchmark::State& state) {
  SharedRegion mem = region(TokenRing::bytes_for(8192));
  TokenRing ring(mem.data(), 8192);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> consumed{0};
  std::thread consumer([&] {
    std::uint64_t t;
    while (!stop.load(std::memory_order_relaxed)) {
      if (ring.pop(&t)) consumed.fetch_add(1, std::memory_order_relaxed);
    }
  });
  std::uint64_t pushed = 0;
  for (auto _ : state) {
    while (!ring.push(pushed + 1)) {
    }
    ++pushed;
  }
  while (consumed.load() < pushed) {
  }
  stop = true;
  consumer.join();
  state.SetItemsProcessed(static_cast<std::int64_t>(pushed));
}
BENCHMARK(BM_TokenRingAcrossThreads)->UseRealTime();

// Messages of `range(0)` bytes through a ByteRing, written and read by one thread.
void BM_ByteRingMessage(benchmark::State& state) {
  constexpr std::size_t kCapacity = 16u << 20;
  SharedRegion mem = region(ByteRing::bytes_for(kCapacity));
  ByteRing ring(mem.data(), kCapacity);
  std::string payload(static_cast<std::size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    ring.try_write(1, payload.size(), payload.data(), static_cast<std::uint32_t>(payload.size()),
                   0);
    const MessageHeader* m = ring.peek();
    benchmark::DoNotOptimize(m);
    ring.pop(m);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ByteRingMessage)->Arg(8)->Arg(1024)->Arg(1 << 20);

// A writer thread and a reader thread (copying each message out, as the pool does).
void BM_ByteRingAcrossThreads(benchmark::State& state) {
  constexpr std::size_t kCapacity = 16u << 20;
  SharedRegion mem = region(ByteRing::bytes_for(kCapacity));
  ByteRing ring(mem.data(), kCapacity);
  const auto size = static_cast<std::uint32_t>(state.range(0));
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> read{0};
  std::thread reader([&] {
    std::string copy;
    while (!stop.load(std::memory_order_relaxed)) {
      if (const MessageHeader* m = ring.peek()) {
        copy.assign(reinterpret_cast<const char*>(ByteRing::payload(m)), m->length);
        ring.pop(m);
        read.fetch_add(1, std::memory_order_relaxed);
      }
    }
  });
  std::string payload(size, 'x');
  std::uint64_t written = 0;
  for (auto _ : state) {
    while (!ring.try_write(1, size, payload.data(), size, 0)) {
    }
    ++written;
  }
  while (read.load() < written) {
  }
  stop = true;
  reader.join();
  state.SetItemsProcessed(static_cast<std::int64_t>(written));
  state.SetBytesProcessed(static_cast<std::int64_t>(written) * state.range(0));
}
BENCHMARK(BM_ByteRingAcrossThreads)->Arg(16)->Arg(1 << 20)->UseRealTime();

}  // namespace
}  // namespace shoal::engine

BENCHMARK_MAIN();
