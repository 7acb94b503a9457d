// The client gateway against bytes a foreign client may put on the wire: gRPC's generic
// stub sends them as they are, not through shoal.v1's generated code.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "broker/client_gateway.h"
#include "fake_worker.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "gtest/gtest.h"

namespace shoal::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::InProcessBroker;
using testing::make_context;
using testing::make_stub;
using testing::make_task;

// A Task whose id is the byte 0xff, not UTF-8: proto3 refuses it when parsing.
const std::string kBadUtf8Submit("\x0a\x05\x0a\x03\x0a\x01\xff", 7);
// A submit whose length says 5 bytes, followed by 2.
const std::string kTruncatedSubmit("\x0a\x05\x0a\x03", 4);

grpc::ByteBuffer to_buffer(const std::string& bytes) {
  grpc::Slice slice(bytes.data(), bytes.size());
  return grpc::ByteBuffer(&slice, 1);
}

// One call of gRPC's generic (byte) API, each operation waited for in turn.
class RawCall {
 public:
  RawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
          const std::string& token = "")
      : stub_(channel), context_(make_context(token)) {
    call_ = stub_.PrepareCall(context_.get(), method, &cq_);
    call_->StartCall(this);
    started_ = wait();
  }
  ~RawCall() {
    context_->TryCancel();
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  bool started() const { return started_; }
  // Sends `bytes` as one message; false once the call is over.
  bool write(const std::string& bytes) {
    call_->Write(to_buffer(bytes), this);
    return wait();
  }
  // Half-closes the call.
  bool writes_done() {
    call_->WritesDone(this);
    return wait();
  }
  // Reads one message; false at the end of the stream.
  bool read(grpc::ByteBuffer* message) {
    call_->Read(message, this);
    return wait();
  }
  // Reads to the end (into `*messages` if given) and returns the call's status.
  grpc::Status finish(std::vector<shoal::v1::ServerMessage>* messages = nullptr) {
    grpc::ByteBuffer message;
    while (read(&message)) {
      if (messages == nullptr) continue;
      EXPECT_TRUE(grpc::SerializationTraits<shoal::v1::ServerMessage>::Deserialize(
                      &message, &messages->emplace_back())
                      .ok());
    }
    grpc::Status status;
    call_->Finish(&status, this);
    wait();
    return status;
  }

 private:
  bool wait() {
    void* tag;
    bool ok = false;
    EXPECT_TRUE(cq_.Next(&tag, &ok));
    return ok;
  }

  grpc::GenericStub stub_;
  std::unique_ptr<grpc::ClientContext> context_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool started_ = false;
};

class ClientGatewayWireTest : public ::testing::Test {
 protected:
  void SetUp() override {
    b_ = InProcessBroker::start();
    ASSERT_NE(b_->broker, nullptr);
    channel_ =
        grpc::CreateChannel(b_->broker->client_endpoint(), grpc::InsecureChannelCredentials());
    stub_ = make_stub(b_->broker->client_endpoint());
  }
  shoal::v1::Stats stats() {
    shoal::v1::Stats s;
    auto context = make_context();
    EXPECT_TRUE(stub_->GetStats(context.get(), {}, &s).ok());
    return s;
  }
  shoal::v1::TaskState state_of(const std::string& id) {
    shoal::v1::GetResultRequest request;
    request.set_id(id);
    shoal::v1::GetResultResponse response;
    auto context = make_context();
    EXPECT_TRUE(stub_->GetResult(context.get(), request, &response).ok());
    return response.state();
  }
  static std::string submit_bytes(const std::string& id) {
    shoal::v1::ClientMessage message;
    *message.mutable_submit()->add_tasks() = make_task(id);
    return message.SerializeAsString();
  }
  static std::string watch_bytes(const std::string& id) {
    shoal::v1::ClientMessage message;
    message.mutable_watch()->add_ids(id);
    return message.SerializeAsString();
  }

  std::unique_ptr<InProcessBroker> b_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<shoal::v1::TaskService::Stub> stub_;
};

// gRPC's own parsing failed such a message as a half-close: the session ended OK once
// its tasks were done, uncounted, and nothing sent after it was read.
TEST_F(ClientGatewayWireTest, AMessageThatDoesNotParseEndsTheSessionWithInvalidArgument) {
  for (const std::string& bad : {kBadUtf8Submit, kTruncatedSubmit}) {
    SCOPED_TRACE(bad.size());
    const std::string good = "good" + std::to_string(bad.size());
    RawCall session(channel_, "/shoal.v1.TaskService/Session");
    ASSERT_TRUE(session.started());
    ASSERT_TRUE(session.write(submit_bytes(good)));
    session.write(bad);
    session.write(submit_bytes("after"));  // not read: the session is over
    grpc::Status status = session.finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(),
              "a Session message did not parse as a shoal.v1.ClientMessage (" +
                  std::to_string(bad.size()) + " bytes)");
    // The submission before it was taken (no worker: it waits in its queue).
    EXPECT_EQ(state_of(good), shoal::v1::TASK_STATE_QUEUED);
  }
  EXPECT_EQ(state_of("after"), shoal::v1::TASK_STATE_UNKNOWN);
  shoal::v1::Stats s = stats();
  EXPECT_EQ(s.bad_client_messages(), 2u);
  EXPECT_EQ(s.submitted(), 2u);
  EXPECT_EQ(s.queued(), 2u);
}

