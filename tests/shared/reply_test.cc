// Reply buffers (shared/reply.cc): big ones are recycled between the engine's
// collector and the futures and maps that consumed them.

#include "shoal/internal/reply.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "shoal/internal/collect_state.h"
#include "shoal/internal/future_state.h"

namespace shoal::internal {
namespace {

constexpr std::size_t kBig = (std::size_t{5} << 20) + 123;

TEST(ReplyBufferTest, TakeReservesAtLeastTheCapacityAndIsEmpty) {
  std::string small = take_reply_buffer(100);
  EXPECT_TRUE(small.empty());
  EXPECT_GE(small.capacity(), 100u);
  std::string big = take_reply_buffer(kBig);
  EXPECT_TRUE(big.empty());
  EXPECT_GE(big.capacity(), kBig);
}

TEST(ReplyBufferTest, ARecycledBigBufferIsReusedWithoutItsContents) {
  std::string first = take_reply_buffer(kBig);
  first.assign(kBig, 'x');
  const char* storage = first.data();
  recycle_reply_buffer(std::move(first));
  std::string again = take_reply_buffer(kBig);
  EXPECT_EQ(again.data(), storage);
  EXPECT_TRUE(again.empty());
}

TEST(ReplyBufferTest, ADestroyedFutureOrMapGivesItsBigReplyBack) {
  take_reply_buffer(kBig);  // the cache keeps buffers once it is used
  std::string reply = take_reply_buffer(kBig + 1);
  reply.assign(kBig + 1, 'f');
  const char* storage = reply.data();
  auto future = std::make_shared<FutureState>(1, true);
  future->complete(0, std::move(reply));
  future.reset();
  std::string from_future = take_reply_buffer(kBig + 1);
  EXPECT_EQ(from_future.data(), storage);

  from_future.assign(kBig + 1, 'm');
  auto map = std::make_shared<MapState>(std::vector<std::size_t>{1}, true);
  map->complete(0, std::move(from_future));
  map.reset();
  EXPECT_EQ(take_reply_buffer(kBig + 1).data(), storage);
}

}  // namespace
}  // namespace shoal::internal
