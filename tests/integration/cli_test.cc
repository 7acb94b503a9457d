// The `shoal` CLI as users meet it. CliTest: usage errors, one line on stderr
// ("shoal: ...") and exit status 2, nothing sent (no broker is needed for these).
// CliClusterTest: output and exit status against a real broker and worker on loopback.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <csignal>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/cluster.h"
#include "tests/testutil/process_fixture.h"
#include "tests/testutil/temp_dir.h"

namespace shoal::itest {
namespace {

using namespace std::chrono_literals;

struct CliRun {
  int exit_code = -1;
  std::vector<std::string> lines;  // stdout and stderr together
};

// Starts `shoal args...`, its stdout and stderr read together. Unless `args` say
// otherwise, the broker address is one where nothing listens, with a short connect
// timeout: a CLI that wrongly goes on fails fast there, with exit status 1. With
// `stdout_to`, stdout goes to that file instead (stderr is still read).
std::unique_ptr<testutil::ChildProcess> start_cli(const std::vector<std::string>& args,
                                                  const std::string& stdout_to = "") {
  std::vector<std::string> argv = {cli_bin(),
                                   "--broker=127.0.0.1:" + std::to_string(testutil::free_port()),
                                   "--connect-timeout-ms=200"};
  argv.insert(argv.end(), args.begin(), args.end());  // later flags win
  if (!stdout_to.empty()) {
    argv.insert(argv.begin(), {"/bin/sh", "-c", "exec \"$0\" \"$@\" >'" + stdout_to + "'"});
  }
  return testutil::ChildProcess::start(argv, {}, /*with_stderr=*/true);
}

// Runs `shoal args...` (as start_cli() starts it) to its end.
CliRun run_cli(const std::vector<std::string>& args, const std::string& stdout_to = "") {
  auto child = start_cli(args, stdout_to);
  CliRun run;
  while (auto line = child->read_line(120s)) run.lines.push_back(*line);
  run.exit_code = child->wait(120s).value_or(-1);
  return run;
}

TEST(CliTest, MapOfADirectoryOrAMissingFileIsAnError) {
  testutil::TempDir dir("shoal-cli");
  CliRun directory = run_cli({"map", "test.square", "--input=" + dir.path()});
  EXPECT_EQ(directory.exit_code, 2);
  EXPECT_EQ(directory.lines, std::vector<std::string>{"shoal: --input: cannot read '" + dir.path() +
                                                      "': Is a directory"});
  std::string missing = dir.path() + "/none.jsonl";
  CliRun none = run_cli({"map", "test.square", "--input=" + missing});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.lines, std::vector<std::string>{"shoal: --input: cannot read '" + missing +
                                                 "': No such file or directory"});
}

TEST(CliTest, HelpExitsZero) {
  for (std::string help : {"--help", "-h"}) {
    CliRun run = run_cli({help});
    EXPECT_EQ(run.exit_code, 0) << help;
    ASSERT_FALSE(run.lines.empty()) << help;
    EXPECT_EQ(run.lines[0].rfind("usage: shoal COMMAND", 0), 0u) << run.lines[0];
    // Flags as they are spelled on the command line, with their ranges.
    EXPECT_NE(std::find(run.lines.begin(), run.lines.end(), "  --max-retries=-1"), run.lines.end());
  }
}

TEST(CliTest, AnAuthTokenFileThatCannotServeIsAUsageError) {
  testutil::TempDir dir("shoal-cli");
  const std::string empty = dir.path() + "/empty", token = dir.path() + "/token";
  std::ofstream(empty) << "\n";
  std::ofstream(token) << "s3cret\n";
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {{"status", "--auth-token-file=" + dir.path() + "/missing"},
            "shoal: --auth-token-file: cannot read " + dir.path() + "/missing"},
           {{"status", "--auth-token-file=" + empty},
            "shoal: --auth-token-file: " + empty + " is empty"},
           {{"status", "--auth-token=x", "--auth-token-file=" + token},
            "shoal: --auth-token and --auth-token-file: give one"},
       }) {
    CliRun run = run_cli(c.args);
    EXPECT_EQ(run.exit_code, 2) << c.error;
    EXPECT_EQ(run.lines, std::vector<std::string>{c.error});
  }
}

TEST(CliTest, NumericFlagsOutOfRangeAreUsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {{"submit", "t", "--priority=-1"}, "shoal: --priority must be 0..9, not -1"},
           {{"submit", "t", "--priority=10"}, "shoal: --priority must be 0..9, not 10"},
           {{"submit", "t", "--time-limit-ms=-1"}, "shoal: --time-limit-ms must be >= 0, not -1"},
           {{"map", "t", "--input=x", "--max-retries=-2"},
            "shoal: --max-retries must be >= -1, not -2"},
           {{"map", "t", "--input=x", "--chunksize=-1"}, "shoal: --chunksize must be >= 0, not -1"},
           {{"result", "id", "--wait-ms=-1"}, "shoal: --wait-ms must be >= 0, not -1"},
           {{"status", "--connect-timeout-ms=-5"},
            "shoal: --connect-timeout-ms must be >= 1, not -5"},
           {{"status", "--connect-timeout-ms=0"},
            "shoal: --connect-timeout-ms must be >= 1, not 0"},
           {{"map", "t", "--input=x", "--reconnect-timeout-ms=0"},
            "shoal: --reconnect-timeout-ms must be >= 1, not 0"},
           {{"status", "--priority=abc"}, "shoal: --priority: 'abc' is not a 32-bit integer"},
           {{"status", "--no-such-flag=1"}, "shoal: unknown flag --no-such-flag (see --help)"},
       }) {
    CliRun run = run_cli(c.args);
    EXPECT_EQ(run.exit_code, 2) << c.error;
    EXPECT_EQ(run.lines, std::vector<std::string>{c.error});
  }
}

