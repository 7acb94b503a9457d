// terminate_within: a ZeroMQ context ends, or the caller gets control back in time.
#include "shared/zmq_term.h"

#include "gtest/gtest.h"

namespace shoal::internal {
namespace {

using namespace std::chrono_literals;

TEST(ZmqTermTest, AContextWhoseSocketsAreClosedEnds) {
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  socket.bind("tcp://127.0.0.1:*");
  socket.close();
  EXPECT_TRUE(terminate_within(std::move(context), 5s));
}

TEST(ZmqTermTest, AContextThatWouldWaitForeverIsLeftBehind) {
  zmq::context_t context(1);
  zmq::socket_t socket(context, zmq::socket_type::push);
  socket.set(zmq::sockopt::linger, -1);  // wait forever for unsent messages
  socket.connect("tcp://127.0.0.1:1");   // nobody listens: the message never leaves
  ASSERT_TRUE(socket.send(zmq::str_buffer("stuck"), zmq::send_flags::dontwait));
  socket.close();
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(terminate_within(std::move(context), 200ms));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);  // not stuck with it
}

}  // namespace
}  // namespace shoal::internal
