#include "shared/zmq_monitor.h"

#include <cstring>

namespace shoal::internal {

std::optional<MonitorEvent> next_monitor_event(zmq::socket_t& monitor) {
  for (;;) {
    zmq::message_t event, address;
    if (!monitor.recv(event, zmq::recv_flags::dontwait)) return std::nullopt;
    if (event.more()) (void)monitor.recv(address, zmq::recv_flags::none);
    if (event.size() < 6) continue;
    MonitorEvent e;
    std::memcpy(&e.kind, event.data<char>(), sizeof e.kind);
    std::memcpy(&e.value, event.data<char>() + 2, sizeof e.value);
    return e;
  }
}

}  // namespace shoal::internal