// A flag given without its value took the next flag as its value: "--queue
// --args='[4]'" queued the task on queue "--args=[4]" with no arguments, after a raw
// line of Abseil's, and waited for ever.
TEST(CliTest, AFlagWithoutItsValueDoesNotSwallowTheNextFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {{"submit", "demo.square", "--queue", "--args=[4]"}, "shoal: --queue needs a value"},
           {{"submit", "demo.square", "--args", "--queue=q"}, "shoal: --args needs a value"},
           {{"status", "--broker", "--connect-timeout-ms=100"}, "shoal: --broker needs a value"},
           {{"map", "t", "--input", "--"}, "shoal: --input needs a value"},
           {{"status", "--auth-token"}, "shoal: --auth-token needs a value"},
       }) {
    CliRun run = run_cli(c.args);
    EXPECT_EQ(run.exit_code, 2) << c.error;
    EXPECT_EQ(run.lines, std::vector<std::string>{c.error});
  }
  // A value after a space is still taken (here, on to a broker that is not there).
  CliRun spaced = run_cli({"submit", "t", "--queue", "q", "--args", "[4]"});
  EXPECT_EQ(spaced.exit_code, 1);
  ASSERT_EQ(spaced.lines.size(), 1u);
  EXPECT_EQ(spaced.lines[0].rfind("shoal: could not reach the broker", 0), 0u) << spaced.lines[0];
}

TEST(CliTest, MaxRetriesMinusOneStillMeansTheBrokersDefault) {
  // Accepted: the CLI goes on to the broker (here, one that is not there).
  CliRun run = run_cli({"submit", "t", "--max-retries=-1"});
  EXPECT_EQ(run.exit_code, 1);
  ASSERT_EQ(run.lines.size(), 1u);
  EXPECT_EQ(run.lines[0].rfind("shoal: could not reach the broker", 0), 0u) << run.lines[0];
}

TEST(CliTest, ExtraArgumentsAreUsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {{"status", "foo"}, "shoal: status takes no argument, not also 'foo' (see --help)"},
           {{"workers", "w1"}, "shoal: workers takes no argument, not also 'w1' (see --help)"},
           {{"queues", "q"}, "shoal: queues takes no argument, not also 'q' (see --help)"},
           {{"cancel", "a", "b"}, "shoal: cancel takes one argument, not also 'b' (see --help)"},
       }) {
    CliRun run = run_cli(c.args);
    EXPECT_EQ(run.exit_code, 2) << c.error;
    EXPECT_EQ(run.lines, std::vector<std::string>{c.error});
  }
}

TEST(CliTest, EmptyArgsIsAUsageErrorNotNoArguments) {
  CliRun run = run_cli({"submit", "test.square", "--args="});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.lines, std::vector<std::string>{
                           "shoal: --args is empty: give the task's arguments as a JSON array, "
                           "e.g. --args='[7]' (--args='[]' for none)"});
}

TEST(CliTest, AMalformedBrokerAddressIsAUsageErrorBeforeAnyConnect) {
  // Each used to wait out the connect timeout (some with gRPC's log lines first) and
  // exit 1 with "could not reach the broker".
  struct Case {
    std::string broker;
    std::string why;
  };
  for (const Case& c : std::vector<Case>{
           {"garbage", "the port is missing"},
           {":99999", "the host is missing"},
           {"", "it is empty"},
           {"[::1", "the IPv6 address has no closing ']'"},
           {"127.0.0.1:99999", "the port must be 1..65535, not '99999'"},
           {"127.0.0.1:0", "the port must be 1..65535, not '0'"},
       }) {
    CliRun run = run_cli({"status", "--broker=" + c.broker, "--connect-timeout-ms=1000"});
    EXPECT_EQ(run.exit_code, 2) << c.broker;
    EXPECT_EQ(run.lines, std::vector<std::string>{"shoal: --broker: '" + c.broker +
                                                  "' is not HOST:PORT: " + c.why});
  }
  // The broker serves gRPC on HOST:PORT only (API.md §8), never on a unix socket.
  CliRun unix_socket = run_cli({"status", "--broker=unix:/run/shoal.sock"});
  EXPECT_EQ(unix_socket.exit_code, 2);
  EXPECT_EQ(unix_socket.lines,
            std::vector<std::string>{"shoal: --broker: 'unix:/run/shoal.sock': a broker listens "
                                     "on HOST:PORT only, not on a unix socket"});
}

// `args` for run_cli(), aimed at the broker of `cluster`.
std::vector<std::string> aimed_at(const Cluster& cluster, std::vector<std::string> args) {
  args.insert(args.begin(),
              {"--broker=" + cluster.clients(), "--connect-timeout-ms=10000"});  // args win
  return args;
}

