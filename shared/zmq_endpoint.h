#pragma once
// ZeroMQ tcp:// endpoints as shoal-broker binds them and shoal-worker connects to them.
// libzmq reads a port as an unsigned long and keeps its low 16 bits, so
// "tcp://127.0.0.1:99999" would quietly mean port 34463: flags are checked here first.

#include <string_view>

#include "absl/status/status.h"

namespace shoal::internal {

enum class EndpointUse {
  kBind,     // a local address: port 0 or '*' (any free port) is allowed
  kConnect,  // a peer's address: the port must be 1..65535
};

// OK when `endpoint` is "tcp://HOST:PORT" with a non-empty HOST and a decimal PORT in
// 1..65535 (or, for kBind, 0 or '*'); HOST may be "[IPv6]". Otherwise kInvalidArgument
// saying what is wrong (the caller adds which flag). Does no I/O: HOST is not resolved.
absl::Status check_tcp_endpoint(std::string_view endpoint, EndpointUse use);

}  // namespace shoal::internal
