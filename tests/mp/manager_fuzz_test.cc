// A Manager server fed garbage on both endpoints keeps serving, and loses nothing: random
// bytes, malformed MessagePack, and well-formed requests with random operations, names,
// kinds, values and waits (ZeroMQ endpoint); random and truncated frames and absurd
// lengths (the private Unix-socket endpoint).
#include <gtest/gtest.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "shared/mp/manager_direct.h"
#include "shoal/manager.hpp"

namespace shoal {
namespace {

class Garbage {
 public:
  explicit Garbage(uint32_t seed) : rng_(seed) {}

  std::string bytes(std::size_t max_size) {
    std::string out(pick(max_size + 1), '\0');
    for (auto& c : out) c = static_cast<char>(rng_());
    return out;
  }

  // A well-formed request with fields drawn from what the server knows and what it
  // does not. Never "shutdown": that one is allowed to stop it.
  internal::ManagerRequest request() {
    static const char* kOps[] = {"ping",       "create",   "d.set",   "d.get",   "d.contains",
                                 "d.erase",    "d.size",   "d.keys",  "d.items", "d.update",
                                 "d.clear",    "l.append", "l.extend", "l.get",  "l.set",
                                 "l.size",     "l.pop",    "l.snapshot", "q.put", "q.get",
                                 "q.size",     "k.acquire", "k.release", "",      "x",
                                 "d",          "k.",       "q.nope"};
    static const char* kKinds[] = {"dict", "list", "queue", "lock", "", "bogus"};
    static const char* kNames[] = {"fuzz-dict", "fuzz-list", "fuzz-queue", "fuzz-lock",
                                   "",          "#1",        "no-such"};
    static const int64_t kNumbers[] = {0, 1, -1, 2, 200, std::numeric_limits<int64_t>::min(),
                                       std::numeric_limits<int64_t>::max(), 1 << 30};
    internal::ManagerRequest r;
    r.id = rng_();
    r.op = kOps[pick(std::size(kOps))];
    r.kind = kKinds[pick(std::size(kKinds))];
    r.name = kNames[pick(std::size(kNames))];
    r.a = pick(2) ? encode(static_cast<int>(pick(4))) : bytes(16);
    r.b = pick(2) ? encode(std::string("v")) : bytes(16);
    for (std::size_t i = pick(5); i > 0; --i) r.values.push_back(pick(2) ? encode(1) : bytes(8));
    r.n = pick(2) ? kNumbers[pick(std::size(kNumbers))] : static_cast<int64_t>(rng_());
    if (r.op == "k.acquire" || r.op == "q.get" || r.op == "q.put") {
      r.n = std::min<int64_t>(r.n, 20);  // parked waits: short ones, or the test idles
    }
    return r;
  }

  // 0 .. n-1.
  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }

 private:
  std::mt19937 rng_;
};

// The dict "kept" (which the garbage never names) still holds its value, and the server
// still creates and serves new objects.
void expect_intact(Manager& m) {
  auto kept = m.dict<std::string, int>("kept");
  EXPECT_EQ(kept.get("answer", -1), 42);
  auto fresh = m.list<int>();
  fresh.append(7);
  EXPECT_EQ(fresh.snapshot(), std::vector<int>{7});
}

TEST(ManagerFuzzTest, TheZeroMqEndpointSurvivesGarbage) {
  Manager m = Manager::serve("tcp://127.0.0.1:0");
  auto kept = m.dict<std::string, int>("kept");
  kept.set("answer", 42);
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndtimeo, 1000);  // a dead server must fail the test, not hang it
  s.connect(m.endpoint());
  Garbage garbage(20261122);
  int replies = 0;
  bool sent = true;  // false once a send timed out: the server is gone
  auto send = [&](zmq::const_buffer frame, zmq::send_flags flags) {
    sent = sent && s.send(frame, flags).has_value();
  };
  for (int i = 0; i < 3000 && sent; ++i) {
    switch (garbage.pick(4)) {
      case 0:  // no empty delimiter frame
        send(zmq::buffer(garbage.bytes(64)), zmq::send_flags::none);
        break;
      case 1:  // delimiter, then random bytes, maybe more frames
        send(zmq::const_buffer(), zmq::send_flags::sndmore);
        if (garbage.pick(2)) send(zmq::buffer(garbage.bytes(64)), zmq::send_flags::sndmore);
        send(zmq::buffer(garbage.bytes(64)), zmq::send_flags::none);
        break;
      default: {  // a well-formed request of random content, sometimes cut short
        std::string body = encode(garbage.request());
        if (garbage.pick(8) == 0) body.resize(garbage.pick(body.size()));
        send(zmq::const_buffer(), zmq::send_flags::sndmore);
        send(zmq::buffer(body), zmq::send_flags::none);
      }
    }
    zmq::message_t reply;
    while (s.recv(reply, zmq::recv_flags::dontwait)) replies += reply.size() > 0;
  }
  // The server takes one connection's messages in order: once this ping is answered,
  // it has been through all of the garbage.
  internal::ManagerRequest ping;
  ping.id = 0xfeed;
  ping.op = "ping";
  const std::string ping_body = encode(ping);
  send(zmq::const_buffer(), zmq::send_flags::sndmore);
  send(zmq::buffer(ping_body), zmq::send_flags::none);
  ASSERT_TRUE(sent) << "the server stopped taking messages";
  bool answered = false;
  for (auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       !answered && std::chrono::steady_clock::now() < give_up;) {
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
    zmq::message_t frame;
    while (s.recv(frame, zmq::recv_flags::dontwait)) {
      if (frame.size() == 0) continue;  // the delimiter
      ++replies;
      try {
        answered = answered || decode<internal::ManagerReply>(frame.to_string_view()).id == 0xfeed;
      } catch (const Error&) {
      }
    }
  }
  EXPECT_TRUE(answered);
  EXPECT_GT(replies, 1000);  // the well-formed half was answered (errors included)
  expect_intact(m);
}