// A broker and one test worker, and the flags that point the CLI at them.
class CliClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.start_broker();
    cluster_.start_worker("w1", 1);
  }
  // `args` for run_cli(), aimed at the cluster's broker.
  std::vector<std::string> at_broker(std::vector<std::string> args) {
    return aimed_at(cluster_, std::move(args));
  }
  // A file of `lines` in the cluster's temporary directory; its path.
  std::string input(const std::string& name, const std::vector<std::string>& lines) {
    std::string path = cluster_.temp_dir() + "/" + name;
    std::ofstream out(path);
    for (const std::string& line : lines) out << line << "\n";
    return path;
  }

  Cluster cluster_;
};

// Each stdout line is JSON, whatever a task's error message or string result holds: a
// tab in an error used to print raw, and a byte that is not UTF-8 went through as is.
TEST_F(CliClusterTest, MapAndSubmitPrintOnlyValidJson) {
  CliRun map = run_cli(at_broker(
      {"map", "test.throw_message", "--input=" + input("in.jsonl", {R"(["a\tb \"q\""])"})}));
  EXPECT_EQ(map.exit_code, 1);
  ASSERT_FALSE(map.lines.empty());
  EXPECT_EQ(map.lines[0], R"({"error":"ERROR_KIND_REMOTE std::runtime_error: a\tb \"q\""})");
  CliRun submit = run_cli(at_broker({"submit", "test.byte", "--args=[255]"}));
  EXPECT_EQ(submit.exit_code, 0);
  EXPECT_EQ(submit.lines, std::vector<std::string>{"\"\xef\xbf\xbd\""});  // U+FFFD
  CliRun control = run_cli(at_broker({"submit", "test.byte", "--args=[1]"}));
  EXPECT_EQ(control.lines, std::vector<std::string>{R"("\u0001")"});
}

// Results that never reach stdout are a failure with one line, not exit status 0.
TEST_F(CliClusterTest, ResultsThatCannotBeWrittenAreAFailure) {
  const std::vector<std::string> kError = {
      "shoal: writing results failed: No space left on device"};
  CliRun map = run_cli(
      at_broker({"map", "test.square", "--input=" + input("in.jsonl", {"[1]", "[2]", "[3]"})}),
      "/dev/full");
  EXPECT_EQ(map.exit_code, 1);
  EXPECT_EQ(map.lines, kError);
  CliRun submit = run_cli(at_broker({"submit", "test.square", "--args=[3]"}), "/dev/full");
  EXPECT_EQ(submit.exit_code, 1);
  EXPECT_EQ(submit.lines, kError);
}

// `result` of a task not finished yet is no usage error (2): 3, and 4 for no such task.
TEST_F(CliClusterTest, ResultExitStatusSaysNotFinishedOrUnknown) {
  std::string gate = cluster_.temp_dir() + "/gate";
  CliRun submit =
      run_cli(at_broker({"submit", "test.gate", "--args=[\"" + gate + "\"]", "--no-wait"}));
  ASSERT_EQ(submit.exit_code, 0);
  ASSERT_EQ(submit.lines.size(), 1u);
  std::string id = submit.lines[0];
  CliRun pending = run_cli(at_broker({"result", id}));
  EXPECT_EQ(pending.exit_code, 3);
  ASSERT_EQ(pending.lines.size(), 1u);
  EXPECT_EQ(pending.lines[0].rfind("shoal: task " + id + " is TASK_STATE_", 0), 0u)
      << pending.lines[0];
  EXPECT_NE(pending.lines[0].find("not finished yet"), std::string::npos) << pending.lines[0];
  CliRun unknown = run_cli(at_broker({"result", "no-such-task"}));
  EXPECT_EQ(unknown.exit_code, 4);
  EXPECT_EQ(unknown.lines, std::vector<std::string>{"shoal: task no-such-task is "
                                                    "TASK_STATE_UNKNOWN (never seen, or expired)"});
  std::ofstream{gate};  // let the task end
  CliRun done = run_cli(at_broker({"result", id, "--wait-ms=30000"}));
  EXPECT_EQ(done.exit_code, 0);
  EXPECT_EQ(done.lines, std::vector<std::string>{"1"});
}

// `cancel` of an id the broker does not know exits 4, as `result` does (it used to exit
// 1, like a task that cannot be cancelled any more, which still does).
TEST_F(CliClusterTest, CancelExitStatusTellsUnknownFromNotCancellable) {
  CliRun unknown = run_cli(at_broker({"cancel", "no-such-task"}));
  EXPECT_EQ(unknown.exit_code, 4);
  EXPECT_EQ(unknown.lines, std::vector<std::string>{"shoal: task no-such-task is "
                                                    "TASK_STATE_UNKNOWN (never seen, or "
                                                    "expired): nothing to cancel"});
  std::string log = cluster_.temp_dir() + "/log";
  std::string gate = cluster_.temp_dir() + "/gate";
  CliRun submit = run_cli(at_broker(
      {"submit", "test.logged_gate", "--args=[\"" + log + "\",\"" + gate + "\"]", "--no-wait"}));
  ASSERT_EQ(submit.exit_code, 0);
  ASSERT_EQ(submit.lines.size(), 1u);
  std::string id = submit.lines[0];
  ASSERT_TRUE(wait_for_lines(log, 1));  // it runs
  CliRun running = run_cli(at_broker({"cancel", id}));
  EXPECT_EQ(running.exit_code, 1);
  EXPECT_EQ(running.lines, std::vector<std::string>{"shoal: task " + id +
                                                    " was not cancelled: it is "
                                                    "TASK_STATE_RUNNING"});
  std::ofstream{gate};  // let it end
  ASSERT_EQ(run_cli(at_broker({"result", id, "--wait-ms=30000"})).exit_code, 0);
  CliRun done = run_cli(at_broker({"cancel", id}));
  EXPECT_EQ(done.exit_code, 1);
  EXPECT_EQ(done.lines, std::vector<std::string>{"shoal: task " + id +
                                                 " was not cancelled: it is TASK_STATE_DONE"});
}

// A map whose broker is lost says so at once on stderr (it said nothing for 30 s when
// stderr was no terminal), then, with the broker not back within --reconnect-timeout-ms,
// that it gave up; every input line still has its JSON line.
TEST_F(CliClusterTest, MapSaysWhenItLosesTheBrokerAndWhenItGivesUp) {
  std::string started = cluster_.temp_dir() + "/started";
  std::string item = "[\"" + started + "\",60000]";  // runs for a minute
  std::string out = cluster_.temp_dir() + "/out.jsonl";
  auto map = start_cli(
      at_broker({"map", "test.started_nap", "--input=" + input("in.jsonl", {item, item, item}),
                 "--chunksize=1", "--reconnect-timeout-ms=3000"}),
      out);
  ASSERT_TRUE(wait_for_lines(started, 1));  // mid-map
  const std::string address = cluster_.clients();
  cluster_.kill_broker();
  EXPECT_EQ(map->read_line(60s), "shoal: lost the broker at " + address +
                                     " with 0/3 items done; reconnecting for up to 3 s "
                                     "(--reconnect-timeout-ms)");
  EXPECT_EQ(map->read_line(60s), "shoal: gave up on the broker at " + address +
                                     ": not back within 3 s (--reconnect-timeout-ms); 3 items "
                                     "not done");
  std::string summary = map->read_line(60s).value_or("");
  EXPECT_TRUE(summary.starts_with("shoal: 3 items in ")) << summary;
  EXPECT_TRUE(summary.ends_with(" s: 0 done (0/s), 3 failed")) << summary;
  EXPECT_EQ(map->wait(60s), std::optional<int>(1));
  const std::string kLost = R"({"error":"ERROR_KIND_CONNECTION: lost the broker at )" + address +
                            R"( and could not reconnect"})";
  EXPECT_EQ(read_lines(out), std::vector<std::string>(3, kLost));
}

