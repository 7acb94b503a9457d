// Addresses checked before libzmq or gRPC sees them (shared/endpoint.cc).
#include "shared/endpoint.h"

#include <gtest/gtest.h>

#include <string>

namespace shoal::internal {
namespace {

bool ok(const std::string& endpoint, EndpointUse use) {
  return check_tcp_endpoint(endpoint, use).ok();
}

// check_host_port's complaint about `address` (a client's), "" if it has none.
std::string why_not(const std::string& address) {
  return std::string(check_host_port(address, EndpointUse::kConnect).message());
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

TEST(HostPortTest, AcceptsNamesIpv4AndBracketedIpv6) {
  EXPECT_EQ(why_not("127.0.0.1:50051"), "");
  EXPECT_EQ(why_not("broker-1.example_net:1"), "");
  EXPECT_EQ(why_not("[::1]:65535"), "");
  EXPECT_EQ(why_not("[fe80::1%eth0]:50051"), "");
  EXPECT_TRUE(check_host_port("127.0.0.1:0", EndpointUse::kBind).ok());
}

TEST(HostPortTest, SaysWhatIsWrongWithAMalformedAddress) {
  EXPECT_EQ(why_not(""), "'' is not HOST:PORT: it is empty");
  EXPECT_EQ(why_not("garbage"), "'garbage' is not HOST:PORT: the port is missing");
  EXPECT_EQ(why_not(":50051"), "':50051' is not HOST:PORT: the host is missing");
  EXPECT_EQ(why_not(":99999"), "':99999' is not HOST:PORT: the host is missing");
  EXPECT_EQ(why_not("127.0.0.1:99999"),
            "'127.0.0.1:99999' is not HOST:PORT: the port must be 1..65535, not '99999'");
  EXPECT_EQ(why_not("127.0.0.1:0"),
            "'127.0.0.1:0' is not HOST:PORT: the port must be 1..65535, not '0'");
  EXPECT_EQ(why_not("[::1"), "'[::1' is not HOST:PORT: the IPv6 address has no closing ']'");
  EXPECT_EQ(why_not("[::1]"), "'[::1]' is not HOST:PORT: the port is missing");
  EXPECT_EQ(why_not("[]:1"), "'[]:1' is not HOST:PORT: '[]' is not an IPv6 address");
  EXPECT_EQ(why_not("[fe80::1%]:1"),
            "'[fe80::1%]:1' is not HOST:PORT: '[fe80::1%]' is not an IPv6 address");
  EXPECT_EQ(why_not("::1:50051"),
            "'::1:50051' is not HOST:PORT: an IPv6 address goes in brackets, e.g. [::1]:PORT");
  EXPECT_EQ(why_not("unix:/run/shoal.sock"),
            "'unix:/run/shoal.sock' is not HOST:PORT: the port must be 1..65535, not "
            "'/run/shoal.sock'");
  EXPECT_EQ(why_not("dns:///h:1"),
            "'dns:///h:1' is not HOST:PORT: an IPv6 address goes in brackets, e.g. [::1]:PORT");
  EXPECT_EQ(why_not("my host:1"), "'my host:1' is not HOST:PORT: 'my host' is not a host name");
}

TEST(EndpointTest, ZeroMqBindsIpv6ForEveryHostButAnIpv4Address) {
  EXPECT_FALSE(zmq_bind_needs_ipv6("tcp://127.0.0.1:0"));
  EXPECT_FALSE(zmq_bind_needs_ipv6("tcp://0.0.0.0:5555"));  // stays 0.0.0.0, not mapped
  EXPECT_TRUE(zmq_bind_needs_ipv6("tcp://[::1]:0"));
  EXPECT_TRUE(zmq_bind_needs_ipv6("tcp://[::]:5555"));
  EXPECT_TRUE(zmq_bind_needs_ipv6("tcp://*:5555"));  // both families
  EXPECT_TRUE(zmq_bind_needs_ipv6("tcp://eth0:5555"));
  EXPECT_FALSE(zmq_bind_needs_ipv6("ipc:///tmp/x"));
}

}  // namespace
}  // namespace shoal::internal
