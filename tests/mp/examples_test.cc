// Runs each example program and checks what it prints or leaves behind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/mp/run_command.h"

namespace shoal {
namespace {

using testing_util::run_command;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Checks the three greetings (distinct names, a time each) and the final "joined" line.
void expect_three_greetings(const std::string& binary) {
  auto r = run_command(binary);
  ASSERT_EQ(r.exit_code, 0);
  auto out = lines(r.output);
  ASSERT_EQ(out.size(), 4u) << r.output;
  std::set<int> names;
  for (int i = 0; i < 3; ++i) {
    int n, h, m, sec, end = 0;
    ASSERT_EQ(std::sscanf(out[i].c_str(), "hello from Process-%d at %2d:%2d:%2d%n", &n, &h, &m,
                          &sec, &end),
              4)
        << out[i];
    EXPECT_EQ(static_cast<std::size_t>(end), out[i].size()) << out[i];
    names.insert(n);
  }
  EXPECT_EQ(names.size(), 3u);
  EXPECT_EQ(out[3], "all 3 joined");
}

#ifdef SHOAL_EXAMPLE_HELLO_PROCESSES
TEST(ExamplesTest, HelloProcesses) { expect_three_greetings(SHOAL_EXAMPLE_HELLO_PROCESSES); }
#endif

#ifdef SHOAL_EXAMPLE_PROCESS_SUBCLASS
TEST(ExamplesTest, ProcessSubclass) { expect_three_greetings(SHOAL_EXAMPLE_PROCESS_SUBCLASS); }
#endif

#ifdef SHOAL_EXAMPLE_PROCESS_INFO
TEST(ExamplesTest, ProcessInfoChildsParentIsTheParent) {
  auto r = run_command(SHOAL_EXAMPLE_PROCESS_INFO);
  ASSERT_EQ(r.exit_code, 0);
  auto out = lines(r.output);
  ASSERT_EQ(out.size(), 3u) << r.output;
  struct Info {
    char title[32] = {};
    char name[32] = {};
    int ppid = 0, pid = 0;
  };
  auto parse = [](const std::string& line, Info& info) {
    return std::sscanf(line.c_str(),
                       "%31[^:]: module example_process_info, process %31[^,], parent pid %d, "
                       "pid %d",
                       info.title, info.name, &info.ppid, &info.pid) == 4;
  };
  Info parent, child;
  ASSERT_TRUE(parse(out[0], parent)) << out[0];
  ASSERT_TRUE(parse(out[1], child)) << out[1];
  EXPECT_STREQ(parent.title, "main line");
  EXPECT_STREQ(parent.name, "MainProcess");
  EXPECT_STREQ(child.title, "function f");
  EXPECT_STREQ(child.name, "Process-1");
  EXPECT_EQ(child.ppid, parent.pid);  // the child's parent is the parent process
  EXPECT_NE(child.pid, parent.pid);
  EXPECT_EQ(out[2], "hello bob");
}
#endif

#ifdef SHOAL_EXAMPLE_QUEUE_EXCHANGE
TEST(ExamplesTest, QueueExchangeParentGetsAllThree) {
  auto r = run_command(SHOAL_EXAMPLE_QUEUE_EXCHANGE);
  ASSERT_EQ(r.exit_code, 0);
  auto out = lines(r.output);
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out,
            (std::vector<std::string>{"[42, 0, 'hello']", "[42, 1, 'hello']", "[42, 2, 'hello']"}));
}
#endif

#ifdef SHOAL_EXAMPLE_PIPE_EXCHANGE
TEST(ExamplesTest, PipeExchange) {
  auto r = run_command(SHOAL_EXAMPLE_PIPE_EXCHANGE);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "[42, None, 'hello']\n");
}
#endif

