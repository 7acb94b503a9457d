// How much the client gateway reads from a session before the scheduler's thread has
// handled it: a gateway and its gRPC server whose events nobody handles but the test.
#include <poll.h>

#include <climits>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "broker/client_gateway.h"
#include "fake_worker.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace shoal::broker {
namespace {

using testing::make_context;
using testing::make_stub;
using testing::make_task;

constexpr std::size_t kBound = 1 << 20;

class ClientGatewayReadBoundTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int port = 0;
    server_ = testing::serve_gateway(gateway_, &port);
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port, 0);
    stub_ = make_stub("127.0.0.1:" + std::to_string(port));
  }
  void TearDown() override {
    if (context_ != nullptr) context_->TryCancel();
    if (writer_.joinable()) writer_.join();
    gateway_.abort_all_sessions();
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
    gateway_.stop_serving();
  }

  // Moves the events posted so far into `events` (waiting up to 100 ms for one).
  void take_events(std::vector<ClientEvent>& events) {
    pollfd fd{.fd = inbox_.fd(), .events = POLLIN, .revents = 0};
    poll(&fd, 1, 100);
    std::vector<ClientEvent> drained;
    inbox_.drain(drained);
    for (auto& e : drained) events.push_back(std::move(e));
  }

  ClientInbox inbox_;
  Logger log_;
  ClientGateway gateway_{
      ClientGateway::Options{.auth_token = "", .max_send_bytes = INT_MAX, .max_unread_bytes = kBound,
                             .max_unread_total_bytes = SIZE_MAX},
      &inbox_, &log_};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<shoal::v1::TaskService::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::thread writer_;
};

// Found by review: the read bound looked at the replies not yet read only, so while the
// scheduler's thread was busy turning earlier batches into replies the gateway read on:
// a client that sent batch after batch and never read took the broker past 17 GB. What
// was read and posted counts until the scheduler's thread has handled it; then reading
// goes on, and nothing the client sent is lost.
TEST_F(ClientGatewayReadBoundTest, MessagesReadAndNotYetHandledCountAgainstTheBound) {
  constexpr int kBatches = 40;
  constexpr int kTasks = 2000;  // a few hundred kB parsed: 40 of them are far over kBound
  context_ = make_context();
  auto stream = stub_->Session(context_.get());
  writer_ = std::thread([&stream] {
    for (int b = 0; b < kBatches; ++b) {
      shoal::v1::ClientMessage message;
      for (int t = 0; t < kTasks; ++t) {
        *message.mutable_submit()->add_tasks() =
            make_task("b" + std::to_string(b) + "-" + std::to_string(t));
      }
      if (!stream->Write(message)) return;
    }
    stream->WritesDone();
  });

  // Nobody handles the batches: the gateway must stop reading on its own.
  std::vector<ClientEvent> events;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (gateway_.paused_reads_for_testing() == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    take_events(events);
  }
  ASSERT_EQ(gateway_.paused_reads_for_testing(), 1u) << "the gateway never stopped reading";
  take_events(events);  // what it posted before it stopped
  SessionId session = 0;
  std::size_t posted = 0, batches = 0, last = 0;
  for (const ClientEvent& event : events) {
    if (const auto* opened = std::get_if<SessionOpened>(&event)) session = opened->session;
    if (const auto* submit = std::get_if<SubmitEvent>(&event)) {
      EXPECT_GT(submit->bytes, std::size_t{kTasks} * 40) << "what a batch holds in memory";
      posted += submit->bytes;
      last = submit->bytes;
      ++batches;
    }
  }
  ASSERT_NE(session, 0u);
  EXPECT_LT(batches, std::size_t{kBatches});
  EXPECT_LE(posted - last, kBound) << "read on past the bound";

  // As the scheduler's thread handles them, the rest is read, in order.
  std::vector<std::string> firsts;
  while (firsts.size() < std::size_t{kBatches} && std::chrono::steady_clock::now() < deadline) {
    for (const ClientEvent& event : events) {
      if (const auto* submit = std::get_if<SubmitEvent>(&event)) {
        EXPECT_EQ(submit->batch->tasks_size(), kTasks);
        firsts.push_back(submit->batch->tasks(0).id());
        gateway_.handled(submit->session, submit->bytes);
      }
    }
    events.clear();
    take_events(events);
  }
  ASSERT_EQ(firsts.size(), std::size_t{kBatches});
  for (int b = 0; b < kBatches; ++b) EXPECT_EQ(firsts[b], "b" + std::to_string(b) + "-0");
  EXPECT_EQ(gateway_.paused_reads_for_testing(), 0u);
}

}  // namespace
}  // namespace shoal::broker
