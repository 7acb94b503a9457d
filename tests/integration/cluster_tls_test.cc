// TLS between clients and the broker, end to end: a self-signed certificate made with
// openssl, shoal-broker serving it (--tls-cert/--tls-key), and the C++ Pool, the `shoal`
// CLI and a Python client trusting it; plaintext and untrusting clients are refused.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "shoal/shoal.hpp"
#include "tests/integration/cluster.h"
#include "tests/integration/test_tasks.h"

namespace shoal::itest {
namespace {

using namespace std::chrono_literals;

// Writes a self-signed certificate for localhost and 127.0.0.1 to DIR/NAME-cert.pem
// and its key to DIR/NAME-key.pem; returns the certificate's path.
std::string make_certificate(const std::string& dir, const std::string& name) {
  std::string cert = dir + "/" + name + "-cert.pem";
  auto openssl = testutil::ChildProcess::start(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=localhost",
       "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout",
       dir + "/" + name + "-key.pem", "-out", cert});
  if (openssl->wait(60s) != 0) throw std::runtime_error("openssl req failed");
  return cert;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ClusterTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = cluster_.temp_dir();
    cert_ = make_certificate(dir_, "broker");
    cluster_.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0",
                          {"--tls-cert=" + cert_, "--tls-key=" + dir_ + "/broker-key.pem"});
    cluster_.start_worker("w1", 2);
  }

  ConnectOptions trusting(const std::string& cert_path) {
    ConnectOptions options;
    options.tls = true;
    options.root_certs_pem = read_file(cert_path);
    options.connect_timeout = 1s;
    return options;
  }

  Cluster cluster_;
  std::string dir_, cert_;
};

TEST_F(ClusterTlsTest, APoolTrustingTheCertificateRunsTasks) {
  ConnectOptions options = trusting(cert_);
  options.connect_timeout = 10s;
  Pool pool = Pool::connect(cluster_.clients(), options);
  TerminateOnFailure guard(pool);
  EXPECT_EQ(pool.apply(square, 7), 49);
  std::vector<long long> xs(1000);
  for (int i = 0; i < 1000; ++i) xs[i] = i;
  auto ys = pool.map(square, xs);
  ASSERT_EQ(ys.size(), xs.size());
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(ys[i], xs[i] * xs[i]);
}

TEST_F(ClusterTlsTest, PlaintextAndUntrustingClientsGetConnectionError) {
  ConnectOptions plaintext;
  plaintext.connect_timeout = 1s;
  EXPECT_THROW(Pool::connect(cluster_.clients(), plaintext), ConnectionError);
  ConnectOptions untrusting = trusting(make_certificate(dir_, "other"));
  EXPECT_THROW(Pool::connect(cluster_.clients(), untrusting), ConnectionError);
  // Still serving the clients that trust it.
  Pool pool = Pool::connect(cluster_.clients(), trusting(cert_));
  TerminateOnFailure guard(pool);
  EXPECT_EQ(pool.apply(square, 8), 64);
}

TEST_F(ClusterTlsTest, TheCliConnectsWithTlsAndRootCerts) {
  std::string broker = "--broker=" + cluster_.clients();
  auto submit = testutil::ChildProcess::start(
      {cli_bin(), "submit", "test.square", "--args=[7]", broker, "--tls", "--root_certs=" + cert_});
  EXPECT_EQ(submit->read_line(30s).value_or(""), "49");
  EXPECT_EQ(submit->wait(30s), 0);
  auto plaintext = testutil::ChildProcess::start(
      {cli_bin(), "submit", "test.square", "--args=[7]", broker, "--connect_timeout_ms=500"});
  EXPECT_EQ(plaintext->wait(30s), 1);
}

TEST_F(ClusterTlsTest, APythonClientConnectsWithTheCertificate) {
  auto python = testutil::ChildProcess::start({"/usr/bin/python3", SHOAL_PYTHON_CLIENT,
                                               SHOAL_PROTO_DIR, dir_ + "/py", cluster_.clients(),
                                               cert_});
  EXPECT_EQ(python->read_line(120s).value_or(""), "test.square(7) = 49");
  EXPECT_EQ(python->wait(30s), 0);
}

}  // namespace
}  // namespace shoal::itest
