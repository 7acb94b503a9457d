#include "broker/config.h"

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

}  // namespace
}  // namespace shoal::broker
