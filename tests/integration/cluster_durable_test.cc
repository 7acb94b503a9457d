// The durable task store end to end: shoal-broker --store-dir=DIR, SIGKILLed and
// restarted on the same directory (on new ports). The tests speak gRPC by hand, as a
// client in another language would, so that nothing is resubmitted by the C++ client:
// whatever comes back after the restart comes from the broker's journal.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "shoal/codec.hpp"
#include "shoal/v1/service.grpc.pb.h"
#include "tests/integration/cluster.h"

namespace shoal::itest {
namespace {

using namespace std::chrono_literals;

// Bounds every read of a session: no test waits longer than this for the broker.
constexpr auto kSessionTimeout = 60s;
// How long GetResult may wait for a task that runs after the restart.
constexpr uint32_t kResultWaitMs = 30'000;

v1::Task task(const std::string& id, const std::string& name, std::string args) {
  v1::Task t;
  t.set_id(id);
  t.set_name(name);
  t.set_args(std::move(args));
  t.set_max_retries(-1);  // the broker's default, as TaskOptions{} sends
  return t;
}

v1::Task square_task(const std::string& id, long long x) {
  return task(id, "test.square", encode(std::make_tuple(x)));
}

// A TaskResult as one comparable line: "49" for a value (either wire form), or the
// error's kind, type and message.
std::string outcome(const v1::TaskResult& result) {
  auto print = [](const msgpack::object& value) {
    std::ostringstream out;
    out << value;
    return out.str();
  };
  if (result.has_failure()) {
    return "failure " + v1::ErrorKind_Name(result.failure().kind()) + ": " +
           result.failure().message();
  }
  if (!result.values().empty()) {
    msgpack::object_handle values = msgpack::unpack(result.values().data(), result.values().size());
    const msgpack::object& array = values.get();
    if (array.type != msgpack::type::ARRAY || array.via.array.size == 0) return "bad values";
    return print(array.via.array.ptr[0]);
  }
  if (result.items_size() == 0) return "no outcome";
  const v1::ItemOutcome& item = result.items(0);
  if (item.has_error()) {
    return "error " + v1::ErrorKind_Name(item.error().kind()) + " " + item.error().type_name() +
           ": " + item.error().message();
  }
  msgpack::object_handle value = msgpack::unpack(item.value().data(), item.value().size());
  return print(value.get());
}

// GetResult for `id`, waiting up to `wait_ms` for it to end. Throws on an RPC error.
v1::GetResultResponse get_result(Cluster& cluster, const std::string& id, uint32_t wait_ms) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(wait_ms) +
                       10s);
  v1::GetResultRequest request;
  request.set_id(id);
  request.set_wait_ms(wait_ms);
  v1::GetResultResponse response;
  grpc::Status status = cluster.stub().GetResult(&context, request, &response);
  if (!status.ok()) throw std::runtime_error("GetResult " + id + ": " + status.error_message());
  return response;
}

// One Session stream, opened by hand. Every read ends by kSessionTimeout at the latest.
class RawSession {
 public:
  explicit RawSession(v1::TaskService::Stub& stub) {
    context_.set_deadline(std::chrono::system_clock::now() + kSessionTimeout);
    stream_ = stub.Session(&context_);
  }
  ~RawSession() { close(); }

  bool submit(const std::vector<v1::Task>& tasks) {
    v1::ClientMessage message;
    for (const v1::Task& t : tasks) *message.mutable_submit()->add_tasks() = t;
    return stream_->Write(message);
  }

