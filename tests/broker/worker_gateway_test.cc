// The worker gateway with real ZeroMQ frames from DEALER sockets on loopback, against a
// broker started in this process.
#include "broker/worker_gateway.h"
#include "broker/worker_registry.h"

#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fake_worker.h"
#include "gtest/gtest.h"

namespace shoal::broker {
namespace {

using testing::FakeWorker;
using testing::InProcessBroker;
using testing::make_context;
using testing::make_stub;
using testing::make_task;

shoal::v1::Stats get_stats(const std::string& endpoint) {
  auto stub = make_stub(endpoint);
  shoal::v1::Stats stats;
  auto context = make_context();
  grpc::Status status = stub->GetStats(context.get(), {}, &stats);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return stats;
}

TEST(WorkerGatewayTest, GarbageFramesAreCountedAndBrokerKeepsServing) {
  auto b = InProcessBroker::start();
  ASSERT_NE(b->broker, nullptr);
  zmq::context_t context;
  FakeWorker worker(context, b->broker->worker_endpoint());

  std::mt19937 rng(42);
  std::string noise(200, '\0');
  for (char& c : noise) c = char(rng());
  worker.send_raw(noise);  // random bytes
  shoal::v1::WorkerMessage hello;
  hello.set_version(1);
  hello.mutable_hello()->set_name("truncated-worker-name");
  std::string bytes = hello.SerializeAsString();
  worker.send_raw(bytes.substr(0, bytes.size() - 5));  // truncated protobuf
  hello.set_version(2);
  worker.send_raw(hello.SerializeAsString());  // wrong version
  shoal::v1::WorkerMessage empty;
  empty.set_version(1);
  worker.send_raw(empty.SerializeAsString());  // no body
  worker.socket().send(zmq::str_buffer("a"), zmq::send_flags::sndmore);
  worker.socket().send(zmq::str_buffer("b"), zmq::send_flags::none);  // two frames
  shoal::v1::WorkerMessage no_slots;  // well-formed, but it could never take a task
  no_slots.set_version(1);
  no_slots.mutable_hello()->set_name("w0");
  worker.send_raw(no_slots.SerializeAsString());
  shoal::v1::WorkerMessage long_name;  // names live in the broker: bounded
  long_name.set_version(1);
  long_name.mutable_hello()->set_name(std::string(100'000, 'n'));
  long_name.mutable_hello()->set_slots(1);
  worker.send_raw(long_name.SerializeAsString());
  shoal::v1::WorkerMessage many_queues;
  many_queues.set_version(1);
  many_queues.mutable_hello()->set_name("wq");
  many_queues.mutable_hello()->set_slots(1);
  for (int i = 0; i < 2000; ++i) many_queues.mutable_hello()->add_queues("q" + std::to_string(i));
  worker.send_raw(many_queues.SerializeAsString());

  // Frames of one connection arrive in order: the welcome proves all eight were handled.
  worker.hello("w1");
  auto welcome = worker.next();
  ASSERT_TRUE(welcome.has_value());
  EXPECT_TRUE(welcome->has_welcome());
  EXPECT_EQ(welcome->welcome().heartbeat_ms(), 1000u);
  EXPECT_EQ(welcome->welcome().liveness(), 3u);
  auto stats = get_stats(b->broker->client_endpoint());
  EXPECT_EQ(stats.bad_worker_frames(), 8u);
  EXPECT_EQ(stats.workers(), 1u);
  EXPECT_EQ(stats.journal_bytes(), 0u);  // no --store-dir
}

// What a gateway reported, in order.
struct RecordingHandler : WorkerGateway::Handler {
  void on_frame(const std::string&, shoal::v1::WorkerMessage* msg) override {
    seen.push_back(msg->has_hello() ? "hello" : msg->has_results() ? "results" : "other");
  }
  void on_disconnect(const std::string&) override { seen.push_back("closed"); }
  std::vector<std::string> seen;
};

// A worker sends its last result and leaves at once. Its close was reported before the
// result still waiting in the socket when both were there by the time the broker
// looked (it reads events first): the broker retried a task that had ended.
TEST(WorkerGatewayTest, AClosedConnectionIsReportedAfterItsLastFrames) {
  zmq::context_t context;
  Logger log;
  WorkerGateway::Options options;
  options.address = "tcp://127.0.0.1:0";
  auto gw = WorkerGateway::bind(context, options, &log);
  ASSERT_TRUE(gw.ok()) << gw.status();
  RecordingHandler handler;
  {
    FakeWorker worker(context, (*gw)->endpoint());
    worker.hello("w1");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (handler.seen.empty() && std::chrono::steady_clock::now() < deadline) {
      (*gw)->receive(handler, 10);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    worker.result("t1", "\x31");
    worker.close();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // both are waiting now
  (*gw)->receive_events(handler);  // as the broker's loop does: events first
  (*gw)->receive(handler, 10);
  EXPECT_EQ(handler.seen, (std::vector<std::string>{"hello", "results", "closed"}));
}

TEST(WorkerStateTest, CapacitySaturatesInsteadOfWrapping) {
  WorkerState st;
  st.slots = 65536;
  st.prefetch = 65536;  // 2^32 would wrap to 0: a worker that never gets a task
  EXPECT_EQ(st.capacity(), UINT32_MAX);
  st.prefetch = 0;  // read as 1
  EXPECT_EQ(st.capacity(), 65536u);
}

TEST(WorkerGatewayTest, UnknownWorkerIsToldToReconnect) {
  auto b = InProcessBroker::start();
  ASSERT_NE(b->broker, nullptr);
  zmq::context_t context;
  FakeWorker worker(context, b->broker->worker_endpoint());
  shoal::v1::WorkerMessage credit;
  credit.mutable_credit()->set_credit(3);
  worker.send(credit);
  auto reply = worker.next();
  ASSERT_TRUE(reply.has_value());
  EXPECT_TRUE(reply->has_reconnect());
}

TEST(WorkerGatewayTest, ClosedConnectionRequeuesItsTask) {
  BrokerConfig config = testing::loopback_config();
  config.scheduler.heartbeat_ms = 60'000;  // only the closed connection can reveal the loss
  auto b = InProcessBroker::start(config);
  ASSERT_NE(b->broker, nullptr);
  zmq::context_t context;
  FakeWorker a(context, b->broker->worker_endpoint());
  a.hello("a");
  ASSERT_TRUE(a.next()->has_welcome());

  auto stub = make_stub(b->broker->client_endpoint());
  auto session_context = make_context();
  // A lost result fails the test with the broker's counters instead of hanging in Read().
  session_context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub->Session(session_context.get());
  shoal::v1::ClientMessage submit;
  *submit.mutable_submit()->add_tasks() = make_task("t1");
  ASSERT_TRUE(stream->Write(submit));
  auto batch = a.next();
  ASSERT_TRUE(batch.has_value() && batch->has_tasks());
  EXPECT_EQ(batch->tasks().tasks(0).id(), "t1");

  FakeWorker b2(context, b->broker->worker_endpoint());
  b2.hello("b", {"square"});
  ASSERT_TRUE(b2.next()->has_welcome());
  a.close();
  auto retry = b2.next();
  ASSERT_TRUE(retry.has_value() && retry->has_tasks());
  EXPECT_EQ(retry->tasks().tasks(0).id(), "t1");
  EXPECT_EQ(retry->tasks().tasks(0).attempt(), 1u);
  b2.result("t1", "\x31");

  shoal::v1::ServerMessage in;
  bool got_result = false;
  while (!got_result && stream->Read(&in)) {
    if (in.has_results()) {
      got_result = true;
      EXPECT_EQ(in.results().results(0).items(0).value(), "\x31");
      EXPECT_EQ(in.results().results(0).attempts(), 2u);
      EXPECT_EQ(in.results().results(0).worker(), "b");
    }
  }
  EXPECT_TRUE(got_result) << "broker: "
                          << get_stats(b->broker->client_endpoint()).ShortDebugString();
  session_context->TryCancel();
}

TEST(WorkerGatewayTest, ShutdownIsSentToConnectedWorkers) {
  auto b = InProcessBroker::start();
  ASSERT_NE(b->broker, nullptr);
  zmq::context_t context;
  FakeWorker worker(context, b->broker->worker_endpoint());
  worker.hello("w1");
  ASSERT_TRUE(worker.next()->has_welcome());
  b->broker->shutdown();
  auto msg = worker.next();
  ASSERT_TRUE(msg.has_value());
  EXPECT_TRUE(msg->has_shutdown());
}

}  // namespace
}  // namespace shoal::broker
