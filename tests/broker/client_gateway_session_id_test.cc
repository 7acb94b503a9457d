// The ids the client gateway gives sessions, read from the events it posts: a gateway
// and its gRPC server without a scheduler.
#include <poll.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
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

class ClientGatewaySessionIdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int port = 0;
    server_ = testing::serve_gateway(gateway_, &port);
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port, 0);
    stub_ = make_stub("127.0.0.1:" + std::to_string(port));
  }
  void TearDown() override {
    for (auto& session : sessions_) session.context->TryCancel();
    gateway_.abort_all_sessions();
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
    gateway_.stop_serving();
  }

  // Opens a session and returns the id the gateway gave it (0: none within 10 s).
  SessionId open() {
    Session& session = sessions_.emplace_back();
    session.context = make_context();
    session.stream = stub_->Session(session.context.get());
    const SessionOpened* opened = next<SessionOpened>();
    return opened != nullptr ? opened->session : 0;
  }
  // Ends the session open() returned as the `index`-th and returns the id closed.
  SessionId close(std::size_t index) {
    sessions_[index].context->TryCancel();
    const SessionClosed* closed = next<SessionClosed>();
    return closed != nullptr ? closed->session : 0;
  }

  // The next event of kind E the gateway posts (skipping others), or null after 10 s.
  template <class E>
  const E* next() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      while (!events_.empty()) {
        last_ = std::move(events_.front());
        events_.pop_front();
        if (const E* e = std::get_if<E>(&*last_)) return e;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return nullptr;
      pollfd fd{.fd = inbox_.fd(), .events = POLLIN, .revents = 0};
      poll(&fd, 1, static_cast<int>(left.count()));
      std::vector<ClientEvent> drained;
      inbox_.drain(drained);
      for (auto& e : drained) events_.push_back(std::move(e));
    }
  }

  struct Session {
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<grpc::ClientReaderWriter<shoal::v1::ClientMessage, shoal::v1::ServerMessage>>
        stream;
  };
  Logger log_{LogLevel::kWarning};
  ClientInbox inbox_;
  ClientGateway gateway_{ClientGateway::Options{}, &inbox_, &log_};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<shoal::v1::TaskService::Stub> stub_;
  std::deque<Session> sessions_;
  std::deque<ClientEvent> events_;
  std::optional<ClientEvent> last_;
};

// Session ids are 64 bits: the 2^32-nd session does not wrap to an id a closed session's
// unfinished tasks still name (before: 32 bits, and the next holder of that id got their
// results). Were they to wrap, 0 means "no session" (its results were never sent), and an
// id still open would take the other session's results.
TEST_F(ClientGatewaySessionIdTest, IdsWrapPastZeroAndTheIdsOfOpenSessions) {
  EXPECT_EQ(open(), 1u);
  gateway_.set_next_session_for_testing(UINT32_MAX);
  EXPECT_EQ(open(), UINT32_MAX);
  EXPECT_EQ(open(), uint64_t{UINT32_MAX} + 1);  // no wrap at 32 bits
  gateway_.set_next_session_for_testing(UINT64_MAX);
  EXPECT_EQ(open(), UINT64_MAX);
  EXPECT_EQ(open(), 2u);  // not 0, not 1 (open)
  EXPECT_EQ(close(0), 1u);
  gateway_.set_next_session_for_testing(UINT64_MAX);
  EXPECT_EQ(open(), 1u);  // not UINT64_MAX (open), not 0; 1 is free again
  EXPECT_EQ(open(), 3u);
}

}  // namespace
}  // namespace shoal::broker
