// A worker in another language: tests/integration/python_worker.py, written from the
// comments in proto/shoal/v1/ alone, serving a real shoal-broker; tasks submitted by name
// through the `shoal` CLI and a remote Pool. Skipped when /usr/bin/python3 or one of its
// modules (zmq, google.protobuf, msgpack, grpc_tools) is missing.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "shoal/shoal.hpp"
#include "tests/integration/cluster.h"
#include "tests/testutil/process_fixture.h"

namespace shoal::itest {
namespace {

using namespace std::chrono_literals;

constexpr char kPython[] = "/usr/bin/python3";

// Why the Python worker cannot run here, or "" when it can.
std::string python_missing() {
  if (access(kPython, X_OK) != 0) return std::string(kPython) + " is missing";
  auto probe = testutil::ChildProcess::start(
      {kPython, "-c", "import zmq, msgpack, google.protobuf, grpc_tools"});
  if (probe->wait(60s) != 0) {
    return "python3 lacks zmq, msgpack, protobuf or grpc_tools "
           "(python3-zmq python3-msgpack python3-protobuf python3-grpc-tools; scripts/deps.sh)";
  }
  return "";
}

struct CliRun {
  int exit_code = -1;
  std::vector<std::string> lines;  // stdout and stderr together
};

class PythonWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = python_missing(); !why.empty()) GTEST_SKIP() << why;
    cluster_.start_broker();
  }

  // Starts python_worker.py as `name` and waits for its "ready" line (printed once the
  // broker has welcomed it).
  testutil::ChildProcess& start_python_worker(const std::string& name,
                                              std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{kPython,          SHOAL_PYTHON_WORKER,
                                  SHOAL_PROTO_DIR,  cluster_.temp_dir() + "/py-" + name,
                                  cluster_.workers(), name};
    argv.insert(argv.end(), extra.begin(), extra.end());
    worker_ = testutil::ChildProcess::start(argv);
    auto line = worker_->read_line(120s);  // protoc runs first
    EXPECT_EQ(line.value_or("<nothing>"), "python-worker ready name=" + name + " slots=1");
    return *worker_;
  }

  // Runs `shoal args... --broker=...` to its end.
  CliRun cli(std::vector<std::string> args) {
    args.insert(args.begin(), cli_bin());
    args.push_back("--broker=" + cluster_.clients());
    auto child = testutil::ChildProcess::start(args, {}, /*with_stderr=*/true);
    CliRun run;
    while (auto line = child->read_line(60s)) run.lines.push_back(*line);
    run.exit_code = child->wait(60s).value_or(-1);
    return run;
  }

  Cluster cluster_;
  std::unique_ptr<testutil::ChildProcess> worker_;
};

TEST_F(PythonWorkerTest, RunsTasksSubmittedByNameThroughTheCli) {
  start_python_worker("py1");
  CliRun add = cli({"submit", "py.add", "--args=[2,3]"});
  EXPECT_EQ(add.exit_code, 0);
  EXPECT_EQ(add.lines, std::vector<std::string>{"5"});

  CliRun raised = cli({"submit", "py.fail", "--args=[\"boom\"]"});
  EXPECT_EQ(raised.exit_code, 1);
  ASSERT_EQ(raised.lines.size(), 1u);
  EXPECT_NE(raised.lines[0].find("raised ValueError: boom"), std::string::npos)
      << raised.lines[0];

  // Chunks of 3 calls (Task.items): values when all succeed, items when one raised.
  std::string input = cluster_.temp_dir() + "/in.jsonl";
  std::ofstream(input) << "[1,2]\n[3,4]\n[5,6]\n[7,8]\n[\"x\",1]\n[9,10]\n";
  CliRun map = cli({"map", "py.add", "--input=" + input, "--chunksize=3", "--progress=false"});
  EXPECT_EQ(map.exit_code, 1);
  std::erase_if(map.lines, [](const std::string& l) { return l.rfind("shoal: ", 0) == 0; });
  ASSERT_EQ(map.lines.size(), 6u);  // stdout: a line per input line, in order
  EXPECT_EQ(map.lines[0], "3");
  EXPECT_EQ(map.lines[3], "15");
  EXPECT_NE(map.lines[4].find("ERROR_KIND_REMOTE TypeError"), std::string::npos) << map.lines[4];
  EXPECT_EQ(map.lines[5], "19");
  EXPECT_EQ(cluster_.stats().bad_worker_frames(), 0u);
}