// A connection to the private endpoint, speaking raw bytes.
int connect_direct(const std::string& endpoint) {
  const std::string name = endpoint.substr(std::strlen("unix:@"));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  return fd;
}

// Bytes sent on raw connection `fd` (AF_UNIX) that the server has not read yet.
int unread_by_server(int fd) {
  int n = -1;
  return ::ioctl(fd, SIOCOUTQ, &n) == 0 ? n : -1;
}

// Bytes the server sent on raw connection `fd` that wait for us to read them.
int waiting_for_us(int fd) {
  int n = -1;
  return ::ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
}

// Waits (up to 30 s) until `condition()` holds; false if it never did.
template <class F>
bool eventually(F condition) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(ManagerFuzzTest, ThePrivateEndpointSurvivesGarbage) {
  Manager m;
  auto kept = m.dict<std::string, int>("kept");
  kept.set("answer", 42);
  Garbage garbage(4051);
  for (int round = 0; round < 200; ++round) {
    int fd = connect_direct(m.endpoint());
    std::string out;
    for (int k = 0; k < 5; ++k) {
      std::string payload;
      switch (garbage.pick(3)) {
        case 0:
          payload = garbage.bytes(64);
          break;
        case 1:
          payload = encode(garbage.request());
          break;
        default:
          payload = encode(garbage.request());
          payload.resize(garbage.pick(payload.size()));
      }
      uint32_t n = static_cast<uint32_t>(payload.size());
      if (garbage.pick(10) == 0) n = std::numeric_limits<uint32_t>::max();  // absurd length
      out.append(reinterpret_cast<const char*>(&n), 4);
      out.append(payload);
    }
    if (garbage.pick(4) == 0) out.resize(garbage.pick(out.size()));  // cut mid-frame
    (void)!::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    // Wait until the server is through with it: it closes a connection on garbage, and
    // at our end of input.
    ::shutdown(fd, SHUT_WR);
    char sink[4096];
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, 5000) == 1 && ::read(fd, sink, sizeof sink) > 0) {
    }
    ::close(fd);
  }
  expect_intact(m);
}

// A line of /proc/PID/status in KiB: "VmSize:" (the address space, for memory reserved
// but never touched) or "VmRSS:" (resident memory); -1 if absent.
long status_kib(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(field.size()));
  }
  return -1;
}

