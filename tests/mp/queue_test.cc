#include "shoal/queue.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "shoal/process.hpp"
#include "shoal/shared_value.hpp"
#include "shoal/sync.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;

TEST(QueueTest, FifoAndNonBlocking) {
  Queue<int> q;
  EXPECT_TRUE(q.empty());
  EXPECT_THROW(q.get_nowait(), Empty);
  EXPECT_THROW(q.get(10ms), Empty);
  for (int i = 0; i < 10; ++i) q.put(i);
  EXPECT_EQ(q.qsize(), 10u);
  EXPECT_FALSE(q.full());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(q.get_nowait(), i);
  EXPECT_TRUE(q.empty());
}

TEST(QueueTest, BoundedQueueIsFull) {
  Queue<std::string> q(2);
  q.put("a");
  q.put_nowait("b");
  EXPECT_TRUE(q.full());
  EXPECT_THROW(q.put_nowait("c"), Full);
  EXPECT_THROW(q.put("c", 10ms), Full);
  EXPECT_EQ(q.get(), "a");
  q.put("c", 10ms);
  EXPECT_EQ(q.get(), "b");
  EXPECT_EQ(q.get(), "c");
}

TEST(QueueTest, BlockedPutResumesWhenAConsumerTakes) {
  Queue<int> q(1);
  q.put(1);
  Process consumer([&] {
    if (q.get() != 1) ::_exit(2);
    if (q.get() != 2) ::_exit(3);
  });
  consumer.start();
  q.put(2);  // blocks until the child takes 1
  consumer.join();
  EXPECT_EQ(consumer.exitcode(), 0);
}

TEST(QueueTest, CloseIsPerProcessAndRejectsPut) {
  Queue<int> q;
  q.put(1);
  Process child([&] { q.put(2); });  // the child's handle was copied before close()
  q.close();
  EXPECT_THROW(q.put(3), std::logic_error);
  EXPECT_THROW(q.get(), std::logic_error);
  child.start();
  child.join();
  EXPECT_EQ(child.exitcode(), 1);  // closed before the fork: the child inherits it
  Queue<int> open;
  Process writer([&] { open.put(5); });
  writer.start();
  writer.join();
  EXPECT_EQ(open.get(), 5);
}

TEST(QueueTest, CodecTypesAndBigItems) {
  using Item = std::tuple<int, std::string, std::vector<double>, std::map<std::string, int>>;
  Queue<Item> q;
  Item item{7, "seven", {1.5, 2.5}, {{"a", 1}}};
  q.put(item);
  EXPECT_EQ(q.get(), item);

  Queue<Bytes> big;
  Bytes payload(64u << 20);
  for (std::size_t i = 0; i < payload.size(); i += 4096) payload[i] = std::byte(i / 4096 % 251);
  Process writer([&] {
    big.put(payload);
    big.put(Bytes{});
  });
  writer.start();
  Bytes got = big.get();
  EXPECT_EQ(got.size(), payload.size());
  EXPECT_TRUE(got == payload);
  EXPECT_TRUE(big.get().empty());
  writer.join();
}

TEST(QueueTest, ManySmallItemsWithoutAConsumerThenDrained) {
  Queue<std::string> q;  // unbounded: puts never block
  const std::string item(64, 'x');
  for (int i = 0; i < 200000; ++i) q.put(item);
  EXPECT_EQ(q.qsize(), 200000u);
  for (int i = 0; i < 200000; ++i) ASSERT_EQ(q.get_nowait().size(), 64u);
  EXPECT_TRUE(q.empty());
}