TEST_F(PythonWorkerTest, PoolGetsResultsErrorsAndNotRegistered) {
  // py.ghost: listed in the hello but not there, as after a registry change.
  start_python_worker("py1", {"--claim=py.ghost"});
  Pool pool = Pool::connect(cluster_.clients());
  TerminateOnFailure guard(pool);
  EXPECT_EQ(pool.processes(), 1);
  EXPECT_EQ(pool.apply_async<int>("py.add", 2, 3).get(30s), 5);
  EXPECT_EQ(pool.apply_async<std::string>("py.echo", std::string("héllo")).get(30s), "héllo");
  try {
    pool.apply_async<int>("py.fail", std::string("boom")).get(30s);
    ADD_FAILURE() << "py.fail did not throw";
  } catch (const RemoteError& e) {
    EXPECT_EQ(e.type_name(), "ValueError");
    EXPECT_STREQ(e.what(), "boom");
    EXPECT_NE(e.where().find(":"), std::string::npos) << e.where();
  }
  // Sent to the worker, which lacks it: its own NOT_REGISTERED failure.
  try {
    pool.apply_async<int>("py.ghost", 1).get(30s);
    ADD_FAILURE() << "py.ghost did not throw";
  } catch (const NotRegisteredError& e) {
    EXPECT_NE(std::string(e.what()).find("not registered on worker py1"), std::string::npos)
        << e.what();
  }
  // Listed by no worker: the broker's NOT_REGISTERED, the worker never sees it.
  EXPECT_THROW(pool.apply_async<int>("py.nope", 1).get(30s), NotRegisteredError);
  // A run past its time limit: the worker kills it and reports TIME_LIMIT.
  TaskOptions within;
  within.time_limit = 300ms;
  Pool limited = pool.with(within);
  EXPECT_THROW(limited.apply_async<double>("py.sleep", 30).get(30s), TaskTimeLimitError);
  EXPECT_EQ(pool.apply_async<int>("py.add", 1, 2, 3).get(30s), 6);  // still serving
  v1::Stats stats = cluster_.stats();
  EXPECT_EQ(stats.bad_worker_frames(), 0u);
  EXPECT_EQ(stats.retried(), 0u);
}

TEST_F(PythonWorkerTest, SigtermDrainsThenLeaves) {
  auto& worker = start_python_worker("py1");
  Pool pool = Pool::connect(cluster_.clients());
  TerminateOnFailure guard(pool);
  // Held until the test opens its gate (a sleep could end before the drain is seen).
  const std::string gate = cluster_.temp_dir() + "/gate";
  auto held = pool.apply_async<std::string>("py.gate", gate);
  ASSERT_TRUE(cluster_.wait_stats([](const v1::Stats& s) { return s.running() == 1; }));
  worker.signal(SIGTERM);
  // Bye{draining}: still listed, taking nothing new, finishing what it holds.
  ASSERT_TRUE(cluster_.wait_stats([&](const v1::Stats&) {
    auto info = cluster_.worker_info("py1");
    return info && info->draining();
  }));
  std::ofstream{gate};
  EXPECT_EQ(held.get(30s), gate);
  EXPECT_EQ(worker.wait(30s), 0);
  // Bye{}: gone, its task not retried, no frame of it counted bad.
  ASSERT_TRUE(cluster_.wait_stats([](const v1::Stats& s) { return s.workers() == 0; }));
  EXPECT_FALSE(cluster_.worker_info("py1").has_value());
  CliRun workers = cli({"workers"});
  EXPECT_EQ(workers.exit_code, 0);
  EXPECT_EQ(workers.lines.size(), 1u);  // the header alone
  v1::Stats stats = cluster_.stats();
  EXPECT_EQ(stats.workers(), 0u);
  EXPECT_EQ(stats.retried(), 0u);
  EXPECT_EQ(stats.bad_worker_frames(), 0u);
}

// The broker restarts on the same port: the new one answers the worker's next frame with
// Reconnect (or the worker finds it silent); it says hello again and serves the new one.
TEST_F(PythonWorkerTest, ReconnectsToARestartedBroker) {
  std::string workers = "tcp://127.0.0.1:" + std::to_string(testutil::free_port());
  cluster_.kill_broker();
  cluster_.start_broker("127.0.0.1:0", workers);
  start_python_worker("py1");
  EXPECT_EQ(cli({"submit", "py.add", "--args=[2,3]"}).lines, std::vector<std::string>{"5"});
  cluster_.kill_broker();
  cluster_.start_broker("127.0.0.1:0", workers);
  ASSERT_TRUE(cluster_.wait_stats([](const v1::Stats& s) { return s.workers() == 1; }));
  EXPECT_EQ(cli({"submit", "py.add", "--args=[4,5]"}).lines, std::vector<std::string>{"9"});
  EXPECT_EQ(cluster_.stats().bad_worker_frames(), 0u);
}

}  // namespace
}  // namespace shoal::itest
