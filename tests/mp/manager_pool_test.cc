// Manager proxies passed as task arguments to a local Pool.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "shoal/manager.hpp"
#include "shoal/pool.hpp"

namespace shoal {
namespace {

int record_square(DictProxy<int, int> squares, ListProxy<int> order, int x) {
  squares.set(x, x * x);
  order.append(x);
  return x;
}

// Takes the lock and never gives it back: it runs until its time limit kills it.
int hold_forever(LockProxy lock) {
  lock.acquire();
  for (;;) ::pause();
}

bool take_lock(LockProxy lock) { return lock.acquire(std::chrono::seconds(30)); }

std::string take_and_tag(QueueProxy<std::string> q, LockProxy lock) {
  std::lock_guard guard(lock);
  return q.get() + "!";
}

TEST(ManagerPoolTest, ProxiesAsTaskArguments) {
  Manager m;
  auto squares = m.dict<int, int>();
  auto order = m.list<int>();
  Pool pool(2);
  std::vector<Future<int>> futures;
  for (int x = 0; x < 10; ++x)
    futures.push_back(pool.apply_async(record_square, squares, order, x));
  for (int x = 0; x < 10; ++x) EXPECT_EQ(futures[x].get(), x);
  std::map<int, int> want;
  for (int x = 0; x < 10; ++x) want[x] = x * x;
  EXPECT_EQ(squares.items(), want);
  EXPECT_EQ(order.size(), 10u);

  auto q = m.queue<std::string>();
  auto lock = m.lock();
  q.put("a");
  q.put("b");
  auto f1 = pool.apply_async(take_and_tag, q, lock);
  auto f2 = pool.apply_async(take_and_tag, q, lock);
  std::vector<std::string> got{f1.get(), f2.get()};
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"a!", "b!"}));
}

// A task killed at its time limit while holding a Manager lock does not leave it held
// for ever: the server sees its process die, and the next task gets the lock.
TEST(ManagerPoolTest, ALockHeldByAKilledTaskPassesOn) {
  Manager m;
  auto lock = m.lock();
  Pool pool(1);
  TaskOptions limited;
  limited.time_limit = std::chrono::milliseconds(300);
  auto killed = pool.with(limited).apply_async(hold_forever, lock);
  EXPECT_THROW(killed.get(), TaskTimeLimitError);
  EXPECT_TRUE(pool.apply_async(take_lock, lock).get());
}

}  // namespace
}  // namespace shoal