// Found by review: the stream ended as soon as the bad message was read, before the
// replies owed to the messages ahead of it were written: the Accepted of a submission
// (held until the broker's next tick) and the result of a watched task that had ended.
// A client then had to submit again what the broker had taken.
TEST_F(ClientGatewayWireTest, RepliesOwedBeforeAMessageThatDoesNotParseAreWrittenFirst) {
  shoal::v1::CancelRequest cancel;  // a task that ended (CANCELLED) before it arrived
  cancel.set_id("ended");
  cancel.set_even_if_unknown(true);
  shoal::v1::CancelResponse cancelled;
  auto context = make_context();
  ASSERT_TRUE(stub_->Cancel(context.get(), cancel, &cancelled).ok());
  RawCall session(channel_, "/shoal.v1.TaskService/Session");
  ASSERT_TRUE(session.started());
  ASSERT_TRUE(session.write(submit_bytes("queued")));
  ASSERT_TRUE(session.write(watch_bytes("ended")));
  session.write(kTruncatedSubmit);
  std::vector<shoal::v1::ServerMessage> messages;
  grpc::Status status = session.finish(&messages);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "a Session message did not parse as a shoal.v1.ClientMessage (4 bytes)");
  std::vector<std::string> accepted, results;
  for (const shoal::v1::ServerMessage& m : messages) {
    for (const std::string& id : m.accepted().ids()) accepted.push_back(id);
    for (const shoal::v1::TaskResult& r : m.results().results()) {
      results.push_back(r.id());
      EXPECT_EQ(r.failure().kind(), shoal::v1::ERROR_KIND_CANCELLED);
    }
  }
  EXPECT_THAT(accepted, ElementsAre("queued"));
  EXPECT_THAT(results, ElementsAre("ended"));
  EXPECT_EQ(state_of("queued"), shoal::v1::TASK_STATE_QUEUED);
  EXPECT_EQ(stats().bad_client_messages(), 1u);
}

// `count` entries of field 1 holding `entry`, as field `field` of a ClientMessage (1:
// SubmitBatch.tasks, 2: Watch.ids).
std::string list_bytes(int field, std::size_t count, const std::string& entry) {
  std::string body;
  for (std::size_t i = 0; i < count; ++i) {
    body += '\x0a';
    body += static_cast<char>(entry.size());
    body += entry;
  }
  std::string message(1, static_cast<char>(field << 3 | 2));
  for (std::size_t n = body.size();; n >>= 7) {  // the length as a varint
    message += static_cast<char>(n < 0x80 ? n : (n & 0x7f) | 0x80);
    if (n < 0x80) break;
  }
  return message + body;
}

