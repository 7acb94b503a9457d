// Broker, workers and clients on separate hosts (network namespaces, hosts.h), and the
// faults only a network has: a host whose cable is pulled (packets vanish, no
// connection is reset) and a host that reboots (its kernel forgets its connections).
// On loopback a dead peer always resets its connections; these tests check what
// happens when nobody says anything.
#include <gtest/gtest.h>

#include <thread>

#include "shoal/shoal.hpp"
#include "tests/integration/cluster.h"
#include "tests/integration/hosts_test_env.h"
#include "tests/integration/test_tasks.h"

namespace shoal::itest {
namespace {

using namespace std::chrono_literals;

class HostsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test_hosts()) GTEST_SKIP() << test_hosts_missing();
  }
  void TearDown() override {
    if (!test_hosts()) return;
    for (const auto& name : kTestHosts) test_hosts()->heal(name);
  }

  Hosts& hosts() { return *test_hosts(); }
  // The broker on host "broker", on any free ports of its address.
  // Hosts cut off and replaced: a silent worker or broker is lost after 3 x 200 ms.
  void start_broker(std::vector<std::string> extra = {}) {
    cluster_.use_quick_loss();
    cluster_.run_on(hosts().launcher("broker"));
    std::string at = hosts().address("broker");
    cluster_.start_broker(at + ":0", "tcp://" + at + ":0", std::move(extra));
  }
  // A worker of one process on host `name`, named after it.
  void start_worker(const std::string& name) {
    cluster_.run_on(hosts().launcher(name));
    cluster_.start_worker(name, 1);
  }

  // argv running the shoal CLI on host `name` with `args`, against the broker.
  std::vector<std::string> cli_on(const std::string& name, std::vector<std::string> args) {
    std::vector<std::string> argv = hosts().launcher(name);
    argv.push_back(cli_bin());
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--broker=" + cluster_.clients());
    return argv;
  }

  Cluster cluster_;
};

TEST_F(HostsTest, AMapRunsOnWorkersOfTwoOtherHosts) {
  start_broker();
  start_worker("w1");
  start_worker("w2");
  Pool pool = Pool::connect(cluster_.clients());
  TerminateOnFailure guard(pool);
  std::vector<long long> xs(10000);
  for (int i = 0; i < 10000; ++i) xs[i] = i;
  auto ys = pool.map(square, xs);
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(ys[i], 1LL * i * i) << i;
  EXPECT_EQ(cluster_.stats().workers(), 2u);
  std::string big(8 << 20, 'x');  // many packets of the cables' 1,500-byte MTU, both ways
  big[12345] = 'y';
  EXPECT_EQ(pool.apply(echo, big), big);
}

TEST_F(HostsTest, AWorkerHostCutOffMidMapLosesNoTaskAndServesAgainOnceBack) {
  start_broker();  // a silent worker is lost after 3 x 200 ms
  start_worker("w1");
  start_worker("w2");
  Pool pool = Pool::connect(cluster_.clients());
  TerminateOnFailure guard(pool);
  std::vector<int> xs(400);
  for (int i = 0; i < 400; ++i) xs[i] = i;
  auto map = pool.map_async(slow_square, xs, 1);
  ASSERT_TRUE(cluster_.wait_stats([](const v1::Stats& s) { return s.completed() >= 40; }));
  hosts().cut("w1");
  ASSERT_TRUE(cluster_.wait_stats([](const v1::Stats& s) { return s.workers() == 1; }));
  auto ys = map.get(60s);
  for (int i = 0; i < 400; ++i) ASSERT_EQ(ys[i], i * i) << i;
  // Plugged back, w1 notices it was cut off, says hello again and takes tasks.
  hosts().heal("w1");
  ASSERT_TRUE(cluster_.wait_stats([](const v1::Stats& s) { return s.workers() == 2; }));
  cluster_.worker("w2").signal(SIGKILL);
  ASSERT_TRUE(cluster_.wait_stats([](const v1::Stats& s) { return s.workers() == 1; }));
  EXPECT_EQ(pool.apply(whoami, 0), "w1");
}

