#include "broker/clock.h"

#include <chrono>

namespace shoal::broker {

int64_t SteadyClock::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace shoal::broker
