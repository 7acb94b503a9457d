// The payload slab's allocator: first fit, coalescing, exhaustion.

#include <gtest/gtest.h>

#include "shared/engine/slab.h"

namespace shoal::engine {
namespace {

TEST(SlabAllocatorTest, AllocatesAlignedDisjointBlocks) {
  SlabAllocator slab(1 << 20);
  auto a = slab.allocate(100);
  auto b = slab.allocate(1);
  auto c = slab.allocate(0);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a % SlabAllocator::kAlign, 0u);
  EXPECT_EQ(*b, *a + 128);  // 100 rounds up to 128
  EXPECT_EQ(*c, *b + 64);
  EXPECT_EQ(slab.in_use(), 256u);
}

TEST(SlabAllocatorTest, ReusesTheLowestFreedBlock) {
  SlabAllocator slab(1 << 20);
  auto a = slab.allocate(4096);
  auto b = slab.allocate(4096);
  ASSERT_TRUE(a && b);
  slab.free(*a, 4096);
  auto c = slab.allocate(1000);
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, *a);  // first fit: warm pages are reused
}

TEST(SlabAllocatorTest, CoalescesNeighboursSoABigBlockFitsAgain) {
  SlabAllocator slab(3 * 4096);
  auto a = slab.allocate(4096);
  auto b = slab.allocate(4096);
  auto c = slab.allocate(4096);
  ASSERT_TRUE(a && b && c);
  EXPECT_FALSE(slab.allocate(1));
  slab.free(*a, 4096);
  slab.free(*c, 4096);
  EXPECT_FALSE(slab.allocate(2 * 4096));  // two free blocks, not adjacent
  slab.free(*b, 4096);
  auto all = slab.allocate(3 * 4096);
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, 0u);
  EXPECT_EQ(slab.in_use(), 3u * 4096);
}

TEST(SlabAllocatorTest, TooBigIsRefused) {
  SlabAllocator slab(4096);
  EXPECT_FALSE(slab.allocate(4097));
  EXPECT_TRUE(slab.allocate(4096));
}

}  // namespace
}  // namespace shoal::engine
