// Security of both links, end to end.
// Clients: TLS with a self-signed certificate made by openssl, shoal-broker serving it
// (--tls-cert/--tls-key), and the C++ Pool, the `shoal` CLI and a Python client trusting
// it; plaintext and untrusting clients are refused. Mutual TLS (--tls-client-ca): the
// same three clients with a certificate the CA signed get in; without one, or with one
// another CA signed, they do not.
// Workers: CURVE with keys made by `shoal keygen`; workers without CURVE, with the wrong
// broker key, or (with a key list) with an unlisted key never register and are counted.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <random>
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

// TLS trusting the certificate at `cert_path`, giving up after `connect_timeout` (a hang
// guard for connects that should succeed; short only where a refusal is expected).
ConnectOptions trusting(const std::string& cert_path,
                        std::chrono::milliseconds connect_timeout = 30s) {
  ConnectOptions options;
  options.tls = true;
  options.root_certs_pem = read_file(cert_path);
  options.connect_timeout = connect_timeout;
  return options;
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

  Cluster cluster_;
  std::string dir_, cert_;
};

TEST_F(ClusterTlsTest, APoolTrustingTheCertificateRunsTasks) {
  ConnectOptions options = trusting(cert_);
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
  // The error cannot say which (gRPC does not tell), but points at TLS either way.
  auto connect_error = [&](const ConnectOptions& options) -> std::string {
    try {
      Pool::connect(cluster_.clients(), options);
    } catch (const ConnectionError& e) {
      return e.what();
    }
    return "connected";
  };
  ConnectOptions plaintext;
  plaintext.connect_timeout = 1s;
  EXPECT_NE(connect_error(plaintext).find("needs tls"), std::string::npos);
  ConnectOptions untrusting = trusting(make_certificate(dir_, "other"), 1s);
  EXPECT_NE(connect_error(untrusting).find("root_certs_pem trusts"), std::string::npos);
  // Still serving the clients that trust it.
  Pool pool = Pool::connect(cluster_.clients(), trusting(cert_));
  TerminateOnFailure guard(pool);
  EXPECT_EQ(pool.apply(square, 8), 64);
}

TEST_F(ClusterTlsTest, TheCliConnectsWithTlsAndRootCerts) {
  std::string broker = "--broker=" + cluster_.clients();
  auto submit = testutil::ChildProcess::start(
      {cli_bin(), "submit", "test.square", "--args=[7]", broker, "--tls", "--root-certs=" + cert_});
  EXPECT_EQ(submit->read_line(30s).value_or(""), "49");
  EXPECT_EQ(submit->wait(30s), 0);
  auto plaintext = testutil::ChildProcess::start(
      {cli_bin(), "submit", "test.square", "--args=[7]", broker, "--connect-timeout-ms=500"});
  EXPECT_EQ(plaintext->wait(30s), 1);
}

TEST_F(ClusterTlsTest, APythonClientConnectsWithTheCertificate) {
  auto python = testutil::ChildProcess::start({"/usr/bin/python3", SHOAL_PYTHON_CLIENT,
                                               SHOAL_PROTO_DIR, dir_ + "/py", cluster_.clients(),
                                               cert_});
  EXPECT_EQ(python->read_line(120s).value_or(""), "test.square(7) = 49");
  EXPECT_EQ(python->wait(30s), 0);
}

// Writes a client certificate signed by DIR/CA-cert.pem (made by make_certificate) to
// DIR/NAME-cert.pem and its key to DIR/NAME-key.pem; returns the certificate's path.
std::string make_signed_certificate(const std::string& dir, const std::string& ca,
                                    const std::string& name) {
  const std::string base = dir + "/" + name;
  auto request = testutil::ChildProcess::start(
      {"/usr/bin/openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=" + name, "-keyout",
       base + "-key.pem", "-out", base + ".csr"});
  if (request->wait(60s) != 0) throw std::runtime_error("openssl req -new failed");
  auto sign = testutil::ChildProcess::start(
      {"/usr/bin/openssl", "x509", "-req", "-in", base + ".csr", "-CA", dir + "/" + ca + "-cert.pem",
       "-CAkey", dir + "/" + ca + "-key.pem", "-CAcreateserial", "-days", "2", "-out",
       base + "-cert.pem"});
  if (sign->wait(60s) != 0) throw std::runtime_error("openssl x509 -req failed");
  return base + "-cert.pem";
}

class ClusterMutualTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = cluster_.temp_dir();
    cert_ = make_certificate(dir_, "broker");
    make_certificate(dir_, "ca");
    client_cert_ = make_signed_certificate(dir_, "ca", "client");
    make_certificate(dir_, "other-ca");
    stranger_cert_ = make_signed_certificate(dir_, "other-ca", "stranger");
    cluster_.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0",
                          {"--tls-cert=" + cert_, "--tls-key=" + dir_ + "/broker-key.pem",
                           "--tls-client-ca=" + dir_ + "/ca-cert.pem"});
    cluster_.start_worker("w1", 2);
  }

  // Trusts the broker; presents `name`'s certificate unless `name` is empty.
  ConnectOptions options(const std::string& name) {
    ConnectOptions options = trusting(cert_);
    if (!name.empty()) {
      options.cert_chain_pem = read_file(dir_ + "/" + name + "-cert.pem");
      options.private_key_pem = read_file(dir_ + "/" + name + "-key.pem");
    }
    return options;
  }

  Cluster cluster_;
  std::string dir_, cert_, client_cert_, stranger_cert_;
};

TEST_F(ClusterMutualTlsTest, OnlyPoolsWithACertificateOfTheCaGetIn) {
  Pool pool = Pool::connect(cluster_.clients(), options("client"));
  TerminateOnFailure guard(pool);
  EXPECT_EQ(pool.apply(square, 7), 49);
  auto refused = [&](ConnectOptions o) {
    o.connect_timeout = 1s;
    try {
      Pool::connect(cluster_.clients(), o);
    } catch (const ConnectionError& e) {
      return std::string(e.what()).find("client certificate") != std::string::npos;
    }
    return false;
  };
  EXPECT_TRUE(refused(options("")));
  EXPECT_TRUE(refused(options("stranger")));
  EXPECT_EQ(pool.apply(square, 8), 64);  // still serving the pool that got in
  ConnectOptions half = options("client");
  half.private_key_pem.clear();
  EXPECT_THROW(Pool::connect(cluster_.clients(), half), std::invalid_argument);
}

TEST_F(ClusterMutualTlsTest, TheCliAndPythonPresentTheirCertificate) {
  const std::string broker = "--broker=" + cluster_.clients();
  auto submit = testutil::ChildProcess::start(
      {cli_bin(), "submit", "test.square", "--args=[7]", broker, "--tls", "--root-certs=" + cert_,
       "--cert=" + client_cert_, "--key=" + dir_ + "/client-key.pem"});
  EXPECT_EQ(submit->read_line(30s).value_or(""), "49");
  EXPECT_EQ(submit->wait(30s), 0);
  auto without = testutil::ChildProcess::start({cli_bin(), "submit", "test.square", "--args=[7]",
                                                broker, "--tls", "--root-certs=" + cert_,
                                                "--connect-timeout-ms=500"});
  EXPECT_EQ(without->wait(30s), 1);

  auto python = testutil::ChildProcess::start(
      {"/usr/bin/python3", SHOAL_PYTHON_CLIENT, SHOAL_PROTO_DIR, dir_ + "/py", cluster_.clients(),
       cert_, client_cert_, dir_ + "/client-key.pem"});
  EXPECT_EQ(python->read_line(120s).value_or(""), "test.square(7) = 49");
  EXPECT_EQ(python->wait(30s), 0);
}

TEST(ClusterMutualTlsConfigTest, AClientCaWithoutACertificateIsRefused) {
  Cluster cluster;
  const std::string dir = cluster.temp_dir();
  make_certificate(dir, "ca");
  auto broker = testutil::ChildProcess::start(
      {broker_bin(), "--client-address=127.0.0.1:0", "--worker-address=tcp://127.0.0.1:0",
       "--tls-client-ca=" + dir + "/ca-cert.pem"});
  EXPECT_EQ(broker->wait(30s), 2);
}

// Writes a CURVE key pair with `shoal keygen` to DIR/NAME and DIR/NAME.pub; returns
// the secret key's path.
std::string make_curve_keys(const std::string& dir, const std::string& name) {
  std::string path = dir + "/" + name;
  auto keygen = testutil::ChildProcess::start({cli_bin(), "keygen", path});
  auto printed = keygen->read_line(30s);
  if (keygen->wait(30s) != 0 || !printed || *printed + "\n" != read_file(path + ".pub")) {
    throw std::runtime_error("shoal keygen failed");
  }
  return path;
}

