// Faults and foreign clients end to end: a broker restart, garbage on both endpoints,
// a Python client generated from proto/, the `shoal` CLI, and an absent broker.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <zmq.hpp>

#include "shoal/shoal.hpp"
#include "shoal/v1/worker.pb.h"
#include "tests/integration/cluster.h"
#include "tests/integration/test_tasks.h"
#include "tests/testutil/temp_dir.h"

namespace shoal::itest {
namespace {

using namespace std::chrono_literals;

TEST(ClusterFaultTest, BrokerRestartOnTheSamePortsResumesAMapInFlight) {
  Cluster cluster;
  cluster.start_broker();
  std::string clients = cluster.clients(), workers = cluster.workers();
  cluster.start_worker("w1", 2);
  cluster.start_worker("w2", 2);
  Pool pool = Pool::connect(clients);
  TerminateOnFailure guard(pool);
  std::vector<int> xs(300);
  for (int i = 0; i < 300; ++i) xs[i] = i;
  auto map = pool.map_async(slow_square, xs, 2);
  ASSERT_TRUE(cluster.wait_stats([](const v1::Stats& s) { return s.completed() >= 10; }));
  ASSERT_FALSE(map.ready());  // the restart below really happens mid-map
  cluster.kill_broker();
  cluster.start_broker(clients, workers);
  auto ys = map.get(120s);
  for (int i = 0; i < 300; ++i) ASSERT_EQ(ys[i], i * i) << i;
  // Both workers are back with the new broker, and new work flows.
  ASSERT_TRUE(cluster.wait_stats([](const v1::Stats& s) { return s.workers() == 2; }));
  EXPECT_EQ(pool.apply(square, 11), 121);
}

// A broker restarted with another --auth-token refuses the pool's session: its
// outstanding futures fail with ConnectionError naming the broker's reason (they waited
// for ever while the pool reopened the refused session without pause).
TEST(ClusterFaultTest, ABrokerRestartedWithAnotherTokenFailsOutstandingFutures) {
  Cluster cluster;
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {"--auth-token=alpha"});
  std::string clients = cluster.clients(), workers = cluster.workers();
  ConnectOptions options;
  options.auth_token = "alpha";
  Pool pool = Pool::connect(clients, options);
  TerminateOnFailure guard(pool);
  auto f = pool.apply_async(nap, 1);  // no worker: it waits at the broker
  cluster.kill_broker();
  cluster.start_broker(clients, workers, {"--auth-token=beta"});
  try {
    f.get(20s);
    ADD_FAILURE() << "a result from a broker that refuses the pool";
  } catch (const ConnectionError& e) {
    EXPECT_NE(std::string(e.what()).find("authorization"), std::string::npos) << e.what();
  }
}

TEST(ClusterFaultTest, GarbageOnBothEndpointsIsCountedAndServiceGoesOn) {
  Cluster cluster;
  cluster.start_broker();
  cluster.start_worker("w1", 1);
  std::mt19937 rng(7);
  auto random_bytes = [&](std::size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  };
  {  // ZeroMQ: a DEALER that speaks nonsense.
    zmq::context_t context(1);
    zmq::socket_t dealer(context, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 1000);
    dealer.connect(cluster.workers());
    v1::WorkerMessage hello;
    hello.set_version(1);
    hello.mutable_hello()->set_name("x");
    std::string truncated = hello.SerializeAsString();
    truncated.resize(truncated.size() - 2);
    v1::WorkerMessage future_version;
    future_version.set_version(99);
    future_version.mutable_heartbeat();
    for (const std::string& frame :
         {random_bytes(64), truncated, future_version.SerializeAsString(), random_bytes(1)}) {
      dealer.send(zmq::buffer(frame));
    }
  }
  // gRPC port: raw TCP bytes that are not HTTP/2.
  EXPECT_TRUE(send_raw_tcp(port_of(cluster.clients()), random_bytes(4096)));
  // A well-formed session carrying an invalid task (priority 42: the C++ Pool refuses
  // such options itself, so it goes through the generated stub): rejected as invalid.
  {
    grpc::ClientContext context;
    auto session = cluster.stub().Session(&context);
    v1::ClientMessage message;
    v1::Task* task = message.mutable_submit()->add_tasks();
    task->set_id("bad-priority-1");
    task->set_name("test.square");
    task->set_priority(42);
    ASSERT_TRUE(session->Write(message));
    v1::ServerMessage reply;
    while (session->Read(&reply) && !reply.has_rejected()) {
    }
    ASSERT_TRUE(reply.has_rejected());
    EXPECT_EQ(reply.rejected().ids(0), "bad-priority-1");
    EXPECT_NE(reply.rejected().error().message().find("priority 42"), std::string::npos);
    context.TryCancel();
  }
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  ASSERT_TRUE(cluster.wait_stats([](const v1::Stats& s) {
    return s.bad_worker_frames() >= 3 && s.bad_client_messages() >= 1;
  }));
  EXPECT_EQ(pool.apply(square, 12), 144);
}

TEST(ClusterFaultTest, InvalidSubmissionsAreRejectedAsInvalidOnTheWire) {
  // task.proto: a priority outside 0..9 and arguments over the broker's limit are
  // ERROR_KIND_INVALID (final), not RESOURCE_EXHAUSTED (resubmit later) nor OTHER.
  Cluster cluster;
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {"--max-message-bytes=64"});
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 60s);
  auto stream = cluster.stub().Session(&context);
  v1::ClientMessage message;
  v1::Task* priority = message.mutable_submit()->add_tasks();
  priority->set_id("priority");
  priority->set_name("test.square");
  priority->set_args(std::string("\x91\x07", 2));  // [7]
  priority->set_priority(10);
  v1::Task* big = message.mutable_submit()->add_tasks();
  big->set_id("big");
  big->set_name("test.echo");
  big->set_args(std::string("\x91\xd9\x50", 3) + std::string(80, 'x'));  // ["xx...x"]
  ASSERT_TRUE(stream->Write(message));
  std::map<std::string, v1::ErrorKind> kinds;
  v1::ServerMessage reply;
  while (kinds.size() < 2 && stream->Read(&reply)) {
    if (!reply.has_rejected()) continue;
    for (const std::string& id : reply.rejected().ids())
      kinds[id] = reply.rejected().error().kind();
  }
  context.TryCancel();
  EXPECT_EQ(kinds["priority"], v1::ERROR_KIND_INVALID) << v1::ErrorKind_Name(kinds["priority"]);
  EXPECT_EQ(kinds["big"], v1::ERROR_KIND_INVALID) << v1::ErrorKind_Name(kinds["big"]);
}

