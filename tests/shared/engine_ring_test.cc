// The engine's shared-memory rings: TokenRing (one producer, many consumers, in
// threads and in processes) and ByteRing (messages, wrap-around, fragments).

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "shared/engine/byte_ring.h"
#include "shared/engine/shared_region.h"
#include "shared/engine/token_ring.h"
#include "shared/engine/worker_loop.h"

namespace shoal::engine {
namespace {

SharedRegion region(std::size_t bytes) {
  auto r = SharedRegion::create(bytes, false);
  EXPECT_TRUE(r.ok()) << r.status();
  return std::move(*r);
}

TEST(TokenRingTest, FifoFullAndEmpty) {
  SharedRegion mem = region(TokenRing::bytes_for(8));
  TokenRing ring(mem.data(), 8);
  std::uint64_t t = 0;
  EXPECT_FALSE(ring.pop(&t));
  for (std::uint64_t i = 1; i <= 8; ++i) EXPECT_TRUE(ring.push(i));
  EXPECT_FALSE(ring.push(9));
  EXPECT_EQ(ring.free_slots(), 0u);
  for (std::uint64_t i = 1; i <= 8; ++i) {
    ASSERT_TRUE(ring.pop(&t));
    EXPECT_EQ(t, i);
  }
  EXPECT_TRUE(ring.empty());
  EXPECT_TRUE(ring.push(10));  // wraps around
  ASSERT_TRUE(ring.pop(&t));
  EXPECT_EQ(t, 10u);
}

// Every token is taken exactly once by competing consumers.
TEST(TokenRingTest, ConsumerThreadsTakeEachTokenOnce) {
  constexpr std::uint64_t kTokens = 200'000;
  SharedRegion mem = region(TokenRing::bytes_for(64));
  TokenRing ring(mem.data(), 64);
  std::vector<std::atomic<int>> seen(kTokens + 1);
  std::atomic<std::uint64_t> taken{0};
  std::vector<std::thread> consumers;
  for (int c = 0; c < 3; ++c) {
    consumers.emplace_back([&] {
      std::uint64_t t;
      while (taken.load() < kTokens) {
        if (ring.pop(&t)) {
          seen[t].fetch_add(1);
          taken.fetch_add(1);
        }
      }
    });
  }
  for (std::uint64_t i = 1; i <= kTokens;) {
    if (ring.push(i)) ++i;
  }
  for (auto& c : consumers) c.join();
  for (std::uint64_t i = 1; i <= kTokens; ++i) ASSERT_EQ(seen[i].load(), 1) << i;
}

// The same across processes: forked consumers sum what they take into shared memory.
TEST(TokenRingTest, ConsumerProcessesTakeEachTokenOnce) {
  constexpr std::uint64_t kTokens = 100'000;
  SharedRegion mem = region(TokenRing::bytes_for(128) + 64);
  TokenRing ring(mem.data() + 64, 128);
  auto* sum = new (mem.data()) std::atomic<std::uint64_t>(0);
  auto* count = new (mem.data() + 8) std::atomic<std::uint64_t>(0);
  std::vector<pid_t> children;
  for (int c = 0; c < 2; ++c) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      std::uint64_t t;
      while (count->load() < kTokens) {
        if (ring.pop(&t)) {
          sum->fetch_add(t);
          count->fetch_add(1);
        }
      }
      _exit(0);
    }
    children.push_back(pid);
  }
  for (std::uint64_t i = 1; i <= kTokens;) {
    if (ring.push(i)) ++i;
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(count->load(), kTokens);
  EXPECT_EQ(sum->load(), kTokens * (kTokens + 1) / 2);
}

TEST(ByteRingTest, MessagesInOrderAcrossTheWrap) {
  constexpr std::size_t kCapacity = 4096;
  SharedRegion mem = region(ByteRing::bytes_for(kCapacity));
  ByteRing ring(mem.data(), kCapacity);
  EXPECT_EQ(ring.peek(), nullptr);
  // 1000-byte messages do not divide the ring: every few writes wrap.
  for (int round = 0; round < 50; ++round) {
    std::string a(1000, static_cast<char>('a' + round % 26));
    std::string b(3, 'z');
    ASSERT_TRUE(ring.try_write(1, a.size(), a.data(), 1000, 0));
    ASSERT_TRUE(ring.try_write(2, b.size(), b.data(), 3, 0));
    const MessageHeader* m = ring.peek();
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->token, 1u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(ByteRing::payload(m)), m->length), a);
    ring.pop(m);
    m = ring.peek();
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->token, 2u);
    EXPECT_EQ(m->length, 3u);
    ring.pop(m);
    EXPECT_TRUE(ring.empty());
  }
}

TEST(ByteRingTest, FullRingRefusesUntilConsumed) {
  constexpr std::size_t kCapacity = 4096;
  SharedRegion mem = region(ByteRing::bytes_for(kCapacity));
  ByteRing ring(mem.data(), kCapacity);
  std::string block(ring.max_fragment(), 'x');
  int written = 0;
  while (
      ring.try_write(7, block.size(), block.data(), static_cast<std::uint32_t>(block.size()), 0)) {
    ++written;
  }
  EXPECT_EQ(written, 3);  // 3 x (1024 + 32) fits in 4096, a fourth does not
  EXPECT_FALSE(ring.fits(static_cast<std::uint32_t>(block.size())));
  ring.pop(ring.peek());
  EXPECT_TRUE(ring.fits(static_cast<std::uint32_t>(block.size())));
}

// A reply far bigger than the ring streams through it in fragments while the
// consumer drains: the producer waits for room, never the consumer.
TEST(ByteRingTest, BigReplyStreamsInFragments) {
  constexpr std::size_t kCapacity = 4096;
  SharedRegion mem = region(ByteRing::bytes_for(kCapacity) + 64);
  ByteRing ring(mem.data() + 64, kCapacity);
  auto* results = new (mem.data()) WaitWord();
  std::string reply(100'000, '\0');
  for (std::size_t i = 0; i < reply.size(); ++i) reply[i] = static_cast<char>(i * 7 + i / 251);
  std::thread producer([&] { send_reply(ring, *results, 42, reply.data(), reply.size()); });
  std::string got;
  int fragments = 0;
  for (bool last = false; !last;) {
    const MessageHeader* m = ring.peek();
    if (!m) continue;
    EXPECT_EQ(m->token, 42u);
    EXPECT_EQ(m->total, reply.size());
    got.append(reinterpret_cast<const char*>(ByteRing::payload(m)), m->length);
    last = !(m->flags & ByteRing::kMore);
    ++fragments;
    ring.pop(m);
  }
  producer.join();
  EXPECT_EQ(got, reply);
  EXPECT_GT(fragments, 90);  // 1024-byte fragments
}

TEST(ByteRingTest, EmptyReplyIsOneMessage) {
  SharedRegion mem = region(ByteRing::bytes_for(4096) + 64);
  ByteRing ring(mem.data() + 64, 4096);
  auto* results = new (mem.data()) WaitWord();
  send_reply(ring, *results, 5, nullptr, 0);
  const MessageHeader* m = ring.peek();
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->length, 0u);
  EXPECT_EQ(m->flags & ByteRing::kMore, 0u);
  ring.pop(m);
  EXPECT_EQ(ring.peek(), nullptr);
}

}  // namespace
}  // namespace shoal::engine
