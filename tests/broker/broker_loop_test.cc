// The scheduler's thread (BrokerLoop) with client events posted straight into its inbox,
// unary calls answered to recording responders, and a store that counts its commits.
#include "broker/broker_loop.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "broker/task_store.h"
#include "gtest/gtest.h"

namespace shoal::broker {
namespace {

// An in-memory store that counts its commits and knows whether changes wait for one.
// The loop's thread is its only user once the loop runs.
class CountingStore final : public TaskStore {
 public:
  TaskRef insert(std::string id) override {
    dirty_ = true;
    return inner_.insert(std::move(id));
  }
  bool find(std::string_view id, TaskRef* ref) const override { return inner_.find(id, ref); }
  bool matches(TaskRef ref, std::string_view id) const override { return inner_.matches(ref, id); }
  TaskRecord& get(TaskRef ref) override { return inner_.get(ref); }
  const TaskRecord& get(TaskRef ref) const override { return inner_.get(ref); }
  void erase(TaskRef ref) override {
    dirty_ = true;
    inner_.erase(ref);
  }
  size_t size() const override { return inner_.size(); }
  void for_each(const std::function<void(TaskRef)>& fn) const override { inner_.for_each(fn); }
  bool durable() const override { return true; }
  void accepted(const shoal::v1::Task&) override { dirty_ = true; }
  void ended(const shoal::v1::TaskResult&) override { dirty_ = true; }
  absl::Status commit() override {
    ++commits_;
    dirty_ = false;
    return absl::OkStatus();
  }

  int commits() const { return commits_; }
  bool dirty() const { return dirty_; }

 private:
  InMemoryTaskStore inner_;
  int commits_ = 0;
  bool dirty_ = false;
};

// Records how a unary call was answered, and the store's state at that moment.
class RecordingResponder final : public UnaryResponder {
 public:
  explicit RecordingResponder(const CountingStore* store) : store_(store) {}
  void Finish(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    EXPECT_FALSE(finished_) << "answered twice";
    finished_ = true;
    status_ = status;
    commits_ = store_->commits();
    dirty_ = store_->dirty();
  }
  // Waits (up to 30 s) for the answer; false if none came.
  bool wait() {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&finished_), absl::Seconds(30));
  }
  grpc::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }
  int commits() {
    absl::MutexLock lock(&mu_);
    return commits_;
  }
  bool dirty() {
    absl::MutexLock lock(&mu_);
    return dirty_;
  }

 private:
  const CountingStore* store_;
  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  int commits_ ABSL_GUARDED_BY(mu_) = 0;
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
};

class NoSessions final : public SessionSink {
 public:
  void send(SessionId, shoal::v1::ServerMessage&&) override {}
  void close(SessionId) override {}
  void fail(SessionId, grpc::Status) override {}
  void handled(SessionId, std::size_t) override {}
};

class BrokerLoopTest : public ::testing::Test {
 protected:
  // Builds the loop; events posted before run() are all handled in its first round.
  void make(SchedulerOptions options = {}) {
    options.registration_grace_ms = 3'600'000;  // tasks of no worker wait queued
    scheduler_ = std::make_unique<Scheduler>(options, Scheduler::Deps{&clock_, &store_});
    WorkerGateway::Options worker_options;
    worker_options.address = "tcp://127.0.0.1:0";
    auto workers = WorkerGateway::bind(zmq_, worker_options, &log_);
    ASSERT_TRUE(workers.ok()) << workers.status();
    workers_ = *std::move(workers);
    BrokerLoop::Deps deps;
    deps.scheduler = scheduler_.get();
    deps.workers = workers_.get();
    deps.inbox = &inbox_;
    deps.sessions = &sessions_;
    deps.clock = &clock_;
    deps.log = &log_;
    deps.store = &store_;
    loop_ = std::make_unique<BrokerLoop>(deps);
  }
  void run() {
    thread_ = std::thread([this] { loop_->run(); });
  }
  // Stops the loop: the scheduler is the test's again.
  void stop() {
    if (!thread_.joinable()) return;
    loop_->stop();
    thread_.join();
  }
  void TearDown() override { stop(); }

