// The `shoal` CLI's usage errors, as users meet them: one line on stderr ("shoal: ..."),
// exit status 2, and nothing sent (no broker is needed for these).
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace shoal::itest
