// Manager security: an authkey admits only clients that know it and encrypts the link;
// the private endpoint admits only the server's user.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "gtest/gtest.h"
#include "run_command.h"
#include "shared/mp/manager_auth.h"
#include "shoal/manager.hpp"

namespace shoal {
namespace {

constexpr char kKey[] = "3c1f0e9a55d2b7e8a41c6f20d9e3b7a18c5f2e6d0a9b4c3e7f1d2a8b6c0e5f49";

// A TCP relay on 127.0.0.1 that forwards one connection to `port` and keeps a copy of
// every byte that passes, both ways: what an eavesdropper on the wire would see.
class Tap {
 public:
  explicit Tap(int port) : target_port_(port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listener_, 4) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "tap: cannot listen";
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~Tap() {
    (void)seen();
    ::close(listener_);
  }
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  // Stops relaying; returns everything relayed.
  std::string seen() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return seen_;
  }

 private:
  void run() {
    int client = -1, server = -1;
    while (!stop_) {
      if (client < 0) {
        pollfd p{listener_, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<uint16_t>(target_port_));
        if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) break;
        continue;
      }
      pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(p, 2, 20) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[65536];
        ssize_t n = ::read(p[i].fd, buf, sizeof buf);
        if (n <= 0) {
          stop_ = true;
          break;
        }
        seen_.append(buf, static_cast<std::size_t>(n));
        (void)!::write(p[1 - i].fd, buf, static_cast<std::size_t>(n));
      }
    }
    if (client >= 0) ::close(client);
    if (server >= 0) ::close(server);
  }

  int listener_ = -1;
  int port_ = 0;
  int target_port_;
  std::atomic<bool> stop_{false};
  std::string seen_;
  std::thread thread_;
};

int port_of(const std::string& endpoint) {
  return std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
}

// What a client connected through a tap sees of a value stored and read back.
std::string wire_bytes_of_a_round_trip(const ManagerOptions& options) {
  Manager m = Manager::serve("tcp://127.0.0.1:0", options);
  Tap tap(port_of(m.endpoint()));
  {
    Manager through = Manager::connect(tap.endpoint(), options);
    auto d = through.dict<std::string, std::string>("secrets");
    d.set("password", "plain-text-marker-0451");
    EXPECT_EQ(d.get("password"), "plain-text-marker-0451");
  }
  return tap.seen();
}

TEST(ManagerSecurityTest, AnAuthkeyEncryptsTheLink) {
  const std::string open_wire = wire_bytes_of_a_round_trip({});
  // Without an authkey the value is on the wire as is: the tap sees what there is.
  EXPECT_NE(open_wire.find("plain-text-marker-0451"), std::string::npos);

  const std::string secure_wire = wire_bytes_of_a_round_trip({.authkey = kKey});
  EXPECT_GT(secure_wire.size(), 100u);  // the handshake and the requests did pass
  EXPECT_EQ(secure_wire.find("plain-text-marker-0451"), std::string::npos);
  EXPECT_EQ(secure_wire.find("password"), std::string::npos);
  EXPECT_EQ(secure_wire.find("secrets"), std::string::npos);
}

TEST(ManagerSecurityTest, OnlyClientsWithTheAuthkeyGetIn) {
  Manager m = Manager::serve("tcp://127.0.0.1:0", {.authkey = kKey});
  auto counts = m.dict<std::string, int>("counts");  // the owner uses its own key
  counts.set("from-owner", 1);
  const std::string helper = std::string(SHOAL_MANAGER_CONNECT_MAIN) + " " + m.endpoint();

  // Separate executables, so nothing is inherited: no key, a wrong key, the environment
  // variable with a wrong and with the right key, and the key as an option.
  auto none = testing_util::run_command("env -u SHOAL_MANAGER_AUTHKEY " + helper + " 2>&1");
  EXPECT_EQ(none.exit_code, 1) << none.output;
  EXPECT_NE(none.output.find("no answer from the server"), std::string::npos) << none.output;
  EXPECT_NE(none.output.find("ignores clients without it"), std::string::npos) << none.output;
  auto wrong = testing_util::run_command(helper + " wrong-key 2>&1");
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("another authkey"), std::string::npos) << wrong.output;
  auto wrong_env =
      testing_util::run_command("SHOAL_MANAGER_AUTHKEY=wrong-key " + helper + " 2>&1");
  EXPECT_EQ(wrong_env.exit_code, 1) << wrong_env.output;
  EXPECT_FALSE(counts.contains("from-helper"));

  auto by_env = testing_util::run_command("SHOAL_MANAGER_AUTHKEY=" + std::string(kKey) + " " +
                                          helper);
  EXPECT_EQ(by_env.exit_code, 0) << by_env.output;
  EXPECT_EQ(by_env.output, "from-owner=1\n");
  EXPECT_EQ(counts.get("from-helper"), 2);
  counts.erase("from-helper");
  auto by_option = testing_util::run_command(helper + " " + kKey);
  EXPECT_EQ(by_option.exit_code, 0) << by_option.output;
  EXPECT_EQ(counts.get("from-helper"), 2);
}

