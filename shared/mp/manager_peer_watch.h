#pragma once
// Which peers of the Manager server's ROUTER socket have lost their connection. ZeroMQ
// hides connections from a ROUTER, but every message read names the descriptor of the
// connection it came on (ZMQ_SRCFD), and a socket monitor reports, in order, each
// connection accepted and each one closed by that descriptor. Closed means: the peer's
// process exited or closed its socket, or its host stopped answering heartbeats.
//
// A descriptor has at most one open connection at a time, and a connection's "accepted"
// is reported before any message of it can be read; so a message whose descriptor's
// latest connection is closed came over that closed one. The one case left open: a
// message still queued from a closed connection whose descriptor already carries a new
// one is taken for the new one's, and its peer departs when the new connection closes:
// late, never early.

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>
#include <zmq.hpp>

namespace shoal::internal {

class PeerWatch {
 public:
  // Monitors `router`, which must not have accepted anything yet, and sets its heartbeats.
  PeerWatch(zmq::context_t& ctx, zmq::socket_t& router);
  // The monitor's socket: readable when a connection was accepted or closed.
  zmq::socket_t& events() { return events_; }
  // Records that `peer` spoke over the connection with descriptor `fd`.
  void saw(const std::string& peer, int fd);
  // True if peers departed that take_departed() has not returned yet.
  bool has_departed() const { return !departed_.empty(); }
  // The peers whose connection closed since the last call.
  std::vector<std::string> take_departed();

 private:
  struct Connection {
    bool open = false;
    std::vector<std::string> peers;  // seen on it
  };
  void read_events();
  void close(Connection& c);

  zmq::socket_t events_;
  std::unordered_map<int, Connection> latest_;  // descriptor → its latest connection
  std::unordered_map<std::string, int> connection_of_;  // peer → fd of its open connection
  std::vector<std::string> departed_;
};

}  // namespace shoal::internal