  // Reads until every id of `ids` is in an Accepted. Fails on a Rejected, or when the
  // stream ends first (the deadline included).
  ::testing::AssertionResult await_accepted(std::set<std::string> ids) {
    v1::ServerMessage message;
    while (!ids.empty() && stream_->Read(&message)) {
      if (message.has_rejected()) return rejected(message.rejected());
      if (!message.has_accepted()) continue;
      for (const std::string& id : message.accepted().ids()) ids.erase(id);
    }
    if (ids.empty()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << ids.size() << " ids never accepted, e.g. " << *ids.begin();
  }

  // Reads until a result for every id of `ids` has arrived; stores them in `results`.
  ::testing::AssertionResult await_results(std::set<std::string> ids,
                                           std::map<std::string, v1::TaskResult>& results) {
    v1::ServerMessage message;
    while (!ids.empty() && stream_->Read(&message)) {
      if (message.has_rejected()) return rejected(message.rejected());
      if (!message.has_results()) continue;
      for (const v1::TaskResult& result : message.results().results()) {
        ids.erase(result.id());
        results[result.id()] = result;
      }
    }
    if (ids.empty()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << ids.size() << " results never arrived, e.g. " << *ids.begin();
  }

  // Ends the stream (also when the broker is gone). Idempotent.
  void close() {
    if (!stream_) return;
    context_.TryCancel();
    v1::ServerMessage rest;
    while (stream_->Read(&rest)) {
    }
    stream_->Finish();
    stream_.reset();
  }

 private:
  static ::testing::AssertionResult rejected(const v1::Rejected& rejected) {
    return ::testing::AssertionFailure()
           << rejected.ids_size() << " ids rejected, e.g. " << rejected.ids(0) << ": "
           << v1::ErrorKind_Name(rejected.error().kind()) << " " << rejected.error().message();
  }

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ClientMessage, v1::ServerMessage>> stream_;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(ClusterDurableTest, QueuedTasksSurviveAKill) {
  Cluster cluster;
  std::string store = "--store-dir=" + cluster.temp_dir() + "/store";  // created by the broker
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {store});
  constexpr int kTasks = 500;
  std::vector<v1::Task> tasks;
  std::set<std::string> ids;
  for (int i = 0; i < kTasks; ++i) {
    tasks.push_back(square_task("queued-" + std::to_string(i), i));
    ids.insert(tasks.back().id());
  }
  RawSession session(cluster.stub());
  ASSERT_TRUE(session.submit(tasks));
  ASSERT_TRUE(session.await_accepted(ids));  // no worker: all of them are queued

  cluster.kill_broker();
  session.close();
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {store});
  for (const v1::Task& t : tasks) {  // queued again, waiting for a worker
    ASSERT_EQ(get_result(cluster, t.id(), 0).state(), v1::TASK_STATE_QUEUED) << t.id();
  }
  cluster.start_worker("w1", 2);
  for (int i = 0; i < kTasks; ++i) {
    v1::GetResultResponse response = get_result(cluster, tasks[i].id(), kResultWaitMs);
    ASSERT_EQ(response.state(), v1::TASK_STATE_DONE) << tasks[i].id();
    ASSERT_EQ(outcome(response.result()), std::to_string(i * i)) << tasks[i].id();
  }
}

TEST(ClusterDurableTest, ResultsSurviveAKill) {
  Cluster cluster;
  std::string store = "--store-dir=" + cluster.temp_dir() + "/store";
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {store});
  cluster.start_worker("w1", 2);
  constexpr int kTasks = 100;
  std::vector<v1::Task> tasks;
  for (int i = 0; i < kTasks; ++i) tasks.push_back(square_task("done-" + std::to_string(i), i));
  tasks.push_back(task("done-failed", "test.fail", encode(std::make_tuple(1))));
  std::set<std::string> ids;
  for (const v1::Task& t : tasks) ids.insert(t.id());
  RawSession session(cluster.stub());
  ASSERT_TRUE(session.submit(tasks));
  std::map<std::string, v1::TaskResult> delivered;
  ASSERT_TRUE(session.await_results(ids, delivered));
  for (int i = 0; i < kTasks; ++i) {
    ASSERT_EQ(outcome(delivered[tasks[i].id()]), std::to_string(i * i)) << tasks[i].id();
  }
  std::string failed = outcome(delivered["done-failed"]);
  ASSERT_EQ(failed.rfind("error ERROR_KIND_REMOTE std::invalid_argument", 0), 0u) << failed;
  // A result goes out before it is on disk (a crash then only means the task runs again);
  // an Accepted never does. So one more task, once accepted, proves the results above are
  // on disk too: they were journalled before it.
  ASSERT_TRUE(session.submit({square_task("marker", 3)}));
  ASSERT_TRUE(session.await_accepted({"marker"}));

  cluster.kill_broker();
  cluster.worker("w1").signal(SIGKILL);  // no worker can reach the new broker either
  session.close();
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {store});
  EXPECT_EQ(cluster.stats().workers(), 0u);
  for (const v1::Task& t : tasks) {  // read at once: nothing runs them again
    v1::GetResultResponse response = get_result(cluster, t.id(), 0);
    ASSERT_EQ(response.state(), v1::TASK_STATE_DONE) << t.id();
    EXPECT_EQ(outcome(response.result()), outcome(delivered[t.id()])) << t.id();
  }
}