// So does a submit that waits for its result; the task then fails as the broker's loss.
TEST_F(CliClusterTest, SubmitSaysWhenItLosesTheBroker) {
  std::string started = cluster_.temp_dir() + "/started";
  auto submit =
      start_cli(at_broker({"submit", "test.started_nap", "--args=[\"" + started + "\",60000]",
                           "--reconnect-timeout-ms=1000"}));
  ASSERT_TRUE(wait_for_lines(started, 1));  // it runs
  const std::string address = cluster_.clients();
  cluster_.kill_broker();
  EXPECT_EQ(submit->read_line(60s), "shoal: lost the broker at " + address +
                                        "; reconnecting for up to 1 s (--reconnect-timeout-ms)");
  std::string failed = submit->read_line(60s).value_or("");
  EXPECT_TRUE(failed.starts_with("shoal: task ")) << failed;
  EXPECT_TRUE(failed.ends_with(" failed: ERROR_KIND_CONNECTION: lost the broker at " + address +
                               " and could not reconnect"))
      << failed;
  EXPECT_EQ(submit->wait(60s), std::optional<int>(1));
}

// A map whose broker comes back goes on: it says so, the broker gets again what it lost,
// and every item is done.
TEST_F(CliClusterTest, MapSaysWhenTheBrokerIsBackAndEnds) {
  std::string log = cluster_.temp_dir() + "/log";
  std::string gate = cluster_.temp_dir() + "/gate";
  std::string item = "[\"" + log + "\",\"" + gate + "\"]";
  std::string out = cluster_.temp_dir() + "/out.jsonl";
  auto map =
      start_cli(at_broker({"map", "test.logged_gate", "--input=" + input("in.jsonl", {item, item}),
                           "--chunksize=1", "--reconnect-timeout-ms=60000"}),
                out);
  ASSERT_TRUE(wait_for_lines(log, 1));  // the first item runs
  const std::string clients = cluster_.clients(), workers = cluster_.workers();
  cluster_.kill_broker();
  EXPECT_EQ(map->read_line(60s), "shoal: lost the broker at " + clients +
                                     " with 0/2 items done; reconnecting for up to 60 s "
                                     "(--reconnect-timeout-ms)");
  cluster_.start_broker(clients, workers);  // in memory: it lost both tasks
  EXPECT_EQ(map->read_line(60s), "shoal: reconnected to the broker at " + clients +
                                     " with 0/2 items done; the tasks it lost go again");
  std::ofstream{gate};  // let every run end
  std::vector<std::string> rest;
  while (auto line = map->read_line(60s)) {
    // Said when the map's 2 s check comes before the worker is back with the new broker.
    if (!line->starts_with("shoal: no worker serves queue")) rest.push_back(*line);
  }
  EXPECT_EQ(map->wait(60s), std::optional<int>(0));
  ASSERT_EQ(rest.size(), 1u) << ::testing::PrintToString(rest);
  EXPECT_TRUE(rest[0].starts_with("shoal: 2 items in ")) << rest[0];
  EXPECT_NE(rest[0].find(" s: 2 done ("), std::string::npos) << rest[0];
  EXPECT_TRUE(rest[0].ends_with(", 0 failed")) << rest[0];
  EXPECT_EQ(read_lines(out), (std::vector<std::string>{"1", "1"}));
}

