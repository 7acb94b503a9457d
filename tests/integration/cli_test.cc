// The `shoal` CLI's usage errors, as users meet them: one line on stderr ("shoal: ..."),
// exit status 2, and nothing sent (no broker is needed for these).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
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

// Runs `shoal args...` to its end. Unless `args` say otherwise, the broker address is
// one where nothing listens, with a short connect timeout: a CLI that wrongly goes on
// fails fast there, with exit status 1.
CliRun run_cli(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {cli_bin(),
                                   "--broker=127.0.0.1:" + std::to_string(testutil::free_port()),
                                   "--connect-timeout-ms=200"};
  argv.insert(argv.end(), args.begin(), args.end());  // later flags win
  auto child = testutil::ChildProcess::start(argv, {}, /*with_stderr=*/true);
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
           {{"status", "--priority=abc"}, "shoal: --priority: 'abc' is not a 32-bit integer"},
           {{"status", "--no-such-flag=1"}, "shoal: unknown flag --no-such-flag (see --help)"},
       }) {
    CliRun run = run_cli(c.args);
    EXPECT_EQ(run.exit_code, 2) << c.error;
    EXPECT_EQ(run.lines, std::vector<std::string>{c.error});
  }
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

}  // namespace
}  // namespace shoal::itest
