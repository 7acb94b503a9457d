// The client gateway through a real gRPC stub, with a fake worker (a ZeroMQ DEALER
// speaking worker.proto) running the tasks.
#include "broker/client_gateway.h"

#include <chrono>
#include <set>
#include <thread>
#include <string>
#include <vector>

#include "fake_worker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoal::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::FakeWorker;
using testing::InProcessBroker;
using testing::make_context;
using testing::make_stub;
using testing::make_task;

class ClientGatewayTest : public ::testing::Test {
 protected:
  void start(BrokerConfig config = testing::loopback_config()) {
    b_ = InProcessBroker::start(config);
    ASSERT_NE(b_->broker, nullptr);
    stub_ = make_stub(b_->broker->client_endpoint());
  }
  std::unique_ptr<FakeWorker> worker(const std::string& name) {
    auto w = std::make_unique<FakeWorker>(zmq_, b_->broker->worker_endpoint());
    w->hello(name);
    auto welcome = w->next();
    EXPECT_TRUE(welcome.has_value() && welcome->has_welcome());
    return w;
  }
  shoal::v1::Stats stats() {
    shoal::v1::Stats s;
    auto context = make_context();
    EXPECT_TRUE(stub_->GetStats(context.get(), {}, &s).ok());
    return s;
  }
  // Waits (up to 30 s) until the broker has taken in `n` results in all and handed them
  // to their sessions; false if not.
  bool wait_completed(uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (stats().completed() < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // The loop sends a round's actions after answering that round's stats: one more
    // request, answered in a later round, comes after the results reached the outboxes.
    stats();
    return true;
  }
  // Reads session messages until one of kind `want` arrives (or the stream ends).
  static std::optional<shoal::v1::ServerMessage> read_until(
      grpc::ClientReaderWriter<shoal::v1::ClientMessage, shoal::v1::ServerMessage>& stream,
      shoal::v1::ServerMessage::BodyCase want) {
    shoal::v1::ServerMessage msg;
    while (stream.Read(&msg)) {
      if (msg.body_case() == want) return msg;
    }
    return std::nullopt;
  }
  static shoal::v1::ClientMessage submit(std::vector<shoal::v1::Task> tasks) {
    shoal::v1::ClientMessage msg;
    for (auto& t : tasks) *msg.mutable_submit()->add_tasks() = std::move(t);
    return msg;
  }

  // Submits tasks t0..t<n-1> of "square" on `stream` and returns their ids as `worker`
  // was sent them (fewer if the stream or the worker failed: the test says so).
  static std::vector<std::string> submit_to(
      grpc::ClientReaderWriter<shoal::v1::ClientMessage, shoal::v1::ServerMessage>& stream,
      FakeWorker& worker, int n, const std::string& prefix = "t") {
    std::vector<shoal::v1::Task> tasks;
    for (int i = 0; i < n; ++i) tasks.push_back(make_task(prefix + std::to_string(i)));
    std::vector<std::string> ids;
    if (!stream.Write(submit(std::move(tasks)))) return ids;
    while (ids.size() < static_cast<std::size_t>(n)) {
      auto batch = worker.next();
      if (!batch.has_value() || !batch->has_tasks()) break;
      for (const auto& t : batch->tasks().tasks()) ids.push_back(t.id());
    }
    return ids;
  }

  zmq::context_t zmq_;
  std::unique_ptr<InProcessBroker> b_;
  std::unique_ptr<shoal::v1::TaskService::Stub> stub_;
};

TEST_F(ClientGatewayTest, SubmitByNameRunsOnWorkerAndStreamsTheResult) {
  start();
  auto w = worker("w1");
  auto context = make_context();
  auto stream = stub_->Session(context.get());
  ASSERT_TRUE(stream->Write(submit({make_task("t1")})));
  auto accepted = read_until(*stream, shoal::v1::ServerMessage::kAccepted);
  ASSERT_TRUE(accepted.has_value());
  EXPECT_THAT(accepted->accepted().ids(), ElementsAre("t1"));

  auto batch = w->next();
  ASSERT_TRUE(batch.has_value() && batch->has_tasks());
  const auto& task = batch->tasks().tasks(0);
  EXPECT_EQ(task.name(), "square");
  EXPECT_EQ(task.args(), "\x91\x07");
  w->result("t1", "\x31");  // msgpack 49

  auto results = read_until(*stream, shoal::v1::ServerMessage::kResults);
  ASSERT_TRUE(results.has_value());
  ASSERT_EQ(results->results().results_size(), 1);
  EXPECT_EQ(results->results().results(0).id(), "t1");
  EXPECT_EQ(results->results().results(0).items(0).value(), "\x31");
  EXPECT_EQ(results->results().results(0).worker(), "w1");

  // A client that half-closes still gets the end of the stream once all is delivered.
  ASSERT_TRUE(stream->WritesDone());
  shoal::v1::ServerMessage rest;
  while (stream->Read(&rest)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
  auto s = stats();
  EXPECT_EQ(s.submitted(), 1u);
  EXPECT_EQ(s.completed(), 1u);
  EXPECT_GT(s.cpu_seconds(), 0.0);
  EXPECT_GT(s.tasks_per_second(), 0.0);
}

TEST_F(ClientGatewayTest, HalfClosedSessionStillReceivesPendingResults) {
  start();
  auto context = make_context();
  auto stream = stub_->Session(context.get());
  ASSERT_TRUE(stream->Write(submit({make_task("t1")})));
  ASSERT_TRUE(stream->WritesDone());
  ASSERT_TRUE(read_until(*stream, shoal::v1::ServerMessage::kAccepted).has_value());
  auto w = worker("late");  // the worker arrives after the client stopped writing
  auto batch = w->next();
  ASSERT_TRUE(batch.has_value() && batch->has_tasks());
  w->result("t1", "\x31");
  auto results = read_until(*stream, shoal::v1::ServerMessage::kResults);
  ASSERT_TRUE(results.has_value());
  EXPECT_EQ(results->results().results(0).id(), "t1");
  EXPECT_FALSE(stream->Read(&*results));
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ClientGatewayTest, GetResultWaitsForTheTaskToEnd) {
  start();
  auto w = worker("w1");
  auto context = make_context();
  auto stream = stub_->Session(context.get());
  ASSERT_TRUE(stream->Write(submit({make_task("t1")})));
  auto batch = w->next();
  ASSERT_TRUE(batch.has_value() && batch->has_tasks());

  shoal::v1::GetResultRequest request;
  request.set_id("t1");
  shoal::v1::GetResultResponse now;
  auto c1 = make_context();
  ASSERT_TRUE(stub_->GetResult(c1.get(), request, &now).ok());
  EXPECT_EQ(now.state(), shoal::v1::TASK_STATE_RUNNING);

  request.set_wait_ms(8000);
  shoal::v1::GetResultResponse waited;
  auto c2 = make_context();
  grpc::Status status;
  std::thread waiter([&] { status = stub_->GetResult(c2.get(), request, &waited); });
  w->result("t1", "\x31");
  waiter.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(waited.state(), shoal::v1::TASK_STATE_DONE);
  EXPECT_EQ(waited.result().items(0).value(), "\x31");

  request.set_id("never-submitted");
  request.set_wait_ms(0);
  shoal::v1::GetResultResponse unknown;
  auto c3 = make_context();
  ASSERT_TRUE(stub_->GetResult(c3.get(), request, &unknown).ok());
  EXPECT_EQ(unknown.state(), shoal::v1::TASK_STATE_UNKNOWN);
  context->TryCancel();
}

// GetResult calls that wait are capped (each holds gRPC's call, about 16 KB, for up to
// 10 minutes): one more is refused RESOURCE_EXHAUSTED. A call its client gave up on
// (cancelled, or past its deadline) frees its place at once: abandoned long polls held
// their memory for their whole wait (60,000 of them took the broker to 970 MB).
TEST_F(ClientGatewayTest, WaitingGetResultCallsAreCappedAndFreedWhenAbandoned) {
  BrokerConfig config = testing::loopback_config();
  config.scheduler.max_waiting_results = 1;
  start(config);  // no worker: t1 stays queued
  auto session = make_context();
  auto stream = stub_->Session(session.get());
  ASSERT_TRUE(stream->Write(submit({make_task("t1")})));
  ASSERT_TRUE(read_until(*stream, shoal::v1::ServerMessage::kAccepted).has_value());

  shoal::v1::GetResultRequest wait_long;
  wait_long.set_id("t1");
  wait_long.set_wait_ms(600'000);
  // A probe waits 1 ms if let in: either way it is answered at once.
  auto probe = [&] {
    shoal::v1::GetResultRequest request;
    request.set_id("t1");
    request.set_wait_ms(1);
    shoal::v1::GetResultResponse response;
    auto context = make_context();
    grpc::Status status = stub_->GetResult(context.get(), request, &response);
    EXPECT_TRUE(status.ok() || status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED)
        << status.error_message();
    return status;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);

  // The long call waits once a probe is refused; it is refused itself if it came while a
  // probe waited (then it goes again).
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::ClientContext> waiter;
  shoal::v1::GetResultResponse waited;
  grpc::Status waiter_status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<shoal::v1::GetResultResponse>> call;
  auto start_waiter = [&] {
    waiter = make_context();
    call = stub_->AsyncGetResult(waiter.get(), wait_long, &cq);
    call->Finish(&waited, &waiter_status, nullptr);
  };
  auto waiter_ended = [&] {  // without waiting
    void* tag;
    bool ok;
    return cq.AsyncNext(&tag, &ok, std::chrono::system_clock::now()) ==
           grpc::CompletionQueue::GOT_EVENT;
  };
  start_waiter();
  grpc::Status refused;
  while ((refused = probe()).ok()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no call was refused";
    if (waiter_ended()) {
      ASSERT_EQ(waiter_status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
      start_waiter();
    }
  }
  EXPECT_THAT(refused.error_message(), HasSubstr("too many GetResult calls wait already (1)"));

  // Its client gives up: its place is free again.
  waiter->TryCancel();
  void* tag;
  bool ok;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_EQ(waiter_status.error_code(), grpc::StatusCode::CANCELLED);
  grpc::Status let_in;
  while (!(let_in = probe()).ok()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "the abandoned call still holds its place: " << let_in.error_message();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the broker sees the cancel
  }
  session->TryCancel();
}

TEST_F(ClientGatewayTest, CancelledQueuedTaskNeverRunsAndReportsCancelled) {
  start();  // no worker: the task waits in its queue
  auto context = make_context();
  auto stream = stub_->Session(context.get());
  ASSERT_TRUE(stream->Write(submit({make_task("t1")})));
  ASSERT_TRUE(read_until(*stream, shoal::v1::ServerMessage::kAccepted).has_value());

  shoal::v1::CancelRequest request;
  request.set_id("t1");
  shoal::v1::CancelResponse response;
  auto c1 = make_context();
  ASSERT_TRUE(stub_->Cancel(c1.get(), request, &response).ok());
  EXPECT_TRUE(response.cancelled());
  EXPECT_EQ(response.state(), shoal::v1::TASK_STATE_QUEUED);
  auto results = read_until(*stream, shoal::v1::ServerMessage::kResults);
  ASSERT_TRUE(results.has_value());
  EXPECT_EQ(results->results().results(0).failure().kind(), shoal::v1::ERROR_KIND_CANCELLED);

  auto w = worker("w1");  // a worker arriving later gets nothing
  EXPECT_FALSE(w->next(std::chrono::milliseconds(200)).has_value());
  auto c2 = make_context();
  ASSERT_TRUE(stub_->Cancel(c2.get(), request, &response).ok());
  EXPECT_FALSE(response.cancelled());
  EXPECT_EQ(response.state(), shoal::v1::TASK_STATE_DONE);
  context->TryCancel();
}

// The Session stream and a Cancel call are not ordered: the broker may answer a cancel
// of a task a client has written on its stream before it reads the task. Played here in
// that order: with even_if_unknown the broker remembers the cancel, and the submission
// read after it ends CANCELLED on its session and never reaches the worker; without, the
// id is unknown and the submission runs.
TEST_F(ClientGatewayTest, ACancelThatOvertakesItsSubmissionKeepsItFromRunning) {
  start();
  auto w = worker("w1");  // one slot
  auto cancel = [&](const std::string& id, bool even_if_unknown) {
    shoal::v1::CancelRequest request;
    request.set_id(id);
    request.set_even_if_unknown(even_if_unknown);
    shoal::v1::CancelResponse response;
    auto context = make_context();
    EXPECT_TRUE(stub_->Cancel(context.get(), request, &response).ok());
    return response;
  };
  shoal::v1::CancelResponse barred = cancel("t1", /*even_if_unknown=*/true);
  EXPECT_TRUE(barred.cancelled());
  EXPECT_EQ(barred.state(), shoal::v1::TASK_STATE_UNKNOWN);
  shoal::v1::CancelResponse lost = cancel("t2", /*even_if_unknown=*/false);
  EXPECT_FALSE(lost.cancelled());
  EXPECT_EQ(lost.state(), shoal::v1::TASK_STATE_UNKNOWN);

  auto context = make_context();
  auto stream = stub_->Session(context.get());
  ASSERT_TRUE(stream->Write(submit({make_task("t1"), make_task("t2")})));
  auto results = read_until(*stream, shoal::v1::ServerMessage::kResults);
  ASSERT_TRUE(results.has_value());
  ASSERT_EQ(results->results().results_size(), 1);
  EXPECT_EQ(results->results().results(0).id(), "t1");
  EXPECT_EQ(results->results().results(0).failure().kind(), shoal::v1::ERROR_KIND_CANCELLED);
  auto batch = w->next();  // t2 runs; t1, submitted first, did not go before it
  ASSERT_TRUE(batch.has_value() && batch->has_tasks());
  ASSERT_EQ(batch->tasks().tasks_size(), 1);
  EXPECT_EQ(batch->tasks().tasks(0).id(), "t2");
  w->result("t2", "\x31");
  results = read_until(*stream, shoal::v1::ServerMessage::kResults);
  ASSERT_TRUE(results.has_value());
  EXPECT_EQ(results->results().results(0).id(), "t2");
  EXPECT_EQ(stats().queued(), 0u);  // and t1 waits nowhere
  context->TryCancel();
}

// A Cancel call may name at most 10,000 more_ids (the client's batches): one with more
// is refused whole, cancelling nothing. An id named twice is cancelled the first time.
TEST_F(ClientGatewayTest, ACancelCallWithTooManyIdsCancelsNone) {
  start();  // no worker: the tasks wait in their queue
  auto context = make_context();
  auto stream = stub_->Session(context.get());
  ASSERT_TRUE(stream->Write(submit({make_task("t0"), make_task("t1")})));
  ASSERT_TRUE(read_until(*stream, shoal::v1::ServerMessage::kAccepted).has_value());
  ASSERT_EQ(stats().queued(), 2u);

  shoal::v1::CancelRequest request;
  request.set_id("t0");
  request.add_more_ids("t1");
  for (int i = 0; i < 10'000; ++i) request.add_more_ids("x" + std::to_string(i));
  shoal::v1::CancelResponse response;
  auto c1 = make_context();
  grpc::Status status = stub_->Cancel(c1.get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(stats().queued(), 2u);

  request.mutable_more_ids()->RemoveLast();  // 10,000: the most one call takes
  request.set_more_ids(1, "t0");             // t0 again
  auto c2 = make_context();
  ASSERT_TRUE(stub_->Cancel(c2.get(), request, &response).ok());
  EXPECT_TRUE(response.cancelled());
  ASSERT_EQ(response.more_cancelled_size(), 10'000);
  EXPECT_TRUE(response.more_cancelled(0));   // t1
  EXPECT_FALSE(response.more_cancelled(1));  // t0, cancelled already
  EXPECT_EQ(response.more_states(1), shoal::v1::TASK_STATE_DONE);
  EXPECT_EQ(stats().queued(), 0u);
  context->TryCancel();
}

// One Cancel call cancels many tasks (more_ids), each answered in order as `id` is:
// an interrupted CLI map of 100,000 tasks made 100,000 calls.
TEST_F(ClientGatewayTest, OneCancelCallCancelsSeveralIdsAndAnswersEach) {
  start();  // no worker at first: the tasks wait in their queue
  auto context = make_context();
  auto stream = stub_->Session(context.get());
  ASSERT_TRUE(stream->Write(submit({make_task("t0"), make_task("t1"), make_task("t2")})));
  ASSERT_TRUE(read_until(*stream, shoal::v1::ServerMessage::kAccepted).has_value());
  ASSERT_EQ(stats().queued(), 3u);

  shoal::v1::CancelRequest request;
  request.set_id("t0");
  for (const char* id : {"t1", "nobody", "t2"}) request.add_more_ids(id);
  shoal::v1::CancelResponse response;
  auto c1 = make_context();
  ASSERT_TRUE(stub_->Cancel(c1.get(), request, &response).ok());
  EXPECT_TRUE(response.cancelled());
  EXPECT_EQ(response.state(), shoal::v1::TASK_STATE_QUEUED);
  EXPECT_THAT(response.more_cancelled(), ElementsAre(true, false, true));
  EXPECT_THAT(response.more_states(),
              ElementsAre(shoal::v1::TASK_STATE_QUEUED, shoal::v1::TASK_STATE_UNKNOWN,
                          shoal::v1::TASK_STATE_QUEUED));
  EXPECT_EQ(stats().queued(), 0u);
  std::set<std::string> cancelled;
  while (cancelled.size() < 3) {
    auto results = read_until(*stream, shoal::v1::ServerMessage::kResults);
    ASSERT_TRUE(results.has_value());
    for (const auto& r : results->results().results()) {
      EXPECT_EQ(r.failure().kind(), shoal::v1::ERROR_KIND_CANCELLED) << r.id();
      cancelled.insert(r.id());
    }
  }
  EXPECT_THAT(cancelled, ElementsAre("t0", "t1", "t2"));

  // even_if_unknown holds for every id; a done task is left alone.
  request.Clear();
  request.set_id("t1");
  request.add_more_ids("later");
  request.set_even_if_unknown(true);
  auto c2 = make_context();
  ASSERT_TRUE(stub_->Cancel(c2.get(), request, &response).ok());
  EXPECT_FALSE(response.cancelled());
  EXPECT_EQ(response.state(), shoal::v1::TASK_STATE_DONE);
  EXPECT_THAT(response.more_cancelled(), ElementsAre(true));
  EXPECT_THAT(response.more_states(), ElementsAre(shoal::v1::TASK_STATE_UNKNOWN));
  auto w = worker("w1");
  ASSERT_TRUE(stream->Write(submit({make_task("later")})));  // remembered as cancelled
  auto results = read_until(*stream, shoal::v1::ServerMessage::kResults);
  ASSERT_TRUE(results.has_value());
  EXPECT_EQ(results->results().results(0).id(), "later");
  EXPECT_EQ(results->results().results(0).failure().kind(), shoal::v1::ERROR_KIND_CANCELLED);
  EXPECT_FALSE(w->next(std::chrono::milliseconds(200)).has_value());
  context->TryCancel();
}

TEST_F(ClientGatewayTest, ListsWorkersAndQueues) {
  start();
  auto w = worker("w1");
  auto context = make_context();
  auto stream = stub_->Session(context.get());
  auto other = make_task("q1");
  other.set_queue("gpu");
  ASSERT_TRUE(stream->Write(submit({make_task("t1"), other})));
  ASSERT_TRUE(read_until(*stream, shoal::v1::ServerMessage::kAccepted).has_value());
  ASSERT_TRUE(w->next()->has_tasks());

  shoal::v1::ListWorkersResponse workers;
  auto c1 = make_context();
  ASSERT_TRUE(stub_->ListWorkers(c1.get(), {}, &workers).ok());
  ASSERT_EQ(workers.workers_size(), 1);
  EXPECT_EQ(workers.workers(0).name(), "w1");
  EXPECT_EQ(workers.workers(0).host(), "localhost");
  EXPECT_EQ(workers.workers(0).slots(), 1u);
  EXPECT_EQ(workers.workers(0).running(), 1u);
  EXPECT_THAT(workers.workers(0).tasks(), ElementsAre("square"));
  EXPECT_THAT(workers.workers(0).queues(), ElementsAre("default"));

  shoal::v1::ListQueuesResponse queues;
  auto c2 = make_context();
  ASSERT_TRUE(stub_->ListQueues(c2.get(), {}, &queues).ok());
  ASSERT_EQ(queues.queues_size(), 2);
  EXPECT_EQ(queues.queues(0).name(), "default");
  EXPECT_EQ(queues.queues(0).in_flight(), 1u);
  EXPECT_EQ(queues.queues(0).workers(), 1u);
  EXPECT_EQ(queues.queues(1).name(), "gpu");
  EXPECT_EQ(queues.queues(1).depth(), 1u);
  EXPECT_EQ(queues.queues(1).workers(), 0u);
  auto s = stats();
  EXPECT_EQ(s.queued(), 1u);
  EXPECT_EQ(s.running(), 1u);
  EXPECT_EQ(s.workers(), 1u);
  context->TryCancel();
}

TEST_F(ClientGatewayTest, GarbageIsCountedAndAnsweredWithAClearError) {
  start();
  auto context = make_context();
  auto stream = stub_->Session(context.get());
  auto bad = make_task("bad");
  bad.set_priority(42);
  ASSERT_TRUE(stream->Write(submit({bad})));
  auto rejected = read_until(*stream, shoal::v1::ServerMessage::kRejected);
  ASSERT_TRUE(rejected.has_value());
  EXPECT_EQ(rejected->rejected().error().kind(), shoal::v1::ERROR_KIND_INVALID);
  EXPECT_THAT(rejected->rejected().error().message(), HasSubstr("priority 42"));

  ASSERT_TRUE(stream->Write(shoal::v1::ClientMessage{}));  // neither submit nor watch
  shoal::v1::ServerMessage rest;
  while (stream->Read(&rest)) {
  }
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("submit or a watch"));

  shoal::v1::GetResultRequest no_id;
  shoal::v1::GetResultResponse response;
  auto c1 = make_context();
  EXPECT_EQ(stub_->GetResult(c1.get(), no_id, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(stats().bad_client_messages(), 3u);
}

TEST_F(ClientGatewayTest, FullBrokerRejectsWithResourceExhausted) {
  BrokerConfig config = testing::loopback_config();
  config.scheduler.max_queued = 1;
  start(config);
  auto context = make_context();
  auto stream = stub_->Session(context.get());
  ASSERT_TRUE(stream->Write(submit({make_task("t1"), make_task("t2")})));
  auto rejected = read_until(*stream, shoal::v1::ServerMessage::kRejected);
  ASSERT_TRUE(rejected.has_value());
  EXPECT_THAT(rejected->rejected().ids(), ElementsAre("t2"));
  EXPECT_EQ(rejected->rejected().error().kind(), shoal::v1::ERROR_KIND_RESOURCE_EXHAUSTED);
  context->TryCancel();
}

// Results pile up for a client that does not read; merged, they could make one message
// larger than gRPC's send limit, whose write failed and ended the session. (The bound
// itself is tested in session_outbox_test.cc.)
TEST_F(ClientGatewayTest, ResultsForASlowReaderStayWithinTheSendLimit) {
  BrokerConfig config = testing::loopback_config();
  config.scheduler.max_message_bytes = 20000;  // send limit: 4 x 20000 + 1 MiB
  const std::size_t limit = 4 * 20000 + (1 << 20);
  start(config);
  auto w = std::make_unique<FakeWorker>(zmq_, b_->broker->worker_endpoint());
  w->hello("w1", {"square"}, /*slots=*/200);
  ASSERT_TRUE(w->next().has_value());  // welcome
  auto context = make_context();
  auto stream = stub_->Session(context.get());
  std::vector<std::string> ids = submit_to(*stream, *w, 200);
  ASSERT_EQ(ids.size(), 200u);
  const std::string value = "\xda\x3a\x98" + std::string(15000, 'v');  // str16 of 15000
  for (const auto& id : ids) w->result(id, value);  // 3 MB, none of it read yet
  ASSERT_TRUE(wait_completed(ids.size())) << "the broker did not take in all the results";
  std::set<std::string> got;
  shoal::v1::ServerMessage msg;
  while (got.size() < ids.size() && stream->Read(&msg)) {
    EXPECT_LE(msg.ByteSizeLong(), limit);
    for (const auto& r : msg.results().results()) {
      EXPECT_EQ(r.items(0).value(), value);
      got.insert(r.id());
    }
  }
  EXPECT_EQ(got.size(), ids.size());
  context->TryCancel();
}

// A client that submits and never reads its results cannot make the broker hold them
// without end: past the unread bound (here the send limit, 1.1 MB) its stream is not
// read, so a later submission waits in gRPC's flow control, not dropped, and is taken
// once the client has read.
TEST_F(ClientGatewayTest, AClientThatDoesNotReadItsResultsIsNotReadEither) {
  BrokerConfig config = testing::loopback_config();
  config.scheduler.max_message_bytes = 20000;  // send limit: 4 x 20000 + 1 MiB
  config.scheduler.max_retained_bytes = 1 << 20;  // the unread bound is the send limit
  start(config);
  auto w = std::make_unique<FakeWorker>(zmq_, b_->broker->worker_endpoint());
  w->hello("w1", {"square"}, /*slots=*/1000);
  ASSERT_TRUE(w->next().has_value());  // welcome
  auto context = make_context();
  auto stream = stub_->Session(context.get());
  std::vector<std::string> ids = submit_to(*stream, *w, 600);
  ASSERT_EQ(ids.size(), 600u);
  const std::string value = "\xda\x3a\x98" + std::string(15000, 'v');  // str16 of 15000
  for (const auto& id : ids) w->result(id, value);  // 9 MB, none of it read
  ASSERT_TRUE(wait_completed(ids.size())) << "the broker did not take in all the results";
  ASSERT_TRUE(stream->Write(submit({make_task("late")})));
  auto early = w->next(std::chrono::milliseconds(1000));
  EXPECT_FALSE(early.has_value() && early->has_tasks())
      << "the broker read a submission of a client with 9 MB unread";

  std::set<std::string> got;
  shoal::v1::ServerMessage msg;
  while (got.size() < ids.size() && stream->Read(&msg)) {
    for (const auto& r : msg.results().results()) got.insert(r.id());
  }
  EXPECT_EQ(got.size(), ids.size());
  std::optional<shoal::v1::BrokerMessage> late = early;
  if (!late.has_value() || !late->has_tasks()) late = w->next();
  ASSERT_TRUE(late.has_value() && late->has_tasks());
  EXPECT_EQ(late->tasks().tasks(0).id(), "late");
  w->result("late", value);
  auto result = read_until(*stream, shoal::v1::ServerMessage::kResults);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->results().results(0).id(), "late");
  context->TryCancel();
}

// The unread bound holds across sessions too: two clients that do not read, each under
// the bound by itself (18 MB of 20, less what gRPC took), together over it, are not read
// from either.
TEST_F(ClientGatewayTest, ClientsThatDoNotReadAreNotReadPastTheBoundTogether) {
  BrokerConfig config = testing::loopback_config();
  config.scheduler.max_message_bytes = 20000;  // send limit: 4 x 20000 + 1 MiB
  config.scheduler.max_retained_bytes = 20'000'000;  // the unread bound
  start(config);
  auto w = std::make_unique<FakeWorker>(zmq_, b_->broker->worker_endpoint());
  w->hello("w1", {"square"}, /*slots=*/3000);
  ASSERT_TRUE(w->next().has_value());  // welcome
  const std::string value = "\xda\x3a\x98" + std::string(15000, 'v');  // str16 of 15000
  struct Client {
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<grpc::ClientReaderWriter<shoal::v1::ClientMessage, shoal::v1::ServerMessage>>
        stream;
    std::vector<std::string> ids;
  };
  std::vector<Client> clients(2);
  for (std::size_t c = 0; c < clients.size(); ++c) {
    clients[c].context = make_context();
    clients[c].stream = stub_->Session(clients[c].context.get());
    clients[c].ids = submit_to(*clients[c].stream, *w, 1200, "c" + std::to_string(c) + "-");
    ASSERT_EQ(clients[c].ids.size(), 1200u);
    for (const auto& id : clients[c].ids) w->result(id, value);  // 18 MB, none of it read
  }
  ASSERT_TRUE(wait_completed(2 * 1200)) << "the broker did not take in all the results";
  for (std::size_t c = 0; c < clients.size(); ++c) {
    ASSERT_TRUE(clients[c].stream->Write(submit({make_task("late" + std::to_string(c))})));
  }
  auto early = w->next(std::chrono::milliseconds(1000));
  EXPECT_FALSE(early.has_value() && early->has_tasks())
      << "the broker read a submission with 36 MB unread in all (bound 20 MB)";
  // Once the clients read, their late submissions are taken, nothing lost.
  std::set<std::string> late;
  if (early.has_value() && early->has_tasks()) {
    for (const auto& t : early->tasks().tasks()) late.insert(t.id());
  }
  for (auto& client : clients) {
    std::set<std::string> got;
    shoal::v1::ServerMessage msg;
    while (got.size() < client.ids.size() && client.stream->Read(&msg)) {
      for (const auto& r : msg.results().results()) got.insert(r.id());
    }
    EXPECT_EQ(got.size(), client.ids.size());
  }
  while (late.size() < 2) {
    auto batch = w->next();
    ASSERT_TRUE(batch.has_value());
    for (const auto& t : batch->tasks().tasks()) late.insert(t.id());
  }
  EXPECT_EQ(late, (std::set<std::string>{"late0", "late1"}));
  for (auto& client : clients) client.context->TryCancel();
}

// Accepted ids are held back briefly and sent in bulk (broker_loop.h); none may be lost,
// none repeated, across several submits of one session.
TEST_F(ClientGatewayTest, EveryTaskIsAcceptedExactlyOnceWhenAcceptsAreHeld) {
  start();
  auto context = make_context();
  auto stream = stub_->Session(context.get());
  std::set<std::string> want;
  for (int batch = 0; batch < 5; ++batch) {
    std::vector<shoal::v1::Task> tasks;
    for (int i = 0; i < 2000; ++i) {
      std::string id = "b" + std::to_string(batch) + "-" + std::to_string(i);
      want.insert(id);
      tasks.push_back(make_task(id));
    }
    ASSERT_TRUE(stream->Write(submit(std::move(tasks))));
  }
  std::set<std::string> got;
  shoal::v1::ServerMessage msg;
  while (got.size() < want.size() && stream->Read(&msg)) {
    ASSERT_TRUE(msg.has_accepted()) << msg.ShortDebugString().substr(0, 200);
    for (const auto& id : msg.accepted().ids()) EXPECT_TRUE(got.insert(id).second) << id;
  }
  EXPECT_EQ(got, want);
  context->TryCancel();
}

TEST_F(ClientGatewayTest, WatchOnANewSessionCollectsResultsAfterReconnect) {
  start();
  auto w = worker("w1");
  {
    auto context = make_context();
    auto stream = stub_->Session(context.get());
    ASSERT_TRUE(stream->Write(submit({make_task("t1")})));
    ASSERT_TRUE(read_until(*stream, shoal::v1::ServerMessage::kAccepted).has_value());
    context->TryCancel();  // the client loses its connection
    stream->Finish();
  }
  ASSERT_TRUE(w->next()->has_tasks());
  w->result("t1", "\x31");
  auto context = make_context();
  auto stream = stub_->Session(context.get());
  shoal::v1::ClientMessage watch;
  watch.mutable_watch()->add_ids("t1");
  watch.mutable_watch()->add_ids("forgotten");
  ASSERT_TRUE(stream->Write(watch));
  bool got_result = false, got_unknown = false;
  shoal::v1::ServerMessage msg;
  while ((!got_result || !got_unknown) && stream->Read(&msg)) {
    if (msg.has_results()) {
      got_result = true;
      EXPECT_EQ(msg.results().results(0).items(0).value(), "\x31");
    }
    if (msg.has_unknown()) {
      got_unknown = true;
      EXPECT_THAT(msg.unknown().ids(), ElementsAre("forgotten"));
    }
  }
  EXPECT_TRUE(got_result);
  EXPECT_TRUE(got_unknown);
  context->TryCancel();
}

TEST_F(ClientGatewayTest, ClientsThatVanishMidStreamLeaveTheBrokerServing) {
  start();
  auto w = worker("w1");
  // Sessions end abruptly at every stage: before writing, after a submit, while their
  // Accepted and results are being written. Each one's stream object must be freed
  // (the sanitizer builds report a leak or a use after free) and the broker keep serving.
  for (int i = 0; i < 40; ++i) {
    auto context = make_context();
    auto stream = stub_->Session(context.get());
    if (i % 4 != 0) {
      ASSERT_TRUE(stream->Write(submit({make_task("v" + std::to_string(i))})));
    }
    if (i % 4 == 2) read_until(*stream, shoal::v1::ServerMessage::kAccepted);
    context->TryCancel();
    stream->Finish();
  }
  // A live client after them: its task runs (after whatever the vanished ones left) and
  // its result arrives. The worker holds one slot, so tasks come one at a time.
  auto context = make_context();
  auto stream = stub_->Session(context.get());
  ASSERT_TRUE(stream->Write(submit({make_task("after")})));
  int ran = 0;
  for (bool after = false; !after;) {
    auto batch = w->next();
    ASSERT_TRUE(batch.has_value()) << "the broker stopped dispatching after " << ran << " tasks";
    if (!batch->has_tasks()) continue;
    for (const auto& t : batch->tasks().tasks()) {
      after = after || t.id() == "after";
      w->result(t.id(), "\x31");
      ++ran;
    }
  }
  auto results = read_until(*stream, shoal::v1::ServerMessage::kResults);
  ASSERT_TRUE(results.has_value());
  EXPECT_EQ(results->results().results(0).id(), "after");
  EXPECT_GE(ran, 11);  // at least the ten whose Accepted was read, and "after"
  EXPECT_EQ(stats().bad_client_messages(), 0u);
  context->TryCancel();
}

TEST_F(ClientGatewayTest, AuthTokenIsRequiredWhenConfigured) {
  BrokerConfig config = testing::loopback_config();
  config.auth_token = "s3cret";
  start(config);
  shoal::v1::Stats s;
  auto without = make_context();
  EXPECT_EQ(stub_->GetStats(without.get(), {}, &s).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  auto wrong = make_context("guess");
  EXPECT_EQ(stub_->GetStats(wrong.get(), {}, &s).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  auto session_context = make_context();
  auto stream = stub_->Session(session_context.get());
  shoal::v1::ServerMessage msg;
  EXPECT_FALSE(stream->Read(&msg));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Compared in constant time: a token of the right length, or its prefix, is refused.
  for (const char* token : {"s3creT", "s3cre", "s3crets"}) {
    auto near = make_context(token);
    EXPECT_EQ(stub_->GetStats(near.get(), {}, &s).error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << token;
  }
  auto right = make_context("s3cret");
  EXPECT_TRUE(stub_->GetStats(right.get(), {}, &s).ok());
}

// A wildcard host listens on every address; the endpoint reported (and printed by
// shoal-broker) is one a client connects to, not "*:PORT".
TEST_F(ClientGatewayTest, AWildcardClientAddressIsReportedAsOneClientsCanReach) {
  BrokerConfig config = testing::loopback_config();
  config.client_address = "*:0";
  start(config);
  EXPECT_EQ(b_->broker->client_endpoint().rfind("127.0.0.1:", 0), 0u)
      << b_->broker->client_endpoint();
  EXPECT_EQ(stats().workers(), 0u);
}

}  // namespace
}  // namespace shoal::broker