TEST(ClusterFaultTest, PythonClientFromTheProtoFilesSubmitsByName) {
  Cluster cluster;
  cluster.start_broker();
  cluster.start_worker("w1", 1);
  std::string out = cluster.temp_dir() + "/py";
  auto python = testutil::ChildProcess::start(
      {"/usr/bin/python3", SHOAL_PYTHON_CLIENT, SHOAL_PROTO_DIR, out, cluster.clients()});
  auto line = python->read_line(120s);
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, "test.square(7) = 49");
  EXPECT_EQ(python->wait(30s), 0);
}

// The standard gRPC health service answers probes without the auth token the task service
// wants: SERVING for the server and for shoal.v1.TaskService, NOT_FOUND for other names.
TEST(ClusterFaultTest, AnswersTheStandardHealthCheckWithoutAToken) {
  // The broker reads its token from a file (its first line), as the CLI below.
  testutil::TempDir dir("shoal-token");
  std::ofstream(dir.path() + "/token") << "s3cret\nnot part of it\n";
  Cluster cluster;
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0",
                       {"--auth-token-file=" + dir.path() + "/token"});
  auto check = [&](std::vector<std::string> service) {
    std::vector<std::string> argv = {"/usr/bin/python3", SHOAL_HEALTH_CHECK, cluster.clients()};
    argv.insert(argv.end(), service.begin(), service.end());
    auto python = testutil::ChildProcess::start(argv);
    std::string line = python->read_line(60s).value_or("(nothing)");
    EXPECT_EQ(python->wait(30s), 0);
    return line;
  };
  EXPECT_EQ(check({}), "SERVING");
  EXPECT_EQ(check({"shoal.v1.TaskService"}), "SERVING");
  EXPECT_EQ(check({"shoal.v1.NoSuchService"}), "NOT_FOUND");
  // The token is still wanted by the task service itself.
  auto status = testutil::ChildProcess::start(
      {cli_bin(), "status", "--broker=" + cluster.clients()});
  EXPECT_NE(status->wait(30s), 0);
  auto with_file = testutil::ChildProcess::start(
      {cli_bin(), "status", "--broker=" + cluster.clients(), "--auth-token-file=" + dir.path() + "/token"});
  EXPECT_EQ(with_file->wait(30s), 0);
  // A watcher hears NOT_SERVING when the broker shuts down.
  auto watch = testutil::ChildProcess::start(
      {"/usr/bin/python3", SHOAL_HEALTH_CHECK, "--watch", cluster.clients()});
  EXPECT_EQ(watch->read_line(60s).value_or("(nothing)"), "SERVING");
  cluster.broker().signal(SIGTERM);
  EXPECT_EQ(watch->read_line(30s).value_or("(nothing)"), "NOT_SERVING");
  EXPECT_EQ(watch->wait(30s), 0);
}

