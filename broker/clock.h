#pragma once
// Time source of the broker: the scheduler reads time only through a Clock, so tests
// drive it with a FakeClock and never sleep.

#include <atomic>
#include <cstdint>

namespace shoal::broker {

// A monotonic millisecond clock. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since an arbitrary fixed origin; never decreases.
  virtual int64_t now_ms() const = 0;
};

// The real monotonic clock (CLOCK_MONOTONIC).
class SteadyClock final : public Clock {
 public:
  // Reads std::chrono::steady_clock. Thread-safe.
  int64_t now_ms() const override;
};

// A clock that moves only when told to; starts at `start_ms`.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'000'000) : now_(start_ms) {}
  // The current fake time. Thread-safe.
  int64_t now_ms() const override { return now_.load(std::memory_order_relaxed); }
  // Moves time forward by `ms` (>= 0). Thread-safe.
  void advance_ms(int64_t ms) { now_.fetch_add(ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace shoal::broker
