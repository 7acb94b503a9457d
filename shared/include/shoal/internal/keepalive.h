#pragma once
// The gRPC keepalive rule both ends of a client connection follow (client:
// ConnectOptions::keepalive; broker: --client-keepalive-ms).

#include <algorithm>

namespace shoal::internal {

// The shortest keepalive interval either end takes (0 means no pings); the broker
// accepts client pings twice as often, so timer jitter never counts as abuse.
inline constexpr int kMinKeepaliveMs = 1000;

// How long a ping may go unanswered before the connection is given up.
inline int keepalive_timeout_ms(int keepalive_ms) {
  return std::max(kMinKeepaliveMs, keepalive_ms / 2);
}

}  // namespace shoal::internal
