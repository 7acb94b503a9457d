// Timed waits across the API, through the one header users include: a timeout too long
// to add to the clock ("forever", duration::max()) waits, it does not overflow into an
// expired deadline; a negative one is already expired.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <tuple>

#include "shoal/shoal.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using Forever = std::chrono::duration<double>;

int slow_square(int x) {
  std::this_thread::sleep_for(100ms);
  return x * x;
}

TEST(TimeoutsTest, FuturesWaitForeverOnHugeTimeouts) {
  Pool pool(2);
  EXPECT_EQ(pool.apply_async(slow_square, 3).get(std::chrono::hours::max()), 9);
  EXPECT_EQ(pool.apply_async(slow_square, 4).get(std::chrono::nanoseconds::max()), 16);
  EXPECT_EQ(pool.apply_async(slow_square, 5).get(Forever(1e30)), 25);
  EXPECT_TRUE(pool.apply_async(slow_square, 6).wait_for(std::chrono::seconds::max()));
  EXPECT_EQ(pool.map_async(slow_square, std::vector<int>{1, 2}).get(std::chrono::hours::max()),
            (std::vector<int>{1, 4}));
  auto stream = pool.imap(slow_square, std::vector<int>{7});
  EXPECT_EQ(stream.next(std::chrono::milliseconds::max()), 49);
  EXPECT_THROW(pool.apply_async(slow_square, 8).get(-1s), TimeoutError);
}

TEST(TimeoutsTest, SynchronizationWaitsForeverOnHugeTimeouts) {
  Queue<int> queue;
  Lock lock;
  Event event;
  Process child([queue, event]() mutable {
    std::this_thread::sleep_for(100ms);
    queue.put(1);
    event.set();
  });
  child.start();
  EXPECT_EQ(queue.get(std::chrono::seconds::max()), 1);
  EXPECT_TRUE(event.wait(std::chrono::hours::max()));
  EXPECT_TRUE(child.join(std::chrono::milliseconds::max()));
  EXPECT_TRUE(lock.acquire(std::chrono::nanoseconds::max()));
  EXPECT_FALSE(lock.acquire(-1s));  // held: a negative timeout does not wait
  lock.release();
  Semaphore semaphore(1);
  EXPECT_TRUE(semaphore.acquire(Forever(1e300)));
}

TEST(TimeoutsTest, ConnectionAndManagerWaitForeverOnHugeTimeouts) {
  Connection a, b;  // tied, not bound: clang 14 cannot capture a structured binding
  std::tie(a, b) = Pipe();
  Process writer([a]() mutable {
    std::this_thread::sleep_for(100ms);
    a.send(42);
  });
  writer.start();
  EXPECT_TRUE(b.poll(std::chrono::milliseconds::max()));
  EXPECT_EQ(b.recv<int>(), 42);
  writer.join();

  Manager m;
  auto queue = m.queue<int>();
  auto lock = m.lock();
  queue.put(5, std::chrono::hours::max());
  EXPECT_EQ(queue.get(std::chrono::hours::max()), 5);
  EXPECT_TRUE(lock.acquire(std::chrono::seconds::max()));
}

}  // namespace
}  // namespace shoal