TEST(ClusterFaultTest, CliSubmitsMapsAndReportsErrors) {
  Cluster cluster;
  cluster.start_broker();
  cluster.start_worker("w1", 2);
  std::string broker = "--broker=" + cluster.clients();
  auto submit = testutil::ChildProcess::start({cli_bin(), "submit", "test.square", "--args=[7]", broker});
  EXPECT_EQ(submit->read_line(30s).value_or(""), "49");
  EXPECT_EQ(submit->wait(30s), 0);

  std::string input = cluster.temp_dir() + "/in.jsonl";
  {
    std::ofstream in(input);
    for (int i = 0; i < 50; ++i) in << "[" << i << "]\n";
  }
  auto map = testutil::ChildProcess::start(
      {cli_bin(), "map", "test.square", "--input=" + input, broker});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(map->read_line(30s).value_or(""), std::to_string(i * i));
  EXPECT_EQ(map->wait(30s), 0);

  auto missing = testutil::ChildProcess::start({cli_bin(), "submit", "test.nope", "--args=[1]", broker});
  EXPECT_EQ(missing->wait(30s), 1);
  auto workers = testutil::ChildProcess::start({cli_bin(), "workers", broker});
  EXPECT_EQ(workers->read_line(30s).value_or("").rfind("WORKER", 0), 0u);
  EXPECT_EQ(workers->read_line(30s).value_or("").rfind("w1 ", 0), 0u);
  EXPECT_EQ(workers->wait(30s), 0);
}

// A task for a queue no worker serves waits (a worker may come), but says so once.
TEST(ClusterFaultTest, CliSaysWhenNoWorkerServesTheQueue) {
  Cluster cluster;
  cluster.start_broker();
  cluster.start_worker("w1", 1);  // serves "default" only
  std::string broker = "--broker=" + cluster.clients();
  auto submit = testutil::ChildProcess::start(
      {cli_bin(), "submit", "test.square", "--args=[3]", "--queue=nobody", broker}, {},
      /*with_stderr=*/true);
  std::string line = submit->read_line(30s).value_or("");
  EXPECT_NE(line.find("no worker serves queue 'nobody' yet"), std::string::npos) << line;
  auto served = testutil::ChildProcess::start(
      {cli_bin(), "submit", "test.square", "--args=[3]", broker}, {}, /*with_stderr=*/true);
  EXPECT_EQ(served->read_line(30s).value_or(""), "9");  // no warning when served
  EXPECT_EQ(served->wait(30s), 0);
}

TEST(ClusterFaultTest, NothingListeningIsConnectionErrorAfterTheTimeout) {
  ConnectOptions options;
  options.connect_timeout = 500ms;
  auto start = std::chrono::steady_clock::now();
  std::string address = "127.0.0.1:" + std::to_string(testutil::free_port());
  EXPECT_THROW(Pool::connect(address, options), ConnectionError);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 450ms);
  EXPECT_LT(took, 30s);  // a hang guard
}

}  // namespace
}  // namespace shoal::itest