TEST(ManagerSecurityTest, KeysFollowFromTheAuthkeyAlone) {
  const internal::ManagerKeys a = internal::derive_manager_keys(kKey);
  const internal::ManagerKeys b = internal::derive_manager_keys(kKey);
  const internal::ManagerKeys other = internal::derive_manager_keys("another key");
  EXPECT_EQ(a.server_secret, b.server_secret);
  EXPECT_EQ(a.client_secret, b.client_secret);
  EXPECT_NE(a.server_secret, a.client_secret);
  EXPECT_NE(a.server_secret, other.server_secret);
  EXPECT_NE(a.client_secret, other.client_secret);
  // Each public key is the one libzmq computes from its secret key.
  for (const auto* pair : {&a.server_public, &a.client_public}) {
    const std::string& secret = pair == &a.server_public ? a.server_secret : a.client_secret;
    char secret_z85[41], public_z85[41], expected_z85[41];
    zmq_z85_encode(secret_z85, reinterpret_cast<const uint8_t*>(secret.data()), 32);
    ASSERT_EQ(zmq_curve_public(public_z85, secret_z85), 0);
    zmq_z85_encode(expected_z85, reinterpret_cast<const uint8_t*>(pair->data()), 32);
    EXPECT_STREQ(public_z85, expected_z85);
  }
}

// A raw DEALER that knows the server's public key (a key CURVE never treats as secret):
// true if a ping gets an answer within `wait` (a fresh handshake and a reply: generous
// where an answer is expected, short where none should come).
bool raw_ping_answered(const std::string& endpoint, const std::string& server_public,
                       const std::string& client_public, const std::string& client_secret,
                       std::chrono::milliseconds wait) {
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::curve_serverkey, zmq::buffer(server_public));
  s.set(zmq::sockopt::curve_publickey, zmq::buffer(client_public));
  s.set(zmq::sockopt::curve_secretkey, zmq::buffer(client_secret));
  s.connect(endpoint);
  internal::ManagerRequest ping;
  ping.id = 1;
  ping.op = "ping";
  const std::string payload = encode(ping);
  s.send(zmq::message_t(), zmq::send_flags::sndmore);
  s.send(zmq::buffer(payload), zmq::send_flags::none);
  zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
  return zmq::poll(&item, 1, wait) == 1;
}

TEST(ManagerSecurityTest, TheServerAdmitsOnlyTheClientKeyOfItsAuthkey) {
  Manager m = Manager::serve("tcp://127.0.0.1:0", {.authkey = kKey});
  const internal::ManagerKeys keys = internal::derive_manager_keys(kKey);
  EXPECT_TRUE(raw_ping_answered(m.endpoint(), keys.server_public, keys.client_public,
                                keys.client_secret, std::chrono::seconds(30)));
  char public_z85[41], secret_z85[41];
  ASSERT_EQ(zmq_curve_keypair(public_z85, secret_z85), 0);
  std::string stranger_public(32, '\0'), stranger_secret(32, '\0');
  zmq_z85_decode(reinterpret_cast<uint8_t*>(stranger_public.data()), public_z85);
  zmq_z85_decode(reinterpret_cast<uint8_t*>(stranger_secret.data()), secret_z85);
  EXPECT_FALSE(raw_ping_answered(m.endpoint(), keys.server_public, stranger_public,
                                 stranger_secret, std::chrono::seconds(1)));
}

TEST(ManagerSecurityTest, ForkedChildrenUseTheKeyOfTheirParent) {
  Manager m = Manager::serve("tcp://127.0.0.1:0", {.authkey = kKey});
  auto q = m.queue<int>();
  const pid_t child = ::fork();
  if (child == 0) {
    try {
      q.put(7);  // the proxy carries only the endpoint; the key comes with the fork
      ::_exit(0);
    } catch (...) {
      ::_exit(1);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(q.get(), 7);
}

// A connect() with a wrong key is refused on every thread, and it leaves the key that
// works in place for the process's other proxies.
TEST(ManagerSecurityTest, AWrongKeyIsRefusedEverywhereAndForgotten) {
  Manager m = Manager::serve("tcp://127.0.0.1:0", {.authkey = kKey});
  auto counts = m.dict<std::string, int>("counts");
  counts.set("before", 1);  // this thread now has a connection with the right key
  EXPECT_THROW(Manager::connect(m.endpoint(), {.authkey = "wrong-key"}), ConnectionError);
  std::thread([&] {
    EXPECT_THROW(Manager::connect(m.endpoint(), {.authkey = "wrong-key"}), ConnectionError);
  }).join();
  EXPECT_NO_THROW(counts.set("after", 2));
  std::thread([&] { EXPECT_NO_THROW(counts.set("from-a-new-thread", 3)); }).join();
  EXPECT_EQ(counts.get("from-a-new-thread"), 3);
  EXPECT_NO_THROW(Manager::connect(m.endpoint(), {.authkey = kKey}));
}

TEST(ManagerSecurityTest, ThePrivateEndpointAdmitsOnlyItsUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
  Manager m;
  auto d = m.dict<int, int>();
  d.set(1, 1);
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
      ::_exit(3);
    }
    try {
      Manager::connect(m.endpoint());
      ::_exit(1);  // let in
    } catch (const ConnectionError&) {
      ::_exit(0);
    } catch (...) {
      ::_exit(2);
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: the other user was let in";
  EXPECT_EQ(d.get(1), 1);  // and the server still serves its own user
}

}  // namespace
}  // namespace shoal
