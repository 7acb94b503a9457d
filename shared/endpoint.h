#pragma once
// Network addresses given on command lines, checked before libzmq or gRPC sees them:
// "HOST:PORT" (the broker's client address, for `shoal --broker`) and ZeroMQ's
// "tcp://HOST:PORT" (shoal-broker --worker-address, shoal-worker --broker). libzmq keeps
// only a port's low 16 bits, so "tcp://127.0.0.1:99999" would quietly mean port 34463,
// and gRPC takes a malformed address, then waits and retries as if nothing listened.

#include <string_view>

#include "absl/status/status.h"

namespace shoal::internal {

enum class EndpointUse {
  kBind,     // a local address: port 0 or '*' (any free port) is allowed, and host '*'
  kConnect,  // a peer's address: the port must be 1..65535
};

// OK when `address` is "HOST:PORT": HOST a name or IPv4 address (letters, digits, '-',
// '.', '_') or an IPv6 address in brackets ("[::1]"), PORT decimal in 1..65535 (or, for
// kBind, 0 or '*'). Otherwise kInvalidArgument saying what is wrong; the caller adds
// which flag. Does no I/O: HOST is not resolved.
absl::Status check_host_port(std::string_view address, EndpointUse use);

// As check_host_port, for "tcp://HOST:PORT".
absl::Status check_tcp_endpoint(std::string_view endpoint, EndpointUse use);

// Whether a ZeroMQ socket that binds `endpoint` ("tcp://HOST:PORT") needs ZMQ_IPV6: for
// every HOST but an IPv4 address. Without it ZeroMQ takes no IPv6 address and binds '*'
// to IPv4 only; with it, it would spell 0.0.0.0 as [::ffff:0.0.0.0]. (A socket that
// connects can always set ZMQ_IPV6.)
bool zmq_bind_needs_ipv6(std::string_view endpoint);

}  // namespace shoal::internal