// The rate is of items done: failed ones (here, arguments of the wrong type) used to
// count as throughput.
TEST_F(CliClusterTest, MapSummaryRatesCompletedItemsOnly) {
  CliRun map = run_cli(
      at_broker({"map", "test.square", "--input=" + input("in.jsonl", {"[3]", "[\"x\"]"})}));
  EXPECT_EQ(map.exit_code, 1);
  ASSERT_EQ(map.lines.size(), 3u);
  EXPECT_EQ(map.lines[0], "9");
  // "shoal: 2 items in 0.004 s: 1 done (250/s), 1 failed" (std::regex's libstdc++ code
  // warns under the sanitizers' build).
  const std::string& summary = map.lines[2];
  EXPECT_TRUE(summary.starts_with("shoal: 2 items in ")) << summary;
  EXPECT_NE(summary.find(" s: 1 done ("), std::string::npos) << summary;
  EXPECT_TRUE(summary.ends_with("/s), 1 failed")) << summary;
}

// A full broker (its --max-queued reached) holds `submit --no-wait` back as it holds a
// blocking submission: the CLI says so, waits for room up to --connect-timeout-ms, and
// then gives up with a line that says why, leaving nothing queued. It used to wait in
// silence and say only "the broker did not accept task ID in time".
TEST(CliFullBrokerTest, SubmitWaitsForRoomAndSaysTheBrokerIsFull) {
  Cluster cluster;
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {"--max-queued=1"});  // no worker
  CliRun first = run_cli(aimed_at(cluster, {"submit", "test.square", "--args=[1]", "--no-wait"}));
  ASSERT_EQ(first.exit_code, 0);
  ASSERT_EQ(first.lines.size(), 1u);
  const std::string kFull =
      "shoal: the broker is full (1 task queued, its --max-queued limit is 1)";

  CliRun refused = run_cli(aimed_at(
      cluster, {"submit", "test.square", "--args=[2]", "--no-wait", "--connect-timeout-ms=3000"}));
  EXPECT_EQ(refused.exit_code, 1);
  ASSERT_EQ(refused.lines.size(), 2u);
  EXPECT_EQ(refused.lines[0], kFull + "; waiting up to 3 s for room");
  EXPECT_TRUE(refused.lines[1].starts_with("shoal: task ")) << refused.lines[1];
  EXPECT_TRUE(refused.lines[1].ends_with(
      " was not submitted: the broker stayed full for 3 s (1 task queued, its --max-queued "
      "limit is 1); try again later, wait longer (--connect-timeout-ms) or add workers"))
      << refused.lines[1];
  // (Not Stats.submitted: a resend in flight when the CLI gave up would add its withdrawal,
  // a cancel the broker remembers, to it.)
  CliRun status = run_cli(aimed_at(cluster, {"status"}));
  ASSERT_GE(status.lines.size(), 2u);
  EXPECT_NE(status.lines[1].find(", 1 queued (at most 1), 0 running, "), std::string::npos)
      << status.lines[1];

  // A blocking submit says so too (after 2 s without a result).
  auto blocking = start_cli(aimed_at(cluster, {"submit", "test.square", "--args=[3]"}));
  EXPECT_EQ(blocking->wait_for_line("shoal: the broker is full", 60s),
            kFull + "; waiting for room (Ctrl-C to stop)");
  blocking.reset();  // SIGKILL by pid

  // Room again (the first task cancelled): the waiting submission is taken.
  auto waiting = start_cli(aimed_at(
      cluster, {"submit", "test.square", "--args=[4]", "--no-wait", "--connect-timeout-ms=60000"}));
  EXPECT_EQ(waiting->read_line(60s), kFull + "; waiting up to 60 s for room");
  CliRun cancel = run_cli(aimed_at(cluster, {"cancel", first.lines[0]}));
  EXPECT_EQ(cancel.exit_code, 0);
  std::optional<std::string> id = waiting->read_line(60s);
  EXPECT_EQ(waiting->wait(60s), std::optional<int>(0));
  ASSERT_TRUE(id.has_value());
  CliRun queued = run_cli(aimed_at(cluster, {"result", *id}));
  EXPECT_EQ(queued.exit_code, 3);  // queued, waiting for a worker
  EXPECT_EQ(queued.lines, std::vector<std::string>{"shoal: task " + *id +
                                                   " is TASK_STATE_QUEUED (not finished yet; "
                                                   "--wait-ms=N waits for it)"});
}

