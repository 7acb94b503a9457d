// The worker's end of the broker link against a ROUTER on loopback: what it knows of
// its connection.
#include "worker/transport.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace shoal::worker {
namespace {

using namespace std::chrono_literals;

// Polls the transport's connection events until connected() says `want`; false if it
// still does not after 10 s (a hang guard: it takes milliseconds).
bool wait_connected(Transport& transport, bool want) {
  auto give_up = std::chrono::steady_clock::now() + 10s;
  while (transport.connected() != want) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    zmq::pollitem_t item{transport.events().handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, 100ms);
  }
  return true;
}

TEST(TransportTest, ConnectedFromTheHandshakeUntilTheBrokersSocketCloses) {
  zmq::context_t context(1);
  zmq::socket_t broker(context, zmq::socket_type::router);
  broker.set(zmq::sockopt::linger, 0);
  broker.bind("tcp://127.0.0.1:*");
  auto transport = Transport::connect(context, broker.get(zmq::sockopt::last_endpoint));
  ASSERT_TRUE(transport.ok()) << transport.status();
  ASSERT_TRUE(wait_connected(**transport, true));
  // Frames pass from then on.
  v1::WorkerMessage beat;
  beat.mutable_heartbeat();
  ASSERT_TRUE((*transport)->send(beat).ok());
  zmq::message_t id, body;
  ASSERT_TRUE(broker.recv(id));
  ASSERT_TRUE(broker.recv(body));
  broker.close();  // the broker is gone
  EXPECT_TRUE(wait_connected(**transport, false));
}

}  // namespace
}  // namespace shoal::worker
