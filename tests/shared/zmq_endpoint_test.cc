// ZeroMQ tcp:// endpoints checked before libzmq sees them (shared/zmq_endpoint.cc).
#include "shared/zmq_endpoint.h"

#include <gtest/gtest.h>

#include <string>

namespace shoal::internal {
namespace {

bool ok(const std::string& endpoint, EndpointUse use) {
  return check_tcp_endpoint(endpoint, use).ok();
}

TEST(ZmqEndpointTest, AcceptsPortsOneToAllOnesAndAnyPortWhenBinding) {
  for (EndpointUse use : {EndpointUse::kBind, EndpointUse::kConnect}) {
    EXPECT_TRUE(ok("tcp://127.0.0.1:1", use));
    EXPECT_TRUE(ok("tcp://127.0.0.1:5555", use));
    EXPECT_TRUE(ok("tcp://broker.example:65535", use));
    EXPECT_TRUE(ok("tcp://[::1]:5555", use));
  }
  EXPECT_TRUE(ok("tcp://127.0.0.1:0", EndpointUse::kBind));
  EXPECT_TRUE(ok("tcp://127.0.0.1:*", EndpointUse::kBind));
  EXPECT_TRUE(ok("tcp://*:5555", EndpointUse::kBind));
}

TEST(ZmqEndpointTest, RejectsPortsLibzmqWouldWrapAround) {
  // libzmq keeps a port's low 16 bits: 99999 would be 34463.
  for (EndpointUse use : {EndpointUse::kBind, EndpointUse::kConnect}) {
    absl::Status wrapped = check_tcp_endpoint("tcp://127.0.0.1:99999", use);
    EXPECT_EQ(wrapped.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(wrapped.message().find("1..65535"), std::string::npos) << wrapped;
    EXPECT_NE(wrapped.message().find("'99999'"), std::string::npos) << wrapped;
    EXPECT_FALSE(ok("tcp://127.0.0.1:65536", use));
    EXPECT_FALSE(ok("tcp://127.0.0.1:165535", use));
    EXPECT_FALSE(ok("tcp://127.0.0.1:-1", use));
    EXPECT_FALSE(ok("tcp://127.0.0.1:+80", use));
    EXPECT_FALSE(ok("tcp://127.0.0.1:80x", use));
    EXPECT_FALSE(ok("tcp://127.0.0.1:", use));
  }
}

TEST(ZmqEndpointTest, AWorkerCannotConnectToAnyPort) {
  EXPECT_FALSE(ok("tcp://127.0.0.1:0", EndpointUse::kConnect));
  EXPECT_FALSE(ok("tcp://127.0.0.1:*", EndpointUse::kConnect));
}

TEST(ZmqEndpointTest, RejectsWhatIsNotTcpHostPort) {
  for (EndpointUse use : {EndpointUse::kBind, EndpointUse::kConnect}) {
    EXPECT_FALSE(ok("127.0.0.1:5555", use));     // no scheme
    EXPECT_FALSE(ok("ipc:///tmp/s:5555", use));  // not tcp
    EXPECT_FALSE(ok("tcp://127.0.0.1", use));    // no port
    EXPECT_FALSE(ok("tcp://:5555", use));        // no host
    EXPECT_FALSE(ok("tcp://::1:5555", use));     // IPv6 without brackets
  }
}

}  // namespace
}  // namespace shoal::internal
