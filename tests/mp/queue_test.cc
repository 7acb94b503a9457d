#include "shoal/queue.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "shoal/process.hpp"
#include "shoal/shared_value.hpp"
#include "shoal/sync.hpp"
#include "tests/mp/child_test_util.h"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using testing::finishes_in_a_child;
using testing::rss_kb;
using testing::wait_for_state;

// The sum of `fields` of /proc/PID/status (see rss_kb), in kB.
long rss_sum_kb(pid_t pid, std::initializer_list<std::string_view> fields) {
  long sum = 0;
  for (std::string_view field : fields) sum += rss_kb(pid, field);
  return sum;
}

// Stops (SIGSTOP) process `pid` once its `fields` memory has grown by 16 MiB (it is
// copying a big item, holding its side's lock) and, stopped, `pending()` still holds (its
// operation has not committed). False if it got through first (or 60 s passed): then it
// was resumed.
template <class Pending>
bool stop_while_copying(pid_t pid, std::initializer_list<std::string_view> fields,
                        Pending pending) {
  const long base = rss_sum_kb(pid, fields);
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  while (rss_sum_kb(pid, fields) < base + (16 << 10)) {
    if (std::chrono::steady_clock::now() >= give_up || testing::process_state(pid) == 'Z') {
      return false;
    }
  }
  ::kill(pid, SIGSTOP);
  if (wait_for_state(pid, 'T') && pending()) return true;
  ::kill(pid, SIGCONT);
  return false;
}

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

// Before: a Queue reserved 4 GiB of address space (half of RAM if less) or threw, so no
// Queue could be made under `ulimit -v` or vm.overcommit_memory=2. Its overflow ring now
// shrinks to what can be reserved.
TEST(QueueTest, WorksWhereLittleAddressSpaceCanBeReserved) {
  EXPECT_TRUE(finishes_in_a_child([] {
    const long vm_kb = rss_kb(::getpid(), "VmSize");
    if (vm_kb <= 0) ::_exit(2);
    const rlim_t limit = (static_cast<rlim_t>(vm_kb) << 10) + (rlim_t{1} << 30);
    const rlimit as{limit, limit};
    if (::setrlimit(RLIMIT_AS, &as) != 0) ::_exit(3);
    Queue<Bytes> q;
    Bytes payload(16u << 20, std::byte{7});
    q.put(payload);  // over 1 MiB: it goes through the overflow ring
    q.put(Bytes{});
    if (q.get() != payload || !q.get().empty()) ::_exit(4);
  }));
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

// Items for the kill tests: "<size>:" then one letter repeated, so that a torn, zeroed
// or misaligned read shows. Sizes over 1 MiB go to the spill ring, and most of their gets
// cross one of its 2 MiB chunks, whose memory goes back to the kernel.
std::string checkable_item(int i, std::mt19937& rng) {
  const std::size_t size = std::uniform_int_distribution<std::size_t>(1100000, 1900000)(rng);
  std::string prefix = std::to_string(size) + ":";
  return prefix + std::string(size - prefix.size(), static_cast<char>('a' + i % 26));
}

bool well_formed(const std::string& item) {
  const std::size_t colon = item.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= item.size()) return false;
  if (item.substr(0, colon) != std::to_string(item.size())) return false;
  const char letter = item[colon + 1];
  if (letter < 'a' || letter > 'z') return false;
  return item.find_first_not_of(letter, colon + 1) == std::string::npos;
}

// Runs `child` in a process that is SIGKILLed after a random 0-2.5 ms: a different moment
// of its put()/get() each round. Fails if the child ended by itself.
template <class F>
void run_and_kill(F child, std::mt19937& rng) {
  Event started;
  Process victim([&] {
    started.set();
    child();
  });
  victim.start();
  ASSERT_TRUE(started.wait(10s));
  std::this_thread::sleep_for(
      std::chrono::microseconds(std::uniform_int_distribution<int>(0, 2500)(rng)));
  victim.kill();
  victim.join();
  ASSERT_EQ(victim.exitcode(), -SIGKILL) << "the child found a malformed item";
}

// Drains `q` without blocking; false unless it yields exactly qsize() whole items.
template <class Q>
bool drains_whole_items(Q& q, int* drained = nullptr) {
  const std::size_t n = q.qsize();
  for (std::size_t i = 0; i < n; ++i) {
    std::string item;
    try {
      item = q.get_nowait();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "item " << i << " of " << n << ": " << e.what();
      return false;
    }
    if (!well_formed(item)) {
      ADD_FAILURE() << "item " << i << " of " << n << " is malformed";
      return false;
    }
    if (drained != nullptr) ++*drained;
  }
  try {
    q.get_nowait();
    ADD_FAILURE() << "an item more than qsize() said";
    return false;
  } catch (const Empty&) {
    return true;
  }
}

