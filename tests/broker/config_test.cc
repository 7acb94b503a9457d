#include "broker/config.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace shoal::broker {
namespace {

TEST(ConfigTest, DefaultsAreValid) { EXPECT_TRUE(validate(BrokerConfig{}).ok()); }

TEST(ConfigTest, RejectsValuesThatCannotWorkNamingTheFlag) {
  BrokerConfig c;
  c.client_address = "localhost";
  EXPECT_EQ(validate(c).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(validate(c).message().find("--client-address"), std::string::npos);
  c.client_address = "127.0.0.1:99999";  // the same check as the CLI's --broker
  EXPECT_NE(validate(c).message().find("--client-address"), std::string::npos);
  c.client_address = "bad host:50051";
  EXPECT_NE(validate(c).message().find("--client-address"), std::string::npos);
  c.client_address = "[::1]:0";
  EXPECT_TRUE(validate(c).ok()) << validate(c);
  c = BrokerConfig{};
  c.worker_address = "127.0.0.1:5555";
  EXPECT_NE(validate(c).message().find("--worker-address"), std::string::npos);
  c.worker_address = "tcp://127.0.0.1:99999";  // libzmq would listen on 34463
  EXPECT_EQ(validate(c).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(validate(c).message().find("--worker-address"), std::string::npos);
  EXPECT_NE(validate(c).message().find("1..65535"), std::string::npos) << validate(c);
  c.worker_address = "tcp://127.0.0.1:0";  // any free port
  EXPECT_TRUE(validate(c).ok());
  c = BrokerConfig{};
  c.scheduler.heartbeat_ms = 0;
  EXPECT_NE(validate(c).message().find("--heartbeat-ms"), std::string::npos);
  c = BrokerConfig{};
  c.client_keepalive_ms = 999;
  EXPECT_NE(validate(c).message().find("--client-keepalive-ms"), std::string::npos);
  c.client_keepalive_ms = 0;  // never
  EXPECT_TRUE(validate(c).ok());
  c = BrokerConfig{};
  c.scheduler.max_message_bytes = (256u << 20) + 1;  // a frame of 4 of them would pass 1 GiB
  EXPECT_NE(validate(c).message().find("--max-message-bytes must be in 1..268435456"),
            std::string::npos)
      << validate(c);
  c.scheduler.max_message_bytes = 256u << 20;
  EXPECT_TRUE(validate(c).ok());
  c = BrokerConfig{};
  c.scheduler.default_max_retries = -1;
  EXPECT_NE(validate(c).message().find("--default-max-retries"), std::string::npos);
  c = BrokerConfig{};
  c.tls_cert_pem = "-----BEGIN CERTIFICATE-----";
  EXPECT_NE(validate(c).message().find("--tls-cert and --tls-key"), std::string::npos);
  c.tls_key_pem = "-----BEGIN PRIVATE KEY-----";
  EXPECT_TRUE(validate(c).ok());
  c.tls_client_ca_pem = "-----BEGIN CERTIFICATE-----";
  EXPECT_TRUE(validate(c).ok());
  c.tls_cert_pem.clear();
  c.tls_key_pem.clear();
  EXPECT_NE(validate(c).message().find("--tls-client-ca needs --tls-cert"), std::string::npos);
  c = BrokerConfig{};
  c.curve_worker_keys = {"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"};
  EXPECT_NE(validate(c).message().find("--curve-secret-key-file"), std::string::npos);
}

// --heartbeat-ms=1 was taken and its workers reconnected over and over; --max-queued=0
// was taken and the broker then refused every task.
TEST(ConfigTest, HeartbeatLivenessAndMaxQueuedMustBeUsable) {
  struct Case {
    int64_t heartbeat_ms;
    int liveness;
    uint64_t max_queued;
    std::string error;  // "" = valid
  };
  for (const Case& c : std::vector<Case>{
           {1, 3, 1, "--heartbeat-ms must be in 50..60000, not 1"},
           {49, 3, 1, "--heartbeat-ms must be in 50..60000, not 49"},
           {50, 3, 1, ""},
           {60'000, 3, 1, ""},
           {60'001, 3, 1, "--heartbeat-ms must be in 50..60000, not 60001"},
           {1000, 1, 1, "--liveness must be in 2..100, not 1"},
           {1000, 2, 1, ""},
           {1000, 100, 1, ""},
           {1000, 101, 1, "--liveness must be in 2..100, not 101"},
           {1000, 3, 0, "--max-queued must be at least 1, not 0"},
       }) {
    BrokerConfig config;
    config.scheduler.heartbeat_ms = c.heartbeat_ms;
    config.scheduler.liveness = c.liveness;
    config.scheduler.max_queued = c.max_queued;
    EXPECT_EQ(std::string(validate(config).message()), c.error)
        << c.heartbeat_ms << " " << c.liveness << " " << c.max_queued;
  }
}

// --result-memory-mb=0 was taken, and then every result a client had not collected yet
// went as soon as the next one ended (a stream that broke lost all but the newest).
TEST(ConfigTest, ResultMemoryMustHoldTheLargestResult) {
  BrokerConfig c;
  c.scheduler.max_retained_bytes = 0;
  EXPECT_EQ(std::string(validate(c).message()),
            "--result-memory-mb must be at least 64 (room for one result of "
            "--max-message-bytes), not 0");
  c.scheduler.max_retained_bytes = 63u << 20;
  EXPECT_EQ(validate(c).code(), absl::StatusCode::kInvalidArgument);
  c.scheduler.max_retained_bytes = 64u << 20;
  EXPECT_TRUE(validate(c).ok()) << validate(c);
  c.scheduler.max_message_bytes = 1000;  // at least 1 MiB all the same
  c.scheduler.max_retained_bytes = 0;
  EXPECT_EQ(std::string(validate(c).message()),
            "--result-memory-mb must be at least 1 (room for one result of "
            "--max-message-bytes), not 0");
  c.scheduler.max_retained_bytes = 1u << 20;
  EXPECT_TRUE(validate(c).ok()) << validate(c);
  c.scheduler.max_message_bytes = (64u << 20) + 1;  // rounded up
  c.scheduler.max_retained_bytes = 64u << 20;
  EXPECT_NE(validate(c).message().find("at least 65 "), std::string::npos) << validate(c);
}

// --task-memory-mb below one task of --max-message-bytes would refuse such a task for ever
// once any other is held.
TEST(ConfigTest, TaskMemoryMustHoldTheLargestTask) {
  BrokerConfig c;
  EXPECT_EQ(c.scheduler.max_task_bytes, uint64_t{2048} << 20);  // the flag's default
  c.scheduler.max_task_bytes = 63u << 20;
  EXPECT_EQ(std::string(validate(c).message()),
            "--task-memory-mb must be at least 64 (room for the arguments of one task of "
            "--max-message-bytes), not 63");
  c.scheduler.max_task_bytes = 64u << 20;
  EXPECT_TRUE(validate(c).ok()) << validate(c);
  c.scheduler.max_message_bytes = 1000;
  c.scheduler.max_task_bytes = 1u << 20;
  EXPECT_TRUE(validate(c).ok()) << validate(c);
  c.scheduler.max_task_bytes = 0;
  EXPECT_EQ(validate(c).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shoal::broker