// A broker full by its bound on the arguments of tasks not done (--task-memory-mb), not by
// their count, holds a map back the same way, and the CLI names that bound.
TEST(CliFullBrokerTest, MapSaysWhenTheArgumentsHeldFillTheBroker) {
  Cluster cluster;
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0",
                       {"--max-message-bytes=1048576", "--task-memory-mb=1"});  // no worker
  testutil::TempDir dir("shoal-cli");
  std::string in = dir.path() + "/in.jsonl";
  const std::string line = "[\"" + std::string(600'000, 'x') + "\"]";
  std::ofstream(in) << line << "\n" << line << "\n";
  auto map = start_cli(aimed_at(cluster, {"map", "test.square", "--input=" + in}));
  EXPECT_EQ(map->wait_for_line("shoal: the broker is full", 60s),
            "shoal: the broker is full (1 task queued, 0.6 MiB of arguments held by tasks not "
            "done, its --task-memory-mb limit is 1 MiB); waiting for room (Ctrl-C to stop)");
  CliRun status = run_cli(aimed_at(cluster, {"status"}));
  ASSERT_GE(status.lines.size(), 3u);
  EXPECT_EQ(status.lines[2], "arguments held: 0.6 MiB of the tasks not done (at most 1 MiB)");
  map.reset();  // SIGKILL by pid
}

// The queued line of `shoal status` against `cluster`: "N queued (at most M), ...".
std::string queued_line(const Cluster& cluster) {
  CliRun status = run_cli(aimed_at(cluster, {"status"}));
  for (const std::string& line : status.lines) {
    if (line.find(" queued") != std::string::npos) return line;
  }
  return "";
}

// Ctrl-C on a waiting submit or map left its tasks queued at the broker, to run for
// nobody; now they are cancelled there, the CLI says how many, and exits 128 + signal.
// map still prints a line per input line: here each says its item was cancelled.
TEST(CliInterruptTest, SigintOrSigtermCancelsTheTasksItSubmitted) {
  Cluster cluster;
  cluster.start_broker();  // no worker: what is submitted stays queued
  testutil::TempDir dir("shoal-cli");
  std::string in = dir.path() + "/in.jsonl";
  std::ofstream(in) << "[1]\n[2]\n[3]\n";
  const std::string kCancelled =
      R"({"error":"ERROR_KIND_CANCELLED: interrupted: cancelled before it ran"})";
  struct Case {
    std::vector<std::string> args;
    int signal;
    std::vector<std::string> said;
  };
  for (const Case& c : std::vector<Case>{
           {{"submit", "test.square", "--args=[4]", "--queue=nobody"},
            SIGINT,
            {"shoal: interrupted: cancelled 1 task at the broker (it will not run)"}},
           {{"map", "test.square", "--input=" + in, "--chunksize=1", "--queue=nobody"},
            SIGTERM,
            {kCancelled, kCancelled, kCancelled,
             "shoal: interrupted: 3 items: 0 ended, 3 cancelled at the broker (they will not "
             "run)"}},
       }) {
    auto cli = start_cli(aimed_at(cluster, c.args));
    // Said after 2 s without a result: by then every task is at the broker.
    EXPECT_EQ(cli->wait_for_line("shoal: no worker serves queue", 60s),
              "shoal: no worker serves queue 'nobody' yet; waiting for one (Ctrl-C to stop)");
    std::string before = queued_line(cluster);
    EXPECT_EQ(before.find(", 0 queued (at most "), std::string::npos) << before;
    cli->signal(c.signal);
    for (const std::string& line : c.said) EXPECT_EQ(cli->read_line(60s), line);
    EXPECT_EQ(cli->read_line(60s), std::nullopt);
    EXPECT_EQ(cli->wait(60s), std::optional<int>(128 + c.signal));
    std::string queued = queued_line(cluster);
    EXPECT_NE(queued.find(", 0 queued (at most "), std::string::npos) << queued;
  }
}

