// The engine's wait words (shared/engine/futex.h): a worker asleep on its SingleWaiterWord
// is never left there unclaimed while another thread takes the work it was woken for.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "shared/engine/futex.h"

namespace shoal::engine {
namespace {

using namespace std::chrono_literals;

// A waiter goes to sleep over and over while another thread calls wake() in a loop, so
// claims land at every point of the waiter's prepare_wait(). A waiter that sleeps its
// whole timeout with the epoch still at its key although wake() calls have run start to
// end since it prepared was asleep where no notifier could claim it: a lost wake-up (in a
// pool, a worker asleep for ever while tasks wait, and join() hanging on it). (A short
// sleep ending with the epoch at the key is no loss: a claim of the previous wait may
// deliver its FUTEX_WAKE late, to this one.) A stress test: the race it looks for is a
// few instructions wide, so it runs for a while.
TEST(SingleWaiterWordTest, AWaiterAsleepIsWokenByTheNextNotifier) {
  SingleWaiterWord word;
  std::atomic<long> wakes{0};  // wake() calls returned
  std::atomic<bool> stop{false};
  std::atomic<long> lost{0};
  std::atomic<long> sleeps{0};
  std::thread waiter([&] {
    while (!stop.load()) {
      std::uint32_t key = word.prepare_wait();
      long before = wakes.load();
      sleeps.fetch_add(1);
      auto slept_from = std::chrono::steady_clock::now();
      word.commit_wait(key, 500'000'000);  // 500 ms: a lost wake-up must not hang the test
      bool whole_timeout = std::chrono::steady_clock::now() - slept_from >= 450ms;
      // Call before+1 may have begun before the read above; before+2 began after it.
      if (whole_timeout && word.epoch.load() == key && wakes.load() >= before + 2) {
        lost.fetch_add(1);
      }
    }
  });
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (lost.load() == 0 && std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < 1000; ++i) {
      word.wake();
      wakes.fetch_add(1);
    }
  }
  stop.store(true);
  word.wake();
  waiter.join();
  EXPECT_EQ(lost.load(), 0) << "after " << sleeps.load() << " sleeps";
  EXPECT_GT(sleeps.load(), 0);
}

}  // namespace
}  // namespace shoal::engine
