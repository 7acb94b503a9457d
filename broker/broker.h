#pragma once
// shoal-broker as a library: binds both endpoints, runs the scheduler's thread and the
// gRPC server, and shuts them down in order. main.cc only parses flags around it, and
// tests start it in-process.

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "broker/broker_loop.h"
#include "broker/client_gateway.h"
#include "broker/clock.h"
#include "broker/config.h"
#include "broker/logger.h"
#include "broker/scheduler.h"
#include "broker/task_store.h"
#include "broker/worker_gateway.h"
#include "grpcpp/server.h"
#include "zmq.hpp"

namespace shoal::broker {

class Broker {
 public:
  // Binds the worker endpoint (ZeroMQ) and the client endpoint (gRPC) and starts
  // serving; returns once both accept. kUnavailable when an address cannot be bound,
  // kInvalidArgument for a malformed one. `log` must outlive the Broker.
  static absl::StatusOr<std::unique_ptr<Broker>> start(BrokerConfig config, const Logger* log);
  // shutdown(), then frees everything.
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // "HOST:PORT" clients connect to (the real port when 0 was asked for; for a wildcard
  // host, which listens on every address, 127.0.0.1 or [::1]).
  const std::string& client_endpoint() const { return client_endpoint_; }
  // "tcp://HOST:PORT" workers connect to.
  const std::string& worker_endpoint() const { return workers_->endpoint(); }
  // Stops accepting, sends Shutdown to every worker, ends open calls with UNAVAILABLE
  // and joins the threads. Idempotent; call from one thread at a time.
  void shutdown();

 private:
  explicit Broker(const Logger* log) : log_(log) {}
  // Opens the durable store of config.store_dir, makes the scheduler over it and
  // restores what the store kept.
  absl::Status open_store(BrokerConfig& config);

  const Logger* log_;
  BrokerConfig config_;
  SteadyClock clock_;
  std::unique_ptr<TaskStore> store_;
  std::unique_ptr<Scheduler> scheduler_;
  zmq::context_t zmq_{1};
  std::unique_ptr<WorkerGateway> workers_;
  ClientInbox inbox_;
  std::unique_ptr<ClientGateway> clients_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<BrokerLoop> loop_;
  std::thread loop_thread_;
  std::string client_endpoint_;
  bool stopped_ = false;
};

}  // namespace shoal::broker