  // Queues task `id` (no worker runs it) before the loop runs.
  void queue_task(const std::string& id) {
    google::protobuf::RepeatedPtrField<shoal::v1::Task> tasks;
    shoal::v1::Task* task = tasks.Add();
    task->set_id(id);
    task->set_name("square");
    Actions ignored;
    scheduler_->open_session(1);
    scheduler_->submit(1, &tasks, ignored);
  }

  SteadyClock clock_;
  Logger log_{LogLevel::kWarning};
  CountingStore store_;
  zmq::context_t zmq_;
  std::unique_ptr<WorkerGateway> workers_;
  std::unique_ptr<Scheduler> scheduler_;
  ClientInbox inbox_;
  NoSessions sessions_;
  std::unique_ptr<BrokerLoop> loop_;
  std::thread thread_;
};

// The Cancel calls handled in one round are answered after one commit of the store, each
// after its cancel was committed: each was committed (an fdatasync) on its own before
// its answer, and 5,000 Cancels kept the loop from every other client for 0.58 s.
TEST_F(BrokerLoopTest, TheCancelsOfARoundAreAnsweredAfterOneCommit) {
  make();
  constexpr int kCalls = 100;
  std::vector<shoal::v1::CancelRequest> requests(kCalls);
  std::vector<shoal::v1::CancelResponse> responses(kCalls);
  std::vector<std::unique_ptr<RecordingResponder>> responders;
  for (int i = 0; i < kCalls; ++i) {
    requests[i].set_id("c" + std::to_string(i));
    requests[i].set_even_if_unknown(true);  // remembered: a change to commit
    responders.push_back(std::make_unique<RecordingResponder>(&store_));
    ASSERT_TRUE(inbox_.post(CancelCall{responders[i].get(), &requests[i], &responses[i]}));
  }
  run();
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(responders[i]->wait()) << i;
    EXPECT_TRUE(responders[i]->status().ok()) << i;
    EXPECT_TRUE(responses[i].cancelled()) << i;
    EXPECT_FALSE(responders[i]->dirty()) << i << " was answered before its commit";
  }
  EXPECT_GE(responders.front()->commits(), 1);
  EXPECT_EQ(responders.back()->commits(), responders.front()->commits())
      << "the store was committed " << responders.back()->commits() - responders.front()->commits()
      << " more times between the first and the last answer";
}

// GetResult calls waiting at once are capped (SchedulerOptions::max_waiting_results);
// one whose client went away (UnaryCallEnded, from the gateway) is finished and waits
// no more, so its place is free for another.
TEST_F(BrokerLoopTest, GetResultCallsThatEndUnansweredWaitNoMore) {
  SchedulerOptions options;
  options.max_waiting_results = 2;
  make(options);
  queue_task("t1");
  shoal::v1::GetResultRequest request;
  request.set_id("t1");
  request.set_wait_ms(600'000);
  constexpr int kCalls = 4;
  std::vector<shoal::v1::GetResultResponse> responses(kCalls);
  std::vector<std::unique_ptr<RecordingResponder>> calls;
  for (int i = 0; i < kCalls; ++i) calls.push_back(std::make_unique<RecordingResponder>(&store_));
  auto get = [&](int i) {
    ASSERT_TRUE(inbox_.post(GetResultCall{calls[i].get(), &request, &responses[i]}));
  };
  get(0);
  get(1);
  get(2);  // two wait already
  ASSERT_TRUE(inbox_.post(UnaryCallEnded{calls[0].get()}));
  ASSERT_TRUE(inbox_.post(UnaryCallEnded{calls[1].get()}));
  get(3);  // takes a place freed
  run();
  for (int i : {0, 1, 2}) ASSERT_TRUE(calls[i]->wait()) << i;
  EXPECT_EQ(calls[0]->status().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(calls[1]->status().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(calls[2]->status().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(calls[2]->status().error_message(),
            "too many GetResult calls wait already (2): ask again later, with wait_ms 0, or "
            "watch on a Session");
  stop();  // answers call 3 UNAVAILABLE
  ASSERT_TRUE(calls[3]->wait());
  EXPECT_EQ(calls[3]->status().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(scheduler_->waiting_results(), 1u);  // call 3's: the broker is stopping
}

}  // namespace
}  // namespace shoal::broker
