#pragma once
// Test helpers: a worker implemented as a bare ZeroMQ DEALER speaking worker.proto, an
// in-process broker on ephemeral ports, and a gRPC stub for it.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/broker.h"
#include "broker/client_gateway.h"
#include "grpcpp/grpcpp.h"
#include "shoal/v1/service.grpc.pb.h"
#include "shoal/v1/worker.pb.h"
#include "zmq.hpp"

namespace shoal::broker::testing {

inline constexpr auto kWait = std::chrono::seconds(30);  // generous upper bound

// A broker config on 127.0.0.1 with ports picked by the OS.
BrokerConfig loopback_config();

// A Broker running in this process; stopped by the destructor.
struct InProcessBroker {
  Logger log{LogLevel::kWarning};
  std::unique_ptr<Broker> broker;
  // Starts one; fails the test (and leaves broker null) if it cannot.
  static std::unique_ptr<InProcessBroker> start(BrokerConfig config = loopback_config());
};

// A worker that says exactly what the test tells it to.
class FakeWorker {
 public:
  FakeWorker(zmq::context_t& context, const std::string& endpoint);
  // Sends one frame holding `bytes` (anything, including garbage).
  void send_raw(const std::string& bytes);
  void send(shoal::v1::WorkerMessage msg);  // version 1 is set unless already set
  void hello(const std::string& name, std::vector<std::string> tasks = {"square"},
             uint32_t slots = 1, std::vector<std::string> queues = {});
  // Reports one value for `id` and grants `credit` more tasks.
  void result(const std::string& id, const std::string& value, uint32_t credit = 1);
  // The next frame other than a heartbeat, or nullopt after `timeout`.
  std::optional<shoal::v1::BrokerMessage> next(std::chrono::milliseconds timeout = kWait);
  // Closes the connection at once (like a killed process).
  void close();
  zmq::socket_t& socket() { return socket_; }

 private:
  zmq::socket_t socket_;
};

// A gRPC server on 127.0.0.1 (a free port, set in *port) serving `gateway` on its own
// completion queue; nullptr if it could not start.
std::unique_ptr<grpc::Server> serve_gateway(ClientGateway& gateway, int* port);

// A stub for the broker's client endpoint, sending `token` when not empty.
std::unique_ptr<shoal::v1::TaskService::Stub> make_stub(const std::string& endpoint);

// A client context with a deadline kWait away and optional bearer token.
std::unique_ptr<grpc::ClientContext> make_context(const std::string& token = "");

// A Task calling `name` with MessagePack args [7] (bytes 0x91 0x07).
shoal::v1::Task make_task(const std::string& id, const std::string& name = "square");

}  // namespace shoal::broker::testing