TEST(ClusterCurveTest, OnlyListedWorkersWithTheBrokersKeyRegister) {
  Cluster cluster;
  std::string dir = cluster.temp_dir();
  std::string broker = make_curve_keys(dir, "broker");
  std::string listed = make_curve_keys(dir, "listed");
  std::string unlisted = make_curve_keys(dir, "unlisted");
  {
    std::ofstream keys(dir + "/workers");
    keys << "# workers let in\n" << read_file(listed + ".pub") << "\n";
  }
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0",
                       {"--curve-secret-key-file=" + broker,
                        "--curve-worker-keys-file=" + dir + "/workers"});
  auto worker = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> argv{worker_bin(), "--broker=" + cluster.workers(), "--processes=1",
                                  "--name=" + name, "--log-level=error"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return testutil::ChildProcess::start(argv, {"SHOAL_TEST_WORKER_NAME=" + name});
  };
  // Refused in three ways, each counted: no CURVE, the wrong broker key, a key not listed.
  std::vector<std::vector<std::string>> refused = {
      {},
      {"--broker-public-key=" + listed + ".pub"},
      {"--broker-public-key=" + broker + ".pub", "--curve-secret-key-file=" + unlisted}};
  for (std::size_t i = 0; i < refused.size(); ++i) {
    std::uint64_t before = cluster.stats().refused_workers();
    // Killed (by its destructor) once counted: its next try would come a second later.
    auto stranger = worker("stranger" + std::to_string(i), refused[i]);
    EXPECT_TRUE(cluster.wait_stats(
        [&](const v1::Stats& s) { return s.refused_workers() > before; }))
        << "refusal " << i;
  }
  cluster.start_worker("listed", 1, "default",
                       {"--broker-public-key=" + broker + ".pub", "--curve-secret-key-file=" + listed});
  EXPECT_EQ(cluster.stats().workers(), 1u);

  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  EXPECT_EQ(pool.apply(square, 9), 81);
  EXPECT_EQ(pool.apply(whoami, 0), "listed");
}

TEST(ClusterCurveTest, GarbageOnBothSecuredEndpointsLeavesTheBrokerServing) {
  Cluster cluster;
  std::string dir = cluster.temp_dir();
  std::string cert = make_certificate(dir, "tls");
  std::string broker = make_curve_keys(dir, "broker");
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0",
                       {"--tls-cert=" + cert, "--tls-key=" + dir + "/tls-key.pem",
                        "--curve-secret-key-file=" + broker});
  std::mt19937 rng(11);
  for (int round = 0; round < 20; ++round) {
    std::string junk(1 + rng() % 2048, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    if (round % 2 == 0) junk.replace(0, std::min<std::size_t>(junk.size(), 10), "\xff\0\0\0\0\0\0\0\x01\x7f");
    EXPECT_TRUE(send_raw_tcp(port_of(cluster.workers()), junk));  // half with a ZMTP signature
    EXPECT_TRUE(send_raw_tcp(port_of(cluster.clients()), junk));
  }
  cluster.start_worker("w1", 1, "default", {"--broker-public-key=" + broker + ".pub"});
  ConnectOptions options;
  options.tls = true;
  options.root_certs_pem = read_file(cert);
  Pool pool = Pool::connect(cluster.clients(), options);
  TerminateOnFailure guard(pool);
  EXPECT_EQ(pool.apply(square, 6), 36);
}

TEST(ClusterCurveTest, WithoutAKeyListAnyWorkerWithTheBrokersKeyRegisters) {
  Cluster cluster;
  std::string broker = make_curve_keys(cluster.temp_dir(), "broker");
  cluster.start_broker("127.0.0.1:0", "tcp://127.0.0.1:0", {"--curve-secret-key-file=" + broker});
  // The key itself on the command line, and a fresh key pair of the worker's own.
  std::string key = read_file(broker + ".pub");
  key.pop_back();
  cluster.start_worker("w1", 2, "default", {"--broker-public-key=" + key});
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  std::vector<long long> xs(1000);
  for (int i = 0; i < 1000; ++i) xs[i] = i;
  auto ys = pool.map(square, xs);
  ASSERT_EQ(ys.size(), xs.size());
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(ys[i], xs[i] * xs[i]);
}

}  // namespace
}  // namespace shoal::itest