TEST(QueueTest, FifoAcrossTheMainAndSpillRings) {
  // A burst bigger than the main ring (4 MiB) spills before the consumer starts; then
  // big items (over 1 MiB) spill again while the consumer drains. A single consumer
  // must see every item in order.
  using Item = std::pair<int, std::string>;
  Queue<Item> q;
  Event burst_queued;
  constexpr int kBurst = 80000;  // ~6 MiB of records
  constexpr int kItems = 120000;
  Process producer([&] {
    for (int i = 0; i < kItems; ++i) {
      if (i == kBurst) burst_queued.set();
      std::size_t size = i > kBurst && i % 5000 == 7 ? (2u << 20) : 60;
      q.put(Item{i, std::string(size, static_cast<char>('a' + i % 26))});
    }
  });
  producer.start();
  ASSERT_TRUE(burst_queued.wait(30s));
  EXPECT_GE(q.qsize(), static_cast<std::size_t>(kBurst));
  for (int i = 0; i < kItems; ++i) {
    Item item = q.get(10s);
    ASSERT_EQ(item.first, i);
    ASSERT_EQ(item.second.size(), i > kBurst && i % 5000 == 7 ? (2u << 20) : 60u);
    ASSERT_EQ(item.second[0], static_cast<char>('a' + i % 26));
  }
  producer.join();
  EXPECT_TRUE(q.empty());
}

TEST(QueueTest, FourProducersFourConsumersEachItemExactlyOnce) {
  constexpr int kProducers = 4;
  constexpr int kConsumers = 4;
  constexpr int64_t kPerProducer = 100000;
  Queue<int64_t> q(1000);
  Array<int64_t> counts(kConsumers);
  Array<int64_t> sums(kConsumers);
  Array<int64_t> xors(kConsumers);
  std::vector<Process> procs;
  for (int p = 0; p < kProducers; ++p) {
    procs.emplace_back([&q, p] {
      for (int64_t i = 0; i < kPerProducer; ++i) q.put(p * kPerProducer + i);
    });
  }
  for (int c = 0; c < kConsumers; ++c) {
    procs.emplace_back([&, c] {
      int64_t n = 0, sum = 0, x = 0;
      for (;;) {
        int64_t v = q.get();
        if (v < 0) break;
        ++n;
        sum += v;
        x ^= v * 0x9E3779B97F4A7C15LL;
      }
      counts[c] = n;
      sums[c] = sum;
      xors[c] = x;
    });
  }
  for (auto& p : procs) p.start();
  for (int p = 0; p < kProducers; ++p) procs[p].join();
  for (int c = 0; c < kConsumers; ++c) q.put(-1);
  for (auto& p : procs) p.join();
  for (auto& p : procs) EXPECT_EQ(p.exitcode(), 0);
  int64_t n = 0, sum = 0, x = 0, want_x = 0;
  for (int c = 0; c < kConsumers; ++c) {
    n += counts[c];
    sum += sums[c];
    x ^= xors[c];
  }
  const int64_t total = kProducers * kPerProducer;
  for (int64_t v = 0; v < total; ++v) want_x ^= v * 0x9E3779B97F4A7C15LL;
  EXPECT_EQ(n, total);
  EXPECT_EQ(sum, total * (total - 1) / 2);
  EXPECT_EQ(x, want_x);
}

TEST(QueueTest, ConsumerKilledMidStreamDoesNotWedgeTheQueue) {
  Queue<int> q;
  Event started;
  Process victim([&] {
    started.set();
    for (;;) q.get();
  });
  victim.start();
  started.wait();
  for (int i = 0; i < 1000; ++i) q.put(i);
  victim.kill();
  victim.join();
  q.put(-5);
  bool seen = false;
  while (!q.empty()) seen = q.get(5s) == -5 || seen;
  EXPECT_TRUE(seen);
}

TEST(JoinableQueueTest, JoinWaitsForTaskDone) {
  JoinableQueue<int> q;
  Value<int> done(0);
  Process worker([&] {
    for (int i = 0; i < 50; ++i) {
      q.get();
      ++done.value();
      q.task_done();
    }
  });
  worker.start();
  for (int i = 0; i < 50; ++i) q.put(i);
  q.join();
  EXPECT_EQ(done.load(), 50);
  worker.join();
  EXPECT_THROW(q.task_done(), std::logic_error);
}

TEST(SimpleQueueTest, PutGetEmptyClose) {
  SimpleQueue<std::string> q;
  EXPECT_TRUE(q.empty());
  Process p([&] { q.put("from child"); });
  p.start();
  EXPECT_EQ(q.get(), "from child");
  p.join();
  EXPECT_TRUE(q.empty());
  q.close();
  EXPECT_THROW(q.put("x"), std::logic_error);
}

}  // namespace
}  // namespace shoal
