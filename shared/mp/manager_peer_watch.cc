#include "shared/mp/manager_peer_watch.h"

#include "shared/zmq_monitor.h"

namespace shoal::internal {
namespace {

constexpr const char* kMonitorEndpoint = "inproc://shoal-manager-peer-watch";
// A connection whose peer has not answered a heartbeat for kSilenceMs closes.
constexpr int kHeartbeatMs = 2000;
constexpr int kSilenceMs = 10000;

}  // namespace

PeerWatch::PeerWatch(zmq::context_t& ctx, zmq::socket_t& router) {
  router.set(zmq::sockopt::heartbeat_ivl, kHeartbeatMs);
  router.set(zmq::sockopt::heartbeat_timeout, kSilenceMs);
  if (zmq_socket_monitor(router.handle(), kMonitorEndpoint,
                         ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0) {
    throw zmq::error_t();
  }
  events_ = zmq::socket_t(ctx, zmq::socket_type::pair);
  // No limit on the monitor's pipe: at its limit the monitor would block the I/O thread
  // and with it every connection (checked: libzmq 4.3.4 sends events blocking).
  events_.set(zmq::sockopt::rcvhwm, 0);
  events_.set(zmq::sockopt::linger, 0);
  events_.connect(kMonitorEndpoint);
}

void PeerWatch::saw(const std::string& peer, int fd) {
  auto known = connection_of_.find(peer);
  if (known != connection_of_.end() && known->second == fd) return;  // still open
  read_events();  // up to the "accepted" of the connection this came on, at least
  auto it = latest_.find(fd);
  if (it == latest_.end()) return;  // never reported: not watched
  Connection& c = it->second;
  if (!c.open) {
    departed_.push_back(peer);  // it came over a connection that has closed since
    return;
  }
  if (known != connection_of_.end()) {  // a peer that set its own routing id, elsewhere now
    std::erase(latest_[known->second].peers, peer);
  }
  c.peers.push_back(peer);
  connection_of_[peer] = fd;
}

std::vector<std::string> PeerWatch::take_departed() {
  read_events();
  return std::exchange(departed_, {});
}

void PeerWatch::close(Connection& c) {
  for (auto& peer : c.peers) {
    connection_of_.erase(peer);
    departed_.push_back(std::move(peer));
  }
  c.peers.clear();
  c.open = false;
}

void PeerWatch::read_events() {
  while (std::optional<MonitorEvent> event = next_monitor_event(events_)) {
    const uint16_t kind = event->kind;
    Connection& c = latest_[event->value];
    if (kind == ZMQ_EVENT_ACCEPTED) {
      close(c);  // a reused descriptor: whatever had it is closed, reported or not
      c.open = true;
    } else if (kind == ZMQ_EVENT_DISCONNECTED) {
      close(c);
    }
  }
}

}  // namespace shoal::internal
