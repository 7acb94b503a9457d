#include "shared/mp/manager_server.h"

#include <unistd.h>

#include <cerrno>
#include <zmq.hpp>

#include "shared/mp/manager_store.h"

namespace shoal::internal {
namespace {

void report(int fd, const std::string& line) {
  std::string text = line + "\n";
  (void)!::write(fd, text.data(), text.size());
  ::close(fd);
}

// ZeroMQ spells "any port" as '*'; accept the usual port 0 too.
std::string bindable(const std::string& endpoint) {
  if (endpoint.rfind("tcp://", 0) == 0 && endpoint.size() > 2 &&
      endpoint.compare(endpoint.size() - 2, 2, ":0") == 0) {
    return endpoint.substr(0, endpoint.size() - 1) + "*";
  }
  return endpoint;
}

}  // namespace

int run_manager_server(const std::string& endpoint, int ready_fd) {
  zmq::context_t ctx(1);
  zmq::socket_t socket(ctx, zmq::socket_type::router);
  socket.set(zmq::sockopt::router_mandatory, 1);  // replies to departed peers fail visibly
  socket.set(zmq::sockopt::linger, 0);
  try {
    socket.bind(bindable(endpoint));
  } catch (const zmq::error_t& e) {
    report(ready_fd, "error cannot bind " + endpoint + ": " + e.what());
    return 1;
  }
  report(ready_fd, "ok " + socket.get(zmq::sockopt::last_endpoint));

  ManagerStore store([&socket](const std::string& peer, ManagerReply& reply) {
    const std::string payload = encode(reply);
    try {
      if (!socket.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
        return false;
      }
      socket.send(zmq::message_t(), zmq::send_flags::sndmore);
      socket.send(zmq::buffer(payload), zmq::send_flags::none);
      return true;
    } catch (const zmq::error_t&) {
      return false;  // EHOSTUNREACH: the client is gone
    }
  });

  while (!store.stopping()) {
    long timeout = -1;
    if (auto next = store.next_deadline()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*next - ServerClock::now());
      timeout = std::max<long>(0, left.count() + 1);
    }
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(timeout));
    while (!store.stopping()) {
      zmq::message_t peer, delimiter, body;
      if (!socket.recv(peer, zmq::recv_flags::dontwait)) break;
      if (!peer.more()) continue;
      (void)socket.recv(delimiter, zmq::recv_flags::none);
      if (!delimiter.more()) continue;
      (void)socket.recv(body, zmq::recv_flags::none);
      while (body.more()) (void)socket.recv(body, zmq::recv_flags::none);
      ManagerRequest request;
      try {
        request = decode<ManagerRequest>(std::string_view(body.data<char>(), body.size()));
      } catch (const Error&) {
        continue;  // garbage on the wire: nobody to answer
      }
      store.handle(peer.to_string(), request);
    }
    store.expire(ServerClock::now());
  }
  return 0;
}

}  // namespace shoal::internal
