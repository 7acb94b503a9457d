#include "shoal/shared_value.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <span>
#include <stdexcept>
#include <thread>
#include <vector>

#include "shoal/errors.hpp"
#include "shoal/process.hpp"
#include "shoal/sync.hpp"
#include "tests/mp/child_test_util.h"

namespace shoal {
namespace {

using namespace std::chrono_literals;
using testing::finishes_in_a_child;

struct Big {
  long a[4];
};

TEST(ValueTest, EightProcessesTenThousandIncrementsUnderTheLock) {
  Value<long> counter(0);
  std::vector<Process> procs;
  for (int i = 0; i < 8; ++i) {
    procs.emplace_back([&] {
      for (int k = 0; k < 10000; ++k) {
        std::lock_guard guard(counter.get_lock());
        counter.value() += 1;
      }
    });
  }
  for (auto& p : procs) p.start();
  for (auto& p : procs) p.join();
  EXPECT_EQ(counter.load(), 80000);
}

TEST(ValueTest, LoadStoreAndCopiesShare) {
  Value<double> v(1.5);
  EXPECT_EQ(v.load(), 1.5);
  Value<double> copy = v;
  copy.store(2.5);
  EXPECT_EQ(v.load(), 2.5);
  Value<Big> big(Big{{1, 2, 3, 4}});
  Process p([&] { big.store(Big{{5, 6, 7, 8}}); });
  p.start();
  p.join();
  EXPECT_EQ(big.load().a[3], 8);
}

// get_lock() is re-entrant, like the RLock Python gives a Value or Array by default:
// load(), store() and to_vector() take it too, and under it they deadlocked.
TEST(ValueTest, LoadAndStoreUnderItsOwnLock) {
  Value<Big> big(Big{{1, 2, 3, 4}});
  Value<int> small(1);
  EXPECT_TRUE(finishes_in_a_child([&] {
    std::lock_guard big_guard(big.get_lock());
    big.store(Big{{5, 6, 7, 8}});
    std::lock_guard small_guard(small.get_lock());
    small.store(2);
    if (big.load().a[3] != 8 || small.load() != 2) ::_exit(3);
  }));
  EXPECT_EQ(big.load().a[0], 5);
  EXPECT_EQ(small.load(), 2);
}

TEST(ArrayTest, ToVectorUnderItsOwnLock) {
  Array<int> a{1, 2, 3};
  EXPECT_TRUE(finishes_in_a_child([&] {
    std::lock_guard guard(a.get_lock());
    if (a.to_vector() != std::vector<int>{1, 2, 3}) ::_exit(3);
  }));
}

// Re-entrant for the thread that holds it, and only that thread may release it.
TEST(ValueTest, TheLockIsReentrantForItsHolderOnly) {
  Value<int> v(0);
  Lock& lock = v.get_lock();
  lock.acquire();
  EXPECT_TRUE(lock.try_acquire());
  EXPECT_TRUE(lock.acquire(1ms));
  lock.release();
  lock.release();
  EXPECT_TRUE(lock.locked());  // one acquire still to release
  std::thread other([&] {
    EXPECT_FALSE(lock.try_acquire());
    EXPECT_THROW(lock.release(), std::logic_error);
  });
  other.join();
  Process child([&] { ::_exit(lock.try_acquire() ? 3 : 0); });
  child.start();
  child.join();
  EXPECT_EQ(child.exitcode(), 0);
  lock.release();
  EXPECT_FALSE(lock.locked());
  EXPECT_THROW(lock.release(), std::logic_error);
}

// A Condition on the lock releases it whole while it waits, however often it is held.
TEST(ValueTest, AConditionOnTheLockReleasesItWholeWhileWaiting) {
  Value<int> v(0);
  EXPECT_TRUE(finishes_in_a_child([&] {
    Condition cond(v.get_lock());
    std::lock_guard outer(v.get_lock());
    std::lock_guard inner(v.get_lock());
    Process notifier([&] {
      std::lock_guard guard(cond);
      v.value() = 1;
      cond.notify();
    });
    notifier.set_daemon(true);  // killed with this child if it hangs
    notifier.start();
    if (!cond.wait_for(20s, [&] { return v.value() == 1; })) ::_exit(3);
    if (!v.get_lock().held_by_this_thread()) ::_exit(4);
  }));
}

// store() waits for the holder of get_lock(), as Python's Value setter does, so that it
// neither breaks into a read-modify-write under the lock nor is lost by one.
TEST(ValueTest, StoreWaitsForTheLockHolder) {
  Value<int> v(0);
  Event storing;
  Event stored;
  v.get_lock().acquire();
  Process writer([&] {
    storing.set();
    v.store(100);
    stored.set();
  });
  writer.start();
  ASSERT_TRUE(storing.wait(30s));
  const int seen = v.value();
  EXPECT_FALSE(stored.wait(200ms)) << "store() went through while the lock was held";
  v.value() = seen + 1;
  v.get_lock().release();
  writer.join();
  EXPECT_EQ(v.load(), 100);
}

TEST(ArrayTest, ConstructionForms) {
  Array<int> zeros(6);
  EXPECT_EQ(zeros.size(), 6u);
  EXPECT_EQ(zeros.to_vector(), std::vector<int>(6, 0));
  Array<int> one{6};
  EXPECT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0], 6);
  std::array<int, 3> src{7, 8, 9};
  Array<int> from_span{std::span<const int>(src)};
  EXPECT_EQ(from_span.to_vector(), (std::vector<int>{7, 8, 9}));
  int sum = 0;
  for (int x : from_span) sum += x;
  EXPECT_EQ(sum, 24);
}

// n * sizeof(T) wrapped around: a tiny region with a huge size() (writes then hit
// unmapped memory), or a crash in the constructor.
TEST(ArrayTest, ASizeBeyondTheAddressSpaceIsALengthError) {
  volatile std::size_t wraps = (std::size_t{1} << 61) + 1;  // not a constant to the optimiser
  EXPECT_THROW(Array<char>(SIZE_MAX), std::length_error);
  EXPECT_THROW(Array<std::int64_t>(static_cast<std::size_t>(wraps)), std::length_error);
  EXPECT_THROW(Array<std::int64_t>(std::size_t{1} << 42), Error);  // fits, cannot be mapped
}

TEST(ArrayTest, ChildWritesParentSees) {
  Array<int> shm(6);
  Process p([&] { shm[2] = 1000; });
  p.start();
  p.join();
  EXPECT_EQ(shm.to_vector(), (std::vector<int>{0, 0, 1000, 0, 0, 0}));
}

}  // namespace
}  // namespace shoal