// Results that had come when Ctrl-C came were not printed: map printed nothing but the
// count of what it cancelled. Now each input line still has its line, in input order:
// the results of the items that ended (the broker's word that one has ended has the CLI
// wait for its result), then errors for the item still running (not waited for) and the
// one cancelled before it ran.
TEST(CliInterruptTest, MapPrintsTheResultsThatEndedBeforeTheSignal) {
  Cluster cluster;
  cluster.start_broker();
  // One task at a time (--prefetch=1 on one process): the third starts only once the
  // broker has the second's result, and the fourth stays queued while the third runs.
  cluster.start_worker("w1", 1, "default", {"--prefetch=1"});
  testutil::TempDir dir("shoal-cli");
  const std::string log = dir.path() + "/log";
  const std::string open = dir.path() + "/open";
  const std::string closed = dir.path() + "/closed";
  std::ofstream(open) << "";
  std::string in = dir.path() + "/in.jsonl";
  {
    std::ofstream out(in);
    for (const std::string& gate : {open, open, closed, closed}) {
      out << "[\"" << log << "\",\"" << gate << "\"]\n";
    }
  }
  auto cli =
      start_cli(aimed_at(cluster, {"map", "test.logged_gate", "--input=" + in, "--chunksize=1"}));
  // The third item has started: the first two have ended at the broker.
  auto runs = [&] {
    std::ifstream file(log);
    return static_cast<int>(
        std::count(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>(), '\n'));
  };
  const auto guard = std::chrono::steady_clock::now() + 60s;  // a hang guard only
  while (runs() < 3 && std::chrono::steady_clock::now() < guard) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(runs(), 3);
  cli->signal(SIGINT);
  EXPECT_EQ(cli->read_line(60s), "1");
  EXPECT_EQ(cli->read_line(60s), "1");
  std::optional<std::string> running = cli->read_line(60s);
  ASSERT_TRUE(running.has_value());
  EXPECT_TRUE(running->starts_with(R"x({"error":"interrupted: not waited for (task )x"))
      << *running;
  EXPECT_TRUE(running->ends_with(R"x( tells)"})x")) << *running;
  EXPECT_EQ(cli->read_line(60s),
            R"({"error":"ERROR_KIND_CANCELLED: interrupted: cancelled before it ran"})");
  EXPECT_EQ(cli->read_line(60s),
            "shoal: interrupted: 4 items: 2 ended, 1 cancelled at the broker (it will not run), "
            "1 not cancelled (running, or the broker did not answer; see their lines)");
  EXPECT_EQ(cli->read_line(60s), std::nullopt);
  EXPECT_EQ(cli->wait(60s), std::optional<int>(128 + SIGINT));
  std::ofstream(closed) << "";  // the running one may end
}

// Ctrl-C while the broker is full (--max-queued) acts at once too: the CLI does not wait
// for room first. Its submission never blocks (one submit() call, the backend's window
// empty before it): what waits for room is held in the backend, which cancels it there.
TEST(CliInterruptTest, SigintWhileTheBrokerIsFullCancelsWhatWaitsForRoom) {
  Cluster cluster;
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {"--max-queued=1"});  // no worker
  testutil::TempDir dir("shoal-cli");
  std::string in = dir.path() + "/in.jsonl";
  std::ofstream(in) << "[1]\n[2]\n[3]\n";
  auto cli = start_cli(aimed_at(cluster, {"map", "test.square", "--input=" + in, "--chunksize=1"}));
  EXPECT_EQ(cli->wait_for_line("shoal: the broker is full", 60s),
            "shoal: the broker is full (1 task queued, its --max-queued limit is 1); waiting for "
            "room (Ctrl-C to stop)");
  EXPECT_EQ(cli->read_line(60s),
            "shoal: no worker serves queue 'default' yet; waiting for one (Ctrl-C to stop)");
  cli->signal(SIGINT);
  const std::string kCancelled =
      R"({"error":"ERROR_KIND_CANCELLED: interrupted: cancelled before it ran"})";
  std::vector<std::string> lines;
  while (auto line = cli->read_line(60s)) lines.push_back(*line);
  EXPECT_EQ(lines, (std::vector<std::string>{
                       kCancelled, kCancelled, kCancelled,
                       "shoal: interrupted: 3 items: 0 ended, 3 cancelled at the broker (they "
                       "will not run)"}));
  EXPECT_EQ(cli->wait(60s), std::optional<int>(128 + SIGINT));
  std::string queued = queued_line(cluster);
  EXPECT_NE(queued.find(", 0 queued (at most 1)"), std::string::npos) << queued;
}

// A second stop signal, of either kind, ends the CLI at once, here while its cancel waits
// for a broker that does not answer. (SIGINT then SIGTERM: the SIGTERM was caught too, and
// only turned the exit status from 130 into 143 once the cancel call gave up. Found by
// review.)
TEST(CliInterruptTest, ASecondSignalOfTheOtherKindEndsTheCliAtOnce) {
  Cluster cluster;
  cluster.start_broker();  // no worker: the task stays queued
  auto cli = start_cli(aimed_at(cluster, {"submit", "test.square", "--args=[4]",
                                          "--queue=nobody", "--connect-timeout-ms=60000"}));
  EXPECT_EQ(cli->wait_for_line("shoal: no worker serves queue", 60s),
            "shoal: no worker serves queue 'nobody' yet; waiting for one (Ctrl-C to stop)");
  cluster.broker().signal(SIGSTOP);  // its cancel now waits up to the 60 s timeout
  cli->signal(SIGINT);
  cli->signal(SIGTERM);
  // Killed by one of them: the two may be handled at once, on two threads.
  const std::optional<int> status = cli->wait(30s);
  EXPECT_TRUE(status == -SIGTERM || status == -SIGINT) << ::testing::PrintToString(status);
  cluster.broker().signal(SIGCONT);
}

// A TLS client of a plaintext broker printed gRPC's own log lines (a "Handshake failed"
// each retry) before its one line, which named the C++ API's fields (root_certs_pem).
TEST_F(CliClusterTest, TlsToAPlaintextBrokerIsOneLineNamingTheCliFlags) {
  CliRun run = run_cli(at_broker({"status", "--tls", "--connect-timeout-ms=1500"}));
  EXPECT_EQ(run.exit_code, 1);
  ASSERT_EQ(run.lines.size(), 1u) << ::testing::PrintToString(run.lines);
  EXPECT_TRUE(run.lines[0].starts_with("shoal: could not reach the broker at ")) << run.lines[0];
  EXPECT_NE(run.lines[0].find("--root-certs"), std::string::npos) << run.lines[0];
  EXPECT_NE(run.lines[0].find("--cert"), std::string::npos) << run.lines[0];
  EXPECT_EQ(run.lines[0].find("_pem"), std::string::npos) << run.lines[0];
  // Plaintext to a plaintext broker that is not there: the hint names --tls.
  CliRun plain = run_cli({"status"});
  ASSERT_EQ(plain.lines.size(), 1u) << ::testing::PrintToString(plain.lines);
  EXPECT_NE(plain.lines[0].find("needs --tls)"), std::string::npos) << plain.lines[0];
}

// --root-certs without --tls was ignored without a word, while --cert without --tls was
// an error; the worker endpoint given as --broker was "not HOST:PORT".
TEST(CliTest, TlsFilesNeedTlsAndTheWorkerEndpointIsNamed) {
  testutil::TempDir dir("shoal-cli");
  std::string pem = dir.path() + "/roots.pem";
  std::ofstream(pem) << "-----BEGIN CERTIFICATE-----\n";
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {{"status", "--root-certs=" + pem}, "shoal: --root-certs needs --tls"},
           {{"status", "--cert=" + pem, "--key=" + pem}, "shoal: --cert needs --tls"},
           {{"status", "--key=" + pem}, "shoal: --key needs --tls"},
           {{"status", "--broker=tcp://127.0.0.1:5555"},
            "shoal: --broker: 'tcp://127.0.0.1:5555' looks like the broker's worker endpoint; "
            "give its client (gRPC) address, HOST:PORT (its --client-address)"},
       }) {
    CliRun run = run_cli(c.args);
    EXPECT_EQ(run.exit_code, 2) << c.error;
    EXPECT_EQ(run.lines, std::vector<std::string>{c.error});
  }
}