// A 4-byte header claiming 4 GiB is a claim, not memory: before, the server reserved the
// claimed size for each such connection at once (16 GiB here), which a host with less
// memory refuses with std::bad_alloc, ending the server.
TEST(ManagerFuzzTest, AClaimedLengthReservesNoMoreThanABoundedBuffer) {
  Manager m;
  auto kept = m.dict<std::string, int>("kept");
  kept.set("answer", 42);
  const long before = status_kib(*m.server_pid(), "VmSize:");
  ASSERT_GT(before, 0);
  std::vector<int> fds;
  for (int i = 0; i < 4; ++i) {
    fds.push_back(connect_direct(m.endpoint()));
    const uint32_t n = std::numeric_limits<uint32_t>::max() - 16;
    std::string out(reinterpret_cast<const char*>(&n), 4);
    out += "partial";
    ASSERT_EQ(::send(fds.back(), out.data(), out.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(out.size()));
  }
  for (int fd : fds) {
    ASSERT_TRUE(eventually([fd] { return unread_by_server(fd) == 0; })) << "never read";
  }
  EXPECT_EQ(kept.get("answer"), 42);  // the server read them, and still serves
  EXPECT_EQ(kept.get("answer"), 42);
  const long grown_kib = status_kib(*m.server_pid(), "VmSize:") - before;
  EXPECT_LT(grown_kib, 1L << 20) << "the server reserved " << grown_kib / 1024 << " MiB";
  for (int fd : fds) ::close(fd);
  expect_intact(m);
}

// The next reply on raw connection `fd` that is not a busy notice (`in` keeps what was read
// past it); one with id 0, after a test failure, when none comes within 30 s.
internal::ManagerReply next_reply(int fd, std::string& in) {
  char chunk[1 << 16];
  for (;;) {
    std::string body;
    if (internal::take_frame(in, body)) {
      auto reply = decode<internal::ManagerReply>(body);
      if (reply.id != 0) return reply;
      continue;  // a busy notice
    }
    pollfd p{fd, POLLIN, 0};
    const ssize_t got = ::poll(&p, 1, 30000) == 1 ? ::read(fd, chunk, sizeof chunk) : -1;
    if (got <= 0) {
      ADD_FAILURE() << "no reply on the raw connection";
      return {};
    }
    in.append(chunk, static_cast<std::size_t>(got));
  }
}

// A client of the private endpoint that asks for big values and stops reading: before,
// the server's one thread blocked writing to it, and every other client waited until it
// gave up; now its replies wait in a queue, it is read no more meanwhile (so the queue
// holds one reply, not one per request it sent), and the others are served.
TEST(ManagerFuzzTest, AClientThatStopsReadingStallsNobody) {
  Manager m;
  auto kept = m.dict<std::string, int>("kept");
  kept.set("answer", 42);
  const std::string value(std::size_t{4} << 20, 'x');  // far more than a socket buffer
  auto big = m.dict<std::string, std::string>("big");
  big.set("v", value);
  const long before = status_kib(*m.server_pid(), "VmRSS:");
  ASSERT_GT(before, 0);
  int fd = connect_direct(m.endpoint());
  std::string out;
  for (int i = 0; i < 200; ++i) {  // 800 MiB of replies, were they all queued
    internal::ManagerRequest r;
    r.id = 1000 + i;
    r.op = "d.get";
    r.kind = "dict";
    r.name = big.name();
    r.a = encode(std::string("v"));
    const std::string payload = encode(r);
    const uint32_t n = static_cast<uint32_t>(payload.size());
    out.append(reinterpret_cast<const char*>(&n), 4);
    out.append(payload);
  }
  ASSERT_EQ(::send(fd, out.data(), out.size(), MSG_NOSIGNAL), static_cast<ssize_t>(out.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the server takes them
  // Asked from another thread, so that a stalled server fails the test instead of hanging it.
  auto answer = std::async(std::launch::async, [&] { return kept.get("answer"); });
  ASSERT_EQ(answer.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(answer.get(), 42);
  EXPECT_EQ(big.size(), 1u);
  const long grown_kib = status_kib(*m.server_pid(), "VmRSS:") - before;
  EXPECT_LT(grown_kib, 64L << 10) << "the server holds " << grown_kib / 1024 << " MiB";
  // Reading again, the client gets its replies, whole and in order.
  std::string in;
  for (uint64_t expected = 1000; expected < 1003; ++expected) {
    internal::ManagerReply reply = next_reply(fd, in);
    ASSERT_EQ(reply.id, expected);
    EXPECT_EQ(decode<std::string>(reply.value), value);
  }
  ::close(fd);
  expect_intact(m);
}

// A client stalled partway through a reply while another sends a big request: the server
// tries for a moment to finish the stalled frame so that it can put the busy notice after
// it, then goes on without; the big request is served, and the stalled client, reading
// again, gets its reply whole.
TEST(ManagerFuzzTest, AClientStalledMidReplyDelaysABigRequestOnlyBriefly) {
  Manager m;
  const std::string value(std::size_t{4} << 20, 'y');
  auto big = m.dict<std::string, std::string>("big");
  big.set("v", value);
  int fd = connect_direct(m.endpoint());
  internal::ManagerRequest r;
  r.id = 7;
  r.op = "d.get";
  r.kind = "dict";
  r.name = big.name();
  r.a = encode(std::string("v"));
  std::string frame;
  internal::append_frame(frame, encode(r));
  ASSERT_EQ(::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(frame.size()));
  // Its reply (4 MiB, more than the socket holds) is partway out.
  ASSERT_TRUE(eventually([fd] { return waiting_for_us(fd) > 0; })) << "no reply began";
  auto set = std::async(std::launch::async, [&] {
    big.set("w", std::string(std::size_t{12} << 20, 'z'));  // a busy notice for everyone
    return big.size();
  });
  ASSERT_EQ(set.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(set.get(), 2u);
  std::string in;
  internal::ManagerReply reply = next_reply(fd, in);  // a busy notice may come after it
  EXPECT_EQ(reply.id, 7u);
  EXPECT_EQ(decode<std::string>(reply.value), value);
  ::close(fd);
  EXPECT_EQ(big.get("v"), value);
}

}  // namespace
}  // namespace shoal