TEST_F(HostsTest, AWaitingPoolNoticesItsBrokersHostRebootedAndGetsItsResult) {
  start_broker();
  start_worker("w1");
  std::string clients = cluster_.clients(), workers = cluster_.workers();
  ConnectOptions options;
  options.keepalive = 1s;
  Pool pool = Pool::connect(clients, options);
  TerminateOnFailure guard(pool);
  auto f = pool.apply_async(nap, 5000);
  // The pool has sent all it had; gRPC alone would stop pinging after two pings.
  std::this_thread::sleep_for(3500ms);
  hosts().cut("broker");
  cluster_.kill_broker();      // its connections end unreported,
  hosts().replace("broker");   // and the new machine knows nothing of them
  cluster_.run_on(hosts().launcher("broker"));
  cluster_.start_broker(clients, workers);
  // The pool's next ping is answered by a reset: it reconnects and watches its task at
  // the new broker, or submits it again there.
  EXPECT_EQ(f.get(60s), 5000);
}

TEST_F(HostsTest, APoolCutOffFromItsBrokerMidMapFinishesItOnceBack) {
  start_broker({"--client-keepalive-ms=1000"});
  start_worker("w1");
  start_worker("w2");
  ConnectOptions options;
  options.keepalive = 1s;
  Pool pool = Pool::connect(cluster_.clients(), options);
  TerminateOnFailure guard(pool);
  std::vector<int> xs(2000);
  for (int i = 0; i < 2000; ++i) xs[i] = i;
  auto map = pool.map_async(slow_square, xs, 1);
  ASSERT_TRUE(cluster_.wait_stats([](const v1::Stats& s) { return s.completed() >= 100; }));
  hosts().cut("client");  // this process's host
  std::this_thread::sleep_for(4s);  // both ends give the connection up
  hosts().heal("client");
  ASSERT_FALSE(map.ready());
  auto ys = map.get(60s);
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(ys[i], i * i) << i;
}

TEST_F(HostsTest, TheBrokerDropsTheSessionOfAClientWhoseHostVanished) {
  start_broker({"--client-keepalive-ms=1000"});
  start_worker("w1");
  auto argv = cli_on("c2", {"submit", "test.nap", "--args=[60000]"});
  auto client = testutil::ChildProcess::start(argv);
  ASSERT_TRUE(cluster_.wait_stats(
      [](const v1::Stats& s) { return s.sessions() == 1 && s.running() == 1; }));
  auto status =
      testutil::ChildProcess::start({cli_bin(), "status", "--broker=" + cluster_.clients()});
  EXPECT_NE(status->read_line(30s).value_or("").find(", 1 client session, "), std::string::npos);
  std::this_thread::sleep_for(3s);  // nothing in flight: no ping waits for an answer
  hosts().cut("c2");
  EXPECT_TRUE(cluster_.wait_stats([](const v1::Stats& s) { return s.sessions() == 0; }));
}

// `shoal submit` waiting for a result tells why after 2 s: here, not "no worker serves
// the queue" (a worker does) but that the broker cannot be reached.
TEST_F(HostsTest, TheCliSaysWhenItsBrokerDoesNotAnswer) {
  start_broker();
  start_worker("w1");
  auto argv = cli_on("c2", {"submit", "test.nap", "--args=[60000]"});
  auto client = testutil::ChildProcess::start(argv, {}, /*with_stderr=*/true);
  ASSERT_TRUE(cluster_.wait_stats([](const v1::Stats& s) { return s.sessions() == 1; }));
  hosts().cut("c2");
  std::string line = client->read_line(30s).value_or("");
  const std::string said = "the broker at " + cluster_.clients() + " does not answer";
  EXPECT_NE(line.find(said), std::string::npos) << line;
}

}  // namespace
}  // namespace shoal::itest