#ifdef SHOAL_EXAMPLE_MANAGER_DICT_LIST
TEST(ExamplesTest, ManagerDictAndList) {
  auto r = run_command(SHOAL_EXAMPLE_MANAGER_DICT_LIST);
  ASSERT_EQ(r.exit_code, 0);
  auto out = lines(r.output);
  ASSERT_EQ(out.size(), 13u) << r.output;
  std::set<std::string> keys;
  for (int i = 0; i < 12; ++i) keys.insert(out[i].substr(0, out[i].find(':')));
  std::set<std::string> want{"answer", "name"};
  for (int i = 0; i < 10; ++i) want.insert(std::to_string(i));
  EXPECT_EQ(keys, want);
  std::istringstream list(out[12].substr(out[12].find(':') + 1));
  std::vector<int> items{std::istream_iterator<int>(list), std::istream_iterator<int>()};
  ASSERT_EQ(items.size(), 15u) << out[12];
  EXPECT_EQ(std::vector<int>(items.begin(), items.begin() + 5), (std::vector<int>{0, 1, 2, 3, 4}));
  std::vector<int> appended(items.begin() + 5, items.end());
  std::sort(appended.begin(), appended.end());
  EXPECT_EQ(appended, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}
#endif

#ifdef SHOAL_EXAMPLE_SHARED_COUNTER
TEST(ExamplesTest, SharedCounterAddsUpAndKeepsEachProcessTogether) {
  auto r = run_command(SHOAL_EXAMPLE_SHARED_COUNTER);
  ASSERT_EQ(r.exit_code, 0);
  auto out = lines(r.output);
  ASSERT_EQ(out.size(), 2u) << r.output;
  EXPECT_TRUE(out[0] == "additions: 1 1 1 1 1 4 4 4 4 4" ||
              out[0] == "additions: 4 4 4 4 4 1 1 1 1 1")
      << out[0];
  EXPECT_EQ(out[1], "final 25");
}
#endif

#ifdef SHOAL_EXAMPLE_BANK_ACCOUNT
TEST(ExamplesTest, BankAccountBalances) {
  auto r = run_command(SHOAL_EXAMPLE_BANK_ACCOUNT);
  ASSERT_EQ(r.exit_code, 0);
  long deposited = -1, withdrew = -1, start = -1, final_balance = -1;
  for (const auto& line : lines(r.output)) {
    std::istringstream in(line);
    std::string word;
    long value;
    in >> word >> value;
    if (word == "deposited") deposited = value;
    if (word == "withdrew") withdrew = value;
    if (word == "start") start = value;
    if (word == "final") final_balance = value;
  }
  ASSERT_GT(deposited, 0) << r.output;
  ASSERT_GT(withdrew, 0) << r.output;
  EXPECT_EQ(start, 1000);
  EXPECT_EQ(final_balance, start + deposited - withdrew);
}
#endif

#ifdef SHOAL_EXAMPLE_PARALLEL_COPY
TEST(ExamplesTest, ParallelCopyIsByteForByte) {
  const std::string dir = ::testing::TempDir();
  const std::string src = dir + "/shoal_copy_src_" + std::to_string(::getpid());
  const std::string dst = dir + "/shoal_copy_dst_" + std::to_string(::getpid());
  std::string data(3'000'001, '\0');
  std::mt19937 rng(7);
  for (auto& c : data) c = static_cast<char>(rng());
  std::ofstream(src, std::ios::binary)
      .write(data.data(), static_cast<std::streamsize>(data.size()));
  auto r = run_command(std::string(SHOAL_EXAMPLE_PARALLEL_COPY) + " " + src + " " + dst);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(dst, std::ios::binary);
  std::string copy((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(copy.size(), data.size());
  EXPECT_TRUE(copy == data);
  EXPECT_NE(r.output.find("copied 3000001 bytes"), std::string::npos) << r.output;
  ::unlink(src.c_str());
  ::unlink(dst.c_str());
}
#endif

#ifdef SHOAL_EXAMPLE_PARALLEL_COPY
// A destination it cannot create used to end it with exit status 1 and not a word.
TEST(ExamplesTest, ParallelCopySaysWhyItCannotCreateTheDestination) {
  const std::string src = ::testing::TempDir() + "/shoal_copy_src_" + std::to_string(::getpid());
  std::ofstream(src) << "data";
  const std::string dst = "/nonexistent/shoal_copy_dst";
  auto r = run_command(std::string(SHOAL_EXAMPLE_PARALLEL_COPY) + " " + src + " " + dst + " 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "cannot create " + dst + ": No such file or directory\n");
  ::unlink(src.c_str());
}
#endif

#ifdef SHOAL_EXAMPLE_READER_WRITER
TEST(ExamplesTest, ReaderSawABCInOrderAndWasTerminated) {
  auto r = run_command(SHOAL_EXAMPLE_READER_WRITER);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "reader got A\nreader got B\nreader got C\nreader exit code -15\n");
}
#endif

#ifdef SHOAL_EXAMPLE_SHARED_ARRAY
TEST(ExamplesTest, SharedArraySeenByTheParent) {
  auto r = run_command(SHOAL_EXAMPLE_SHARED_ARRAY);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, "[0, 0, 1000, 0, 0, 0]\n");
}
#endif

#ifdef SHOAL_EXAMPLE_POOL_HELLO
TEST(ExamplesTest, PoolHelloAndSquares) {
  auto r = run_command(SHOAL_EXAMPLE_POOL_HELLO);
  ASSERT_EQ(r.exit_code, 0);
  auto out = lines(r.output);
  ASSERT_EQ(out.size(), 11u) << r.output;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(out[i], "hello " + std::to_string(i) + " over");
  EXPECT_EQ(out[10], "squares: 1 4 9 16 25 36");
}
#endif

#ifdef SHOAL_EXAMPLE_POOL_SLEEPS
TEST(ExamplesTest, PoolOfFourStartsTheFifthTaskAfterOneEnds) {
  auto r = run_command(SHOAL_EXAMPLE_POOL_SLEEPS);
  ASSERT_EQ(r.exit_code, 0);
  struct Span {
    long long start, end;
  };
  std::vector<Span> spans;
  for (const auto& line : lines(r.output)) {
    int task;
    Span span;
    ASSERT_EQ(
        std::sscanf(line.c_str(), "task %d start %lld end %lld", &task, &span.start, &span.end), 3)
        << line;
    spans.push_back(span);
  }
  ASSERT_EQ(spans.size(), 5u);
  std::sort(spans.begin(), spans.end(), [](auto& a, auto& b) { return a.start < b.start; });
  long long first_end = spans[0].end;
  for (int i = 0; i < 4; ++i) first_end = std::min(first_end, spans[i].end);
  EXPECT_GE(spans[4].start, first_end);  // only four ran at once
}
#endif

}  // namespace
}  // namespace shoal