TEST(ClusterDurableTest, CancelledTaskStaysCancelled) {
  Cluster cluster;
  std::string store = "--store-dir=" + cluster.temp_dir() + "/store";
  std::string log = cluster.temp_dir() + "/ran";
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {store});
  // The doomed task is queued first: were it revived, it would run before the other.
  auto record = [&](const std::string& tag) {
    return task(tag, "test.record", encode(std::make_tuple(log, tag)));
  };
  v1::Task doomed = record("doomed"), kept = record("kept");
  RawSession session(cluster.stub());
  ASSERT_TRUE(session.submit({doomed, kept}));
  ASSERT_TRUE(session.await_accepted({"doomed", "kept"}));
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::CancelRequest request;
    request.set_id("doomed");
    v1::CancelResponse response;
    ASSERT_TRUE(cluster.stub().Cancel(&context, request, &response).ok());
    ASSERT_TRUE(response.cancelled());
    ASSERT_EQ(response.state(), v1::TASK_STATE_QUEUED);
  }

  cluster.kill_broker();
  session.close();
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {store});
  auto expect_cancelled = [&] {
    v1::GetResultResponse response = get_result(cluster, "doomed", 0);
    ASSERT_EQ(response.state(), v1::TASK_STATE_DONE);
    ASSERT_TRUE(response.result().has_failure()) << outcome(response.result());
    EXPECT_EQ(response.result().failure().kind(), v1::ERROR_KIND_CANCELLED);
  };
  expect_cancelled();
  EXPECT_EQ(get_result(cluster, "kept", 0).state(), v1::TASK_STATE_QUEUED);
  cluster.start_worker("w1", 1);
  v1::GetResultResponse kept_result = get_result(cluster, "kept", kResultWaitMs);
  ASSERT_EQ(kept_result.state(), v1::TASK_STATE_DONE);
  EXPECT_EQ(outcome(kept_result.result()), "0");
  expect_cancelled();
  EXPECT_EQ(read_lines(log), std::vector<std::string>{"kept"});
}

// The workflow the store is for: submit from the command line and leave, the broker
// crashes, and the result is read later.
TEST(ClusterDurableTest, CliSubmitNoWaitThenResultAcrossAKill) {
  Cluster cluster;
  std::string store = "--store-dir=" + cluster.temp_dir() + "/store";
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {store});
  auto submit = testutil::ChildProcess::start(
      {cli_bin(), "submit", "test.square", "--args=[12]", "--no-wait", "--broker=" + cluster.clients()});
  std::string id = submit->read_line(30s).value_or("");
  ASSERT_EQ(submit->wait(30s), std::optional<int>(0));  // it returns once the id is accepted
  ASSERT_FALSE(id.empty());

  cluster.kill_broker();
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {store});
  auto status = testutil::ChildProcess::start({cli_bin(), "status", "--broker=" + cluster.clients()});
  std::string status_lines;
  while (auto status_line = status->read_line(30s)) status_lines += *status_line + "\n";
  EXPECT_NE(status_lines.find("store: journal of "), std::string::npos) << status_lines;
  EXPECT_GT(cluster.stats().journal_bytes(), 0u);
  cluster.start_worker("w1", 1);
  auto result = testutil::ChildProcess::start(
      {cli_bin(), "result", id, "--wait-ms=30000", "--broker=" + cluster.clients()});
  std::string line = result->read_line(40s).value_or("");
  EXPECT_NE(line.find("144"), std::string::npos) << line;
  EXPECT_EQ(result->wait(40s), std::optional<int>(0));
}

TEST(ClusterDurableTest, SecondBrokerOnTheSameDirectoryIsRefused) {
  Cluster cluster;
  std::string store = "--store-dir=" + cluster.temp_dir() + "/store";
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {store});
  // Through sh, for the broker's stderr to arrive on the pipe ChildProcess reads.
  auto second = testutil::ChildProcess::start(
      {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", broker_bin(), "--client-address=127.0.0.1:0",
       "--worker-address=tcp://127.0.0.1:0", "--log-level=warning", store});
  std::string output;
  while (auto line = second->read_line(10s)) output += *line + "\n";  // until EOF: it exited
  EXPECT_EQ(second->wait(10s), std::optional<int>(1)) << output;
  EXPECT_NE(output.find("in use"), std::string::npos) << output;
  EXPECT_EQ(output.find("shoal-broker listening"), std::string::npos) << output;
  EXPECT_NO_THROW(cluster.stats());  // the first broker serves on
}

}  // namespace
}  // namespace shoal::itest
