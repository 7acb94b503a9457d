#pragma once
// The one conversion of a caller's timeout into a deadline, shared by every timed wait
// (futures, Queue, Lock and the other synchronization objects, Manager proxies).

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>

namespace shoal::internal {

// Timeouts longer than this (100 years) never expire: `duration::max()` means "forever".
inline constexpr std::chrono::duration<double> kForever{100.0 * 365 * 24 * 3600};

// The steady_clock time `timeout` from now. A negative timeout is already expired; one
// longer than kForever (including any `duration::max()`) gives time_point::max() rather
// than overflowing.
template <class Rep, class Period>
std::chrono::steady_clock::time_point deadline_after(std::chrono::duration<Rep, Period> timeout) {
  using Clock = std::chrono::steady_clock;
  const auto now = Clock::now();
  const std::chrono::duration<double> seconds = timeout;
  if (!(seconds.count() > 0)) return now;  // negative, zero or NaN
  if (seconds > kForever) return Clock::time_point::max();
  return now + std::chrono::ceil<Clock::duration>(timeout);
}

// Milliseconds from now until `deadline`, for poll(2): rounded up, from 0 to INT_MAX,
// and -1 (no limit) for time_point::max().
inline int poll_timeout_ms(std::chrono::steady_clock::time_point deadline) {
  using Clock = std::chrono::steady_clock;
  if (deadline == Clock::time_point::max()) return -1;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, INT_MAX));
}

}  // namespace shoal::internal
