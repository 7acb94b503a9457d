#pragma once
// The answering side of ZeroMQ's authentication protocol (ZAP, RFC 27): libzmq asks the
// REP socket bound at inproc://zeromq.zap.01 of a context about every handshake on a
// socket with a zap_domain. Shoal admits CURVE clients by their public key; the broker
// (workers) and the Manager server use it.

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "zmq.hpp"

namespace shoal::internal {

// Where libzmq sends its ZAP requests; bind a REP socket here before the socket it guards.
inline constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";

// Answers every ZAP request waiting on `zap` without blocking. A CURVE handshake is let
// in when `admit(key, address)` returns true, `key` being the client's public key in Z85
// and `address` where it connects from; any other request is refused (and `admit` not
// asked). An error of the socket itself is returned; requests answered before it stand.
absl::Status answer_zap_requests(
    zmq::socket_t& zap,
    absl::FunctionRef<bool(const std::string& key, const std::string& address)> admit);

}  // namespace shoal::internal