TEST(CliTest, ATaskIdThatIsNotUtf8OrTooLongIsAUsageError) {
  CliRun result = run_cli({"result", "\xff"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.lines,
            std::vector<std::string>{"shoal: result: a task id is UTF-8 text; '\\xff' is not"});
  CliRun cancel = run_cli({"cancel", "a\xc3"});
  EXPECT_EQ(cancel.exit_code, 2);
  EXPECT_EQ(cancel.lines,
            std::vector<std::string>{"shoal: cancel: a task id is UTF-8 text; 'a\\xc3' is not"});
  CliRun long_id = run_cli({"result", std::string(1025, 'x')});
  EXPECT_EQ(long_id.exit_code, 2);
  EXPECT_EQ(long_id.lines,
            std::vector<std::string>{"shoal: result: a task id is at most 1024 bytes, not 1025"});
}

TEST(CliTest, KeygenOverAnExistingPublicKeyLeavesNothingNew) {
  testutil::TempDir dir("shoal-cli");
  std::string path = dir.path() + "/k";
  std::ofstream(path + ".pub") << "stale\n";
  auto keygen = testutil::ChildProcess::start({cli_bin(), "keygen", path}, {}, true);
  EXPECT_EQ(keygen->read_line(30s).value_or(""), "shoal: " + path + ".pub: File exists");
  EXPECT_EQ(keygen->wait(30s), std::optional<int>(1));
  struct stat st {};
  EXPECT_NE(stat(path.c_str(), &st), 0) << "a secret key was left behind";
  EXPECT_EQ(read_lines(path + ".pub"), std::vector<std::string>{"stale"});
}

// A flag the subcommand does not use would be ignored in silence: a usage error instead.
TEST(CliTest, FlagsThatDoNotApplyAreUsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {{"map", "t", "--input=x", "--args=[1]"},
            "shoal: --args does not apply to map (see --help)"},
           {{"map", "t", "--input=x", "--no-wait"},
            "shoal: --no-wait does not apply to map (see --help)"},
           {{"submit", "t", "--input=x"}, "shoal: --input does not apply to submit (see --help)"},
           {{"submit", "t", "--wait-ms=5"},
            "shoal: --wait-ms does not apply to submit (see --help)"},
           {{"status", "--queue=q"}, "shoal: --queue does not apply to status (see --help)"},
           {{"result", "id", "--reconnect-timeout-ms=100"},
            "shoal: --reconnect-timeout-ms does not apply to result (see --help)"},
           {{"result", "id", "--noprogress"},
            "shoal: --progress does not apply to result (see --help)"},
           // run_cli() gives --broker, which means nothing to keygen.
           {{"keygen", "/nonexistent/k"}, "shoal: --broker does not apply to keygen (see --help)"},
       }) {
    CliRun run = run_cli(c.args);
    EXPECT_EQ(run.exit_code, 2) << c.error;
    EXPECT_EQ(run.lines, std::vector<std::string>{c.error});
  }
  // The flags that do apply are taken: the CLI goes on to the (absent) broker.
  CliRun run = run_cli({"submit", "t", "--queue=q", "--priority=3", "--no-wait"});
  EXPECT_EQ(run.exit_code, 1);
}

}  // namespace
}  // namespace shoal::itest
