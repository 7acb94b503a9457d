#include "worker/worker_config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shoal::worker {
namespace {

absl::StatusOr<WorkerConfig> parse(std::vector<std::string> args, bool load = false) {
  args.insert(args.begin(), "shoal-worker");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse_worker_flags(static_cast<int>(argv.size()), argv.data(), load);
}

TEST(WorkerConfigTest, ParsesEveryFlag) {
  auto c = parse({"--broker=tcp://127.0.0.1:5555", "--processes=3", "--queues=a,b",
                  "--prefetch=4", "--log-level=debug", "--name=w1", "--drain_timeout_ms=50"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->broker, "tcp://127.0.0.1:5555");
  EXPECT_EQ(c->processes, 3);
  EXPECT_EQ(c->queues, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c->prefetch, 4);
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->name, "w1");
  EXPECT_EQ(c->drain_timeout.count(), 50);
}

TEST(WorkerConfigTest, DefaultsAndBareHostPort) {
  auto c = parse({"--broker", "127.0.0.1:7"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->broker, "tcp://127.0.0.1:7");
  EXPECT_EQ(c->processes, 0);
  EXPECT_EQ(c->queues, std::vector<std::string>{"default"});
  EXPECT_EQ(c->prefetch, 1);
}

TEST(WorkerConfigTest, RejectsBadInput) {
  EXPECT_FALSE(parse({}).ok());  // no broker
  EXPECT_FALSE(parse({"--broker=tcp://h:1", "--processes=-1"}).ok());
  EXPECT_FALSE(parse({"--broker=tcp://h:1", "--processes=100000"}).ok());
  EXPECT_TRUE(parse({"--broker=tcp://h:1", "--processes=1024"}).ok());
  EXPECT_FALSE(parse({"--broker=tcp://h:1", "--prefetch=0"}).ok());
  EXPECT_FALSE(parse({"--broker=tcp://h:1", "--bogus=1"}).ok());
  EXPECT_FALSE(parse({"--broker=tcp://h:1", "--load=x.so"}).ok());  // worker_main has no --load
  // Names travel in protobuf strings: not UTF-8, the hello would never parse.
  EXPECT_FALSE(parse({"--broker=tcp://h:1", "--name=w\xff"}).ok());
  EXPECT_FALSE(parse({"--broker=tcp://h:1", "--queues=a,q\xe9"}).ok());
  EXPECT_FALSE(parse({"--broker=tcp://h:1", "--name=" + std::string(257, 'n')}).ok());
  EXPECT_FALSE(parse({"--broker=tcp://h:1", "--queues=" + std::string(257, 'q')}).ok());
  EXPECT_TRUE(
      parse({"--broker=tcp://h:1", "--name=caf\xc3\xa9", "--queues=\xc3\xa9t\xc3\xa9"}).ok());
  auto loaded = parse({"--broker=tcp://h:1", "--load=a.so", "--load=b.so"}, true);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->load.size(), 2u);
  auto help = parse({"--help"});
  ASSERT_TRUE(help.ok());
  EXPECT_TRUE(help->help);
  EXPECT_NE(worker_usage("w", true).find("--load"), std::string::npos);
}

// A flag given without its value used to take the next flag as the value: the worker
// was named "--load=x.so", or served a queue "--log-level=warning".
TEST(WorkerConfigTest, AFlagWithoutItsValueDoesNotSwallowTheNextFlag) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--broker=tcp://h:1", "--name", "--load=x.so"},
        {"--broker=tcp://h:1", "--queues", "--log-level=warning"},
        {"--broker", "--name=w1"},
        {"--broker=tcp://h:1", "--name"}}) {
    auto c = parse(args, /*load=*/true);
    ASSERT_FALSE(c.ok()) << args[1] << " was accepted";
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    std::string flag = args[0] == "--broker" ? "--broker" : args[1];
    EXPECT_EQ(c.status().message(), flag + " needs a value");
  }
  // The value may still follow after a space.
  auto spaced = parse({"--broker", "tcp://h:1", "--name", "w1"});
  ASSERT_TRUE(spaced.ok()) << spaced.status();
  EXPECT_EQ(spaced->name, "w1");
}

// -h asks for help as it does of shoal-broker and shoal; an unknown flag says so, with or
// without a value after it (--version used to be "--version: needs a value").
TEST(WorkerConfigTest, DashHIsHelpAndUnknownFlagsSaySo) {
  auto help = parse({"-h"});
  ASSERT_TRUE(help.ok()) << help.status();
  EXPECT_TRUE(help->help);
  for (std::string flag : {"--version", "-v", "--version=1"}) {
    auto c = parse({"--broker=tcp://h:1", flag});
    ASSERT_FALSE(c.ok()) << flag;
    std::string name = flag.substr(0, flag.find('='));
    EXPECT_EQ(c.status().message(), "unknown flag " + name + " (see --help)");
  }
  EXPECT_EQ(parse({"--broker=tcp://h:1", "--load", "x.so"}).status().message(),
            "unknown flag --load (see --help)");  // worker_main has no --load
}

TEST(WorkerConfigTest, RejectsABrokerPortOutsideOneTo65535) {
  // libzmq would connect to port 34463 (99999 mod 65536) and retry there for ever.
  for (std::string broker :
       {"tcp://127.0.0.1:99999", "127.0.0.1:99999", "127.0.0.1:0", "garbage"}) {
    auto c = parse({"--broker=" + broker});
    ASSERT_FALSE(c.ok()) << broker;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << broker;
    EXPECT_NE(c.status().message().find("--broker"), std::string::npos) << c.status();
  }
  EXPECT_NE(parse({"--broker=127.0.0.1:99999"}).status().message().find("1..65535"),
            std::string::npos);
  EXPECT_TRUE(parse({"--broker=tcp://[::1]:65535"}).ok());
}

TEST(WorkerConfigTest, CurveFlagsNeedTheBrokersKey) {
  const std::string key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";  // libzmq's test key
  auto c = parse({"--broker=tcp://h:1", "--broker-public-key=" + key,
                  "--curve-secret-key-file=/etc/shoal/w1"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->broker_public_key, key);
  EXPECT_EQ(c->curve_secret_key_file, "/etc/shoal/w1");
  auto not_a_key = parse({"--broker=tcp://h:1", "--broker-public-key=/nonexistent.pub"});
  ASSERT_FALSE(not_a_key.ok());
  EXPECT_NE(not_a_key.status().message().find("--broker-public-key"), std::string::npos);
  EXPECT_FALSE(parse({"--broker=tcp://h:1", "--curve-secret-key-file=/etc/shoal/w1"}).ok());
}

}  // namespace
}  // namespace shoal::worker
