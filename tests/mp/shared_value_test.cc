#include "shoal/shared_value.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <mutex>
#include <span>
#include <stdexcept>
#include <vector>

#include "shoal/errors.hpp"
#include "shoal/process.hpp"

namespace shoal {
namespace {

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
  struct Big {
    long a[4];
  };
  Value<Big> big(Big{{1, 2, 3, 4}});
  Process p([&] { big.store(Big{{5, 6, 7, 8}}); });
  p.start();
  p.join();
  EXPECT_EQ(big.load().a[3], 8);
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
