#include "shoal/connection.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>

#include "shoal/process.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;

// The ends are declared, then tied: clang 14 cannot capture a structured binding in a
// lambda.

TEST(PipeTest, DuplexBothWays) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  EXPECT_TRUE(a.readable() && a.writable() && b.readable() && b.writable());
  Process child([&] {
    a.close();
    auto x = b.recv<int>();
    b.send(x * 2);
  });
  child.start();
  b.close();
  a.send(21);
  EXPECT_EQ(a.recv<int>(), 42);
  child.join();
  EXPECT_EQ(child.exitcode(), 0);
}

TEST(PipeTest, OneWayEndsAreReadOnlyAndWriteOnly) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  EXPECT_TRUE(r.readable());
  EXPECT_FALSE(r.writable());
  EXPECT_FALSE(w.readable());
  EXPECT_TRUE(w.writable());
  EXPECT_THROW(r.send(1), std::logic_error);
  EXPECT_THROW(w.recv<int>(), std::logic_error);
  w.send(std::string("one way"));
  EXPECT_EQ(r.recv<std::string>(), "one way");
}

TEST(PipeTest, MessagesNeverMergeAndEmptyMessagesArrive) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send_bytes("");
  a.send_bytes("abc");
  a.send_bytes("");
  a.send_bytes("de");
  EXPECT_EQ(b.recv_bytes(), "");
  EXPECT_EQ(b.recv_bytes(), "abc");
  EXPECT_EQ(b.recv_bytes(), "");
  EXPECT_EQ(b.recv_bytes(), "de");
  EXPECT_FALSE(b.poll());
}

TEST(PipeTest, SixtyFourMebibyteMessages) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  std::string big(64u << 20, '\0');
  for (std::size_t i = 0; i < big.size(); i += 997) big[i] = static_cast<char>(i % 127);
  Process echo([&] {
    a.close();
    std::string m = b.recv_bytes();
    b.send_bytes(m);
  });
  echo.start();
  b.close();
  a.send_bytes(big);
  std::string back = a.recv_bytes();
  EXPECT_TRUE(back == big);
  echo.join();
}

TEST(PipeTest, EofAfterThePeerClosedAndTheDataIsDrained) {
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  Process writer([&] {
    r.close();
    w.send(std::tuple<int, std::optional<int>, std::string>{42, std::nullopt, "hello"});
    w.send(std::string("last"));
  });
  writer.start();
  w.close();
  writer.join();
  EXPECT_TRUE(r.poll(1s));
  auto t = r.recv<std::tuple<int, std::optional<int>, std::string>>();
  EXPECT_EQ(std::get<0>(t), 42);
  EXPECT_FALSE(std::get<1>(t).has_value());
  EXPECT_EQ(std::get<2>(t), "hello");
  EXPECT_EQ(r.recv<std::string>(), "last");
  EXPECT_THROW(r.recv_bytes(), EOFError);
  EXPECT_THROW(r.recv_bytes(), EOFError);
}

TEST(PipeTest, PollWaitsUpToTheTimeout) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  EXPECT_FALSE(b.poll());
  EXPECT_FALSE(b.poll(10ms));
  EXPECT_FALSE(b.poll(-5ms));  // negative: no wait (it waited for ever, as poll(2) does)
  Process p([&] { a.send(5); });
  p.start();
  EXPECT_TRUE(b.poll(10s));
  EXPECT_EQ(b.recv<int>(), 5);
  p.join();
}

TEST(PipeTest, SendToAClosedPeerIsAConnectionError) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  b.close();
  EXPECT_TRUE(b.closed());
  EXPECT_THROW(b.send(1), std::logic_error);
  EXPECT_THROW(b.fileno(), std::logic_error);
  EXPECT_THROW(a.send_bytes(std::string(1 << 20, 'x')), ConnectionError);
}

TEST(PipeTest, ManyMessagesBigAndSmallKeepTheirOrder) {
  // Far more than the shared ring holds, with big messages (which go through the
  // socket) in between: nothing is lost, merged or reordered.
  Connection r, w;
  std::tie(r, w) = Pipe(false);
  constexpr int kMessages = 50000;
  auto message = [](int i) {
    std::size_t size = i % 1000 == 999 ? 300000 : static_cast<std::size_t>(i % 300);
    return std::string(size, static_cast<char>('a' + i % 26));
  };
  Process writer([&] {
    r.close();
    for (int i = 0; i < kMessages; ++i) w.send_bytes(message(i));
  });
  writer.start();
  w.close();
  for (int i = 0; i < kMessages; ++i) ASSERT_EQ(r.recv_bytes(), message(i)) << i;
  EXPECT_THROW(r.recv_bytes(), EOFError);
  writer.join();
  EXPECT_EQ(writer.exitcode(), 0);
}

TEST(PipeTest, SmallSendsToAGonePeerFailOnceTheRingIsFull) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  b.close();
  const std::string kilobyte(1024, 'k');
  int sent = 0;
  EXPECT_THROW(
      for (;;) {
        a.send_bytes(kilobyte);
        ++sent;
        ASSERT_LT(sent, 10000);
      },
      ConnectionError);
}

TEST(PipeTest, WrongTypeIsASerializationError) {
  Connection a, b;
  std::tie(a, b) = Pipe();
  a.send(std::string("text"));
  EXPECT_THROW(b.recv<int>(), SerializationError);
}

}  // namespace
}  // namespace shoal