TEST(QueueTest, ConsumersKilledMidGetLeaveOnlyWholeItems) {
  // Each round, a consumer getting spilled items is killed at a different moment; the
  // item it was taking may be gone, but what stays is whole and counted right.
  Queue<std::string> q;
  std::mt19937 rng(20240611);
  int next = 0;
  for (int round = 0; round < 100; ++round) {
    while (q.qsize() < 4) q.put(checkable_item(next++, rng));
    run_and_kill(
        [&] {
          for (;;) {
            if (!well_formed(q.get())) ::_exit(3);
          }
        },
        rng);
    if (HasFatalFailure()) return;
    ASSERT_TRUE(drains_whole_items(q)) << "round " << round;
  }
  q.put("fine");  // the queue still round-trips, on both rings
  EXPECT_EQ(q.get(1s), "fine");
  q.put(std::string(3u << 20, 'z'));
  EXPECT_EQ(q.get(1s), std::string(3u << 20, 'z'));
}

// A side's lock honours the call's deadline: with a consumer stopped (SIGSTOP) while it
// copies a big item out, holding the consumers' lock, get_nowait() and get(10ms) report
// Empty instead of waiting for it (they hung), and producers go on.
TEST(QueueTest, AStoppedConsumerDoesNotHangTimedOrNonBlockingGets) {
  Queue<std::string> q;
  const std::string big(std::size_t{256} << 20, 'x');
  for (int attempt = 0; attempt < 10; ++attempt) {
    q.put(big);
    Event ready;
    Process consumer([&] {
      ready.set();
      (void)q.get();
    });
    consumer.start();
    ASSERT_TRUE(ready.wait(30s));
    // Its buffer grows (unless malloc reuses pages inherited from us), and the ring's
    // shared pages it reads are mapped in as it copies.
    if (!stop_while_copying(*consumer.pid(), {"RssAnon", "RssShmem"},
                            [&] { return q.qsize() == 1; })) {
      consumer.join();
      continue;  // it got its item first: again
    }
    EXPECT_TRUE(finishes_in_a_child([&] {
      try {
        (void)q.get_nowait();
        ::_exit(3);
      } catch (const Empty&) {
      }
      try {
        (void)q.get(10ms);
        ::_exit(4);
      } catch (const Empty&) {
      }
      q.put_nowait("small");  // the producers' side is free
    }));
    ::kill(*consumer.pid(), SIGCONT);
    consumer.join();
    EXPECT_EQ(consumer.exitcode(), 0);
    EXPECT_EQ(q.get(30s), "small");
    return;
  }
  FAIL() << "the consumer was never stopped inside its get";
}

// The same on the producers' side: a producer stopped while it copies a big item in.
TEST(QueueTest, AStoppedProducerDoesNotHangTimedOrNonBlockingPuts) {
  Queue<std::string> q;
  const std::string big(std::size_t{256} << 20, 'x');
  for (int attempt = 0; attempt < 10; ++attempt) {
    Event ready;
    Process producer([&] {
      ready.set();
      q.put(big);
    });
    producer.start();
    ASSERT_TRUE(ready.wait(30s));
    // Only the ring's pages: its encoding buffer grows before it takes the lock.
    if (!stop_while_copying(*producer.pid(), {"RssShmem"}, [&] { return q.qsize() == 0; })) {
      producer.join();
      EXPECT_EQ(q.get(30s).size(), big.size());
      continue;  // it put its item first: again
    }
    EXPECT_TRUE(finishes_in_a_child([&] {
      try {
        q.put_nowait("small");
        ::_exit(3);
      } catch (const Full&) {
      }
      try {
        q.put("small", 10ms);
        ::_exit(4);
      } catch (const Full&) {
      }
      try {
        (void)q.get_nowait();  // the consumers' side is free (and nothing is in)
        ::_exit(5);
      } catch (const Empty&) {
      }
    }));
    ::kill(*producer.pid(), SIGCONT);
    producer.join();
    EXPECT_EQ(producer.exitcode(), 0);
    EXPECT_EQ(q.get(30s).size(), big.size());
    EXPECT_EQ(q.qsize(), 0u);
    return;
  }
  FAIL() << "the producer was never stopped inside its put";
}

TEST(JoinableQueueTest, ProducersKilledMidPutLeaveNoPhantomItems) {
  // A producer killed in put() has queued its item whole or not at all: the count, the
  // bound and join() agree with what consumers can get.
  JoinableQueue<std::string> q(4);
  std::mt19937 rng(7);
  for (int round = 0; round < 100; ++round) {
    run_and_kill(
        [&] {
          std::mt19937 sizes(round);
          for (int i = 0;; ++i) q.put(checkable_item(i, sizes));
        },
        rng);
    if (HasFatalFailure()) return;
    int drained = 0;
    ASSERT_TRUE(drains_whole_items(q, &drained)) << "round " << round;
    for (int i = 0; i < drained; ++i) q.task_done();
  }
  for (int i = 0; i < 4; ++i) q.put_nowait("fine");  // the bound still allows 4
  EXPECT_THROW(q.put_nowait("one too many"), Full);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(q.get_nowait(), "fine");
  for (int i = 0; i < 4; ++i) q.task_done();
  Process joiner([&] { q.join(); });
  joiner.start();
  EXPECT_TRUE(joiner.join(30s)) << "join() waits for an item never queued";
  if (joiner.is_alive()) joiner.kill();
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
