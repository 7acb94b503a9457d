#include "fake_worker.h"

#include "gtest/gtest.h"

namespace shoal::broker::testing {

BrokerConfig loopback_config() {
  BrokerConfig config;
  config.client_address = "127.0.0.1:0";
  config.worker_address = "tcp://127.0.0.1:0";
  return config;
}

std::unique_ptr<InProcessBroker> InProcessBroker::start(BrokerConfig config) {
  auto b = std::make_unique<InProcessBroker>();
  auto broker = Broker::start(std::move(config), &b->log);
  EXPECT_TRUE(broker.ok()) << broker.status();
  if (broker.ok()) b->broker = std::move(*broker);
  return b;
}

FakeWorker::FakeWorker(zmq::context_t& context, const std::string& endpoint)
    : socket_(context, zmq::socket_type::dealer) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.connect(endpoint);
}

void FakeWorker::send_raw(const std::string& bytes) {
  socket_.send(zmq::buffer(bytes), zmq::send_flags::none);
}

void FakeWorker::send(shoal::v1::WorkerMessage msg) {
  if (msg.version() == 0) msg.set_version(1);
  send_raw(msg.SerializeAsString());
}

void FakeWorker::hello(const std::string& name, std::vector<std::string> tasks, uint32_t slots,
                       std::vector<std::string> queues) {
  shoal::v1::WorkerMessage msg;
  auto* h = msg.mutable_hello();
  h->set_name(name);
  for (auto& t : tasks) h->add_tasks(t);
  for (auto& q : queues) h->add_queues(q);
  h->set_slots(slots);
  h->set_prefetch(1);
  h->set_credit(slots);
  h->set_host("localhost");
  h->set_pid(1234);
  send(std::move(msg));
}

void FakeWorker::result(const std::string& id, const std::string& value, uint32_t credit) {
  shoal::v1::WorkerMessage msg;
  auto* r = msg.mutable_results()->add_results();
  r->set_id(id);
  r->add_items()->set_value(value);
  msg.mutable_results()->set_credit(credit);
  send(std::move(msg));
}

std::optional<shoal::v1::BrokerMessage> FakeWorker::next(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, left);
    if (!(item.revents & ZMQ_POLLIN)) continue;
    zmq::message_t frame;
    if (!socket_.recv(frame, zmq::recv_flags::dontwait)) continue;
    shoal::v1::BrokerMessage msg;
    EXPECT_TRUE(msg.ParseFromArray(frame.data(), int(frame.size())));
    EXPECT_EQ(msg.version(), 1u);
    if (msg.has_heartbeat()) continue;
    return msg;
  }
}

void FakeWorker::close() { socket_.close(); }

std::unique_ptr<grpc::Server> serve_gateway(ClientGateway& gateway, int* port) {
  grpc::ServerBuilder builder;
  *port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  gateway.register_with(builder);
  std::unique_ptr<grpc::ServerCompletionQueue> cq = builder.AddCompletionQueue();
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server != nullptr) gateway.serve(std::move(cq));
  return server;
}

std::unique_ptr<shoal::v1::TaskService::Stub> make_stub(const std::string& endpoint) {
  return shoal::v1::TaskService::NewStub(
      grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));
}

std::unique_ptr<grpc::ClientContext> make_context(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + kWait);
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  return context;
}

shoal::v1::Task make_task(const std::string& id, const std::string& name) {
  shoal::v1::Task task;
  task.set_id(id);
  task.set_name(name);
  task.set_args("\x91\x07");
  task.set_max_retries(-1);  // what TaskOptions{} sends: the broker default (3)
  return task;
}

}  // namespace shoal::broker::testing