// Found by review: one SubmitBatch of 2 million empty tasks (4 MB, well within the
// receive limit) became 2 million parsed tasks and as many Rejected messages (1 GB),
// and 32 MB of them made the broker abort for want of memory. A message of more than
// 100,000 entries is refused, counted on the wire before it is parsed, with a clear
// status; one of 100,000 is answered (one Rejected for all its empty ids).
TEST_F(ClientGatewayWireTest, AMessageOfTooManyEntriesEndsTheSessionUnparsed) {
  struct Case {
    std::string bytes;
    std::string why;
  };
  for (const Case& c :
       {Case{list_bytes(1, 100'001, ""),
             "a SubmitBatch holds 100001 tasks, more than the 100000 a message may hold: "
             "split it"},
        Case{list_bytes(2, 2'000'000, "x"),
             "a Watch holds 2000000 ids, more than the 100000 a message may hold: split it"}}) {
    RawCall session(channel_, "/shoal.v1.TaskService/Session");
    ASSERT_TRUE(session.started());
    ASSERT_TRUE(session.write(submit_bytes("before")));
    session.write(c.bytes);
    session.writes_done();
    std::vector<shoal::v1::ServerMessage> messages;
    grpc::Status status = session.finish(&messages);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(), c.why);
    for (const shoal::v1::ServerMessage& m : messages) EXPECT_FALSE(m.has_rejected());
  }
  EXPECT_EQ(state_of("before"), shoal::v1::TASK_STATE_QUEUED);  // taken, not lost
  EXPECT_EQ(stats().bad_client_messages(), 2u);

  RawCall session(channel_, "/shoal.v1.TaskService/Session");
  ASSERT_TRUE(session.started());
  ASSERT_TRUE(session.write(list_bytes(1, 100'000, "")));
  session.writes_done();
  std::vector<shoal::v1::ServerMessage> messages;
  EXPECT_TRUE(session.finish(&messages).ok());
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].rejected().ids_size(), 100'000);
  EXPECT_EQ(messages[0].rejected().error().kind(), shoal::v1::ERROR_KIND_INVALID);
  EXPECT_EQ(stats().bad_client_messages(), 2u + 100'000u);
}

// gRPC's own parsing answered INTERNAL "Unable to parse request", uncounted.
TEST_F(ClientGatewayWireTest, AUnaryRequestThatDoesNotParseIsInvalidArgument) {
  const std::string bad_id("\x0a\x01\xff", 3);  // GetResultRequest / CancelRequest id "\xff"
  for (const char* method : {"GetResult", "Cancel"}) {
    SCOPED_TRACE(method);
    RawCall call(channel_, std::string("/shoal.v1.TaskService/") + method);
    ASSERT_TRUE(call.started());
    call.write(bad_id);
    call.writes_done();
    grpc::Status status = call.finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("did not parse as a shoal.v1."));
  }
  for (const char* method : {"GetStats", "ListWorkers", "ListQueues"}) {
    SCOPED_TRACE(method);
    RawCall call(channel_, std::string("/shoal.v1.TaskService/") + method);
    ASSERT_TRUE(call.started());
    call.write(kTruncatedSubmit);
    call.writes_done();
    EXPECT_EQ(call.finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_EQ(stats().bad_client_messages(), 5u);
}

// With --auth-token, a unary call without the token is refused on its metadata, before
// its request is read: the broker received and parsed the whole request first (up to its
// receive limit, 257 MB by default) for any peer. Here no request ever comes.
TEST_F(ClientGatewayWireTest, AUnaryCallWithoutTheTokenIsRefusedBeforeItsRequest) {
  BrokerConfig config = testing::loopback_config();
  config.auth_token = "s3cret";
  auto b = InProcessBroker::start(config);
  ASSERT_NE(b->broker, nullptr);
  auto channel =
      grpc::CreateChannel(b->broker->client_endpoint(), grpc::InsecureChannelCredentials());
  for (const char* method : {"GetResult", "Cancel", "GetStats", "ListWorkers", "ListQueues"}) {
    SCOPED_TRACE(method);
    RawCall call(channel, std::string("/shoal.v1.TaskService/") + method);
    ASSERT_TRUE(call.started());
    grpc::Status status = call.finish();  // nothing written, not half-closed
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  }
  RawCall call(channel, "/shoal.v1.TaskService/GetStats", "s3cret");
  ASSERT_TRUE(call.started());
  ASSERT_TRUE(call.write(""));  // an empty StatsRequest
  call.writes_done();
  EXPECT_TRUE(call.finish().ok());
}

// A unary request is checked before it is parsed: at most kMaxUnaryRequestBytes (the
// broker took, and parsed, any up to its receive limit of 257 MB).
TEST_F(ClientGatewayWireTest, AUnaryRequestOverTheLimitIsRefusedUnparsed) {
  shoal::v1::GetResultRequest huge;
  huge.set_id(std::string(kMaxUnaryRequestBytes, 'x'));
  RawCall get(channel_, "/shoal.v1.TaskService/GetResult");
  ASSERT_TRUE(get.started());
  get.write(huge.SerializeAsString());
  get.writes_done();
  grpc::Status status = get.finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "a shoal.v1.GetResultRequest of " +
                                        std::to_string(huge.ByteSizeLong()) +
                                        " bytes; at most 16777216 are taken");
  RawCall unknown(channel_, "/shoal.v1.TaskService/NoSuchMethod");
  ASSERT_TRUE(unknown.started());
  unknown.writes_done();
  EXPECT_EQ(unknown.finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(stats().bad_client_messages(), 1u);  // the huge request
}

// A Cancel's more_ids are counted on the wire, before it is parsed: 2 million empty ids
// (4 MB) took 134 MB parsed before they were refused.
TEST_F(ClientGatewayWireTest, ACancelWithTooManyIdsIsRefusedUnparsed) {
  std::string many("\x0a\x01\x61", 3);                             // id "a"
  for (int i = 0; i < 2'000'000; ++i) many.append("\x1a\x00", 2);  // an empty more_ids
  RawCall cancel(channel_, "/shoal.v1.TaskService/Cancel");
  ASSERT_TRUE(cancel.started());
  cancel.write(many);
  cancel.writes_done();
  grpc::Status status = cancel.finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "more than 10000 more_ids in one Cancel call (2000000): split it");
  EXPECT_EQ(state_of("a"), shoal::v1::TASK_STATE_UNKNOWN);  // not cancelled
}

}  // namespace
}  // namespace shoal::broker
