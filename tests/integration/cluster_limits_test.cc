// A broker with a small --max-message-bytes: the remote Pool refuses arguments bigger
// than the broker takes (a clear error, nothing sent) and keeps its batches under what
// the broker's gRPC server accepts, so big-but-allowed tasks still flow.
#include <gtest/gtest.h>

#include <fstream>
#include <ranges>
#include <string>
#include <vector>

#include "shoal/shoal.hpp"
#include "tests/integration/cluster.h"
#include "tests/integration/test_tasks.h"
#include "tests/testutil/process_fixture.h"
#include "tests/testutil/temp_dir.h"

namespace shoal::itest {
namespace {

using namespace std::chrono_literals;

TEST(ClusterLimitsTest, ArgumentsOverTheBrokersLimitFailAndTheRestFlows) {
  Cluster cluster;
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {"--max-message-bytes=100000"});
  cluster.start_worker("w1", 2);
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  EXPECT_EQ(cluster.stats().max_message_bytes(), 100000u);
  // 1.5 MB: more than the broker's gRPC server takes in one message (4 × 100 kB + 1 MiB).
  Future<std::string> huge = pool.apply_async(echo, std::string(1'500'000, 'x'));
  try {
    huge.get(30s);
    FAIL() << "no exception";
  } catch (const TimeoutError&) {
    FAIL() << "the oversized task hung";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than the broker's limit of 100000"),
              std::string::npos)
        << e.what();
  }
  // Forty tasks of 90 kB each: within the limit one by one, 3.6 MB together.
  std::vector<std::string> big(40, std::string(90'000, 'y'));
  auto echoed = pool.map_async(echo, big, 1).get(60s);
  EXPECT_EQ(echoed, big);
  // With the automatic chunksize too: five items a chunk would be 450 kB, over the limit;
  // the pool sends them one a task (the broker counts 40 tasks).
  uint64_t before = cluster.stats().submitted();
  EXPECT_EQ(pool.map(echo, big), big);
  EXPECT_EQ(cluster.stats().submitted() - before, 40u);
  EXPECT_EQ(pool.apply(square, 7), 49);
}

// A stream reads thousands of one-item tasks ahead (internal::StreamWindow), far more than
// this broker queues (--max-queued=100): submission waits for room, nothing is dropped, and
// the results come back in order (imap) or all of them (imap_unordered).
// Retention flags beyond what the broker can scale are usage errors (exit 2): they used
// to wrap (a huge --result-ttl-s became negative, a huge --result-memory-mb a cap of a
// few bytes) and start a broker that kept no result.
TEST(ClusterLimitsTest, RetentionFlagsOutOfRangeAreRefused) {
  for (const char* flag : {"--result-ttl-s=-1", "--result-ttl-s=9223372036854775",
                           "--result-memory-mb=18446744073709551615"}) {
    auto broker = testutil::ChildProcess::start(
        {broker_bin(), "--client-address=127.0.0.1:0", "--worker-address=tcp://127.0.0.1:0",
         flag});
    EXPECT_EQ(broker->wait(30s), 2) << flag;
  }
}

TEST(ClusterLimitsTest, StreamsFlowThroughABrokerThatQueuesFewTasks) {
  Cluster cluster;
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {"--max-queued=100"});
  cluster.start_worker("w1", 2);
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  constexpr int kItems = 6000;
  long long i = 0;
  for (long long y : pool.imap(square, std::views::iota(0, kItems))) {
    ASSERT_EQ(y, i * i) << i;
    ++i;
  }
  EXPECT_EQ(i, kItems);
  long long sum = 0;
  long long count = 0;
  for (long long y : pool.imap_unordered(square, std::views::iota(0, kItems))) {
    sum += y;
    ++count;
  }
  EXPECT_EQ(count, kItems);
  EXPECT_EQ(sum, (kItems - 1LL) * kItems * (2LL * kItems - 1) / 6);
}

// A broker that holds at most 1 MiB of arguments (--task-memory-mb=1) takes a map of 6 MB
// of them a few tasks at a time: the pool resends what it refused, nothing is dropped, and
// every result comes back in order.
TEST(ClusterLimitsTest, AMapOfMoreArgumentsThanTheBrokerHoldsFlowsThrough) {
  Cluster cluster;
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0",
                       {"--max-message-bytes=1048576", "--task-memory-mb=1"});
  cluster.start_worker("w1", 2);
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  std::vector<std::string> big;
  for (int i = 0; i < 20; ++i) big.push_back(std::string(300'000, char('a' + i)));
  EXPECT_EQ(pool.map_async(echo, big, 1).get(120s), big);
  EXPECT_EQ(cluster.stats().task_bytes(), 0u);  // none held once all ended
  EXPECT_EQ(cluster.stats().max_task_bytes(), 1u << 20);
}

// Protobuf strings must be UTF-8. A task's exception message that is not ended its
// task never (the worker's frame did not parse at the broker, the slot stayed taken);
// a task name or queue that is not made the pool resend its batch for ever.
TEST(ClusterLimitsTest, BytesThatAreNotUtf8NeitherHangNorStallOtherTasks) {
  Cluster cluster;
  cluster.start_broker();
  cluster.start_worker("w1", 1);
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  try {
    pool.apply_async(throw_message, std::string("caf\xe9")).get(30s);
    FAIL() << "no exception";
  } catch (const RemoteError& e) {
    EXPECT_EQ(std::string(e.what()), "caf\\xe9");  // the bad byte, escaped
  }
  try {  // an empty message stays empty (it read "ERROR_KIND_REMOTE")
    pool.apply_async(throw_message, std::string()).get(30s);
    FAIL() << "no exception";
  } catch (const RemoteError& e) {
    EXPECT_EQ(std::string(e.what()), "");
    EXPECT_EQ(e.type_name(), "std::runtime_error");
  }
  EXPECT_THROW(pool.apply_async<int>("bad\xffname", 1).get(30s), NotRegisteredError);
  EXPECT_THROW(pool.apply_async<int>("", 1).get(30s), NotRegisteredError);  // as locally
  EXPECT_THROW(pool.with(TaskOptions{"q\xff", 0, {}, -1}), std::invalid_argument);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(pool.apply_async(square, i).get(30s), i * i);
  EXPECT_EQ(cluster.stats().running(), 0u);  // the slot came back
}

// The broker's own error kinds reach a C++ client as themselves: `shoal submit` names
// a result over the limit RESOURCE_EXHAUSTED (it said OTHER).
TEST(ClusterLimitsTest, TheCliNamesTheBrokersErrorKinds) {
  Cluster cluster;
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {"--max-message-bytes=100000"});
  cluster.start_worker("w1", 1);
  std::string broker = "--broker=" + cluster.clients();
  auto big = testutil::ChildProcess::start(
      {cli_bin(), "submit", "test.blob", "--args=[200000]", broker}, {}, /*with_stderr=*/true);
  std::string line = big->read_line(30s).value_or("");
  EXPECT_NE(line.find("ERROR_KIND_RESOURCE_EXHAUSTED"), std::string::npos) << line;
  EXPECT_NE(line.find("100000"), std::string::npos) << line;
  EXPECT_EQ(big->wait(30s), 1);
  auto small = testutil::ChildProcess::start(
      {cli_bin(), "submit", "test.blob", "--args=[5]", broker}, {}, /*with_stderr=*/true);
  EXPECT_EQ(small->read_line(30s).value_or(""), "\"xxxxx\"");
  EXPECT_EQ(small->wait(30s), 0);
}

// `shoal map` picks its chunks as Pool::map does: 40 items of 40 kB under a 100 kB limit
// go one a task (ten a task, its count rule, would be refused as 400 kB).
TEST(ClusterLimitsTest, TheCliMapsBigItemsWithinTheBrokersLimit) {
  Cluster cluster;
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {"--max-message-bytes=100000"});
  cluster.start_worker("w1", 1);
  testutil::TempDir dir("shoal-limits");
  const std::string input = dir.path() + "/items.jsonl";
  const std::string line = "[\"" + std::string(40'000, 'z') + "\"]";
  {
    std::ofstream out(input);
    for (int i = 0; i < 40; ++i) out << line << "\n";
  }
  uint64_t before = cluster.stats().submitted();
  auto map = testutil::ChildProcess::start(
      {cli_bin(), "map", "test.echo", "--input=" + input, "--broker=" + cluster.clients()});
  int results = 0;
  while (auto out = map->read_line(60s)) results += (*out == line.substr(1, line.size() - 2));
  EXPECT_EQ(map->wait(30s), 0);
  EXPECT_EQ(results, 40);
  EXPECT_EQ(cluster.stats().submitted() - before, 40u);
}

}  // namespace
}  // namespace shoal::itest
