#pragma once
// Reading a ZeroMQ socket monitor (zmq_socket_monitor): each event is a message of two
// frames, the first holding a 16-bit event kind and a 32-bit value (for connection
// events, the connection's descriptor), the second the endpoint. The broker's worker
// gateway, the worker's transport and a Manager server read them the same way.

#include <cstdint>
#include <optional>

#include "zmq.hpp"

namespace shoal::internal {

struct MonitorEvent {
  std::uint16_t kind = 0;  // ZMQ_EVENT_*
  std::int32_t value = 0;  // the descriptor, for ACCEPTED, DISCONNECTED, ...
};

// The next event waiting on `monitor` (a PAIR connected to a monitor endpoint), without
// blocking; nullopt when none waits. A malformed one is skipped. Throws zmq::error_t as
// recv does (the context ending).
std::optional<MonitorEvent> next_monitor_event(zmq::socket_t& monitor);

}  // namespace shoal::internal
