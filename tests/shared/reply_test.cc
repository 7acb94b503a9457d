// Reply buffers (shared/reply.cc): big ones are recycled between the engine's
// collector and the futures and maps that consumed them. And reading replies.

#include "shoal/internal/reply.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "shoal/codec.hpp"
#include "shoal/internal/collect_state.h"
#include "shoal/internal/future_state.h"

namespace shoal::internal {
namespace {

constexpr std::size_t kBig = (std::size_t{5} << 20) + 123;

// A void result's item is nil. Another value (here from a broker that sent values for a
// void task) fails that item alone, and the next item is read after it, not inside it.
TEST(ReplyReaderTest, AValueWhereAVoidResultsNilIsDueFailsThatItemOnly) {
  std::string reply;
  reply.push_back(kReplyOk);
  encode_to(reply, std::vector<int>{0, 1});  // inside: 00 01, an ok item holding 1
  reply.push_back(kReplyOk);
  reply.push_back('\xc0');
  ReplyReader reader(reply);
  auto first = reader.next<false, void>();
  ASSERT_EQ(first.index(), 1u);
  EXPECT_EQ(std::get<1>(first).kind, ErrorKind::kSerialization);
  EXPECT_NE(std::get<1>(first).message.find("array of 2 as void"), std::string::npos)
      << std::get<1>(first).message;
  EXPECT_EQ((reader.next<false, void>().index()), 0u);
  auto third = reader.next<false, void>();
  ASSERT_EQ(third.index(), 1u);
  EXPECT_NE(std::get<1>(third).message.find("ended early"), std::string::npos);
}

// The fast path reads only whole items that succeeded (and, in MessagePack, numbers that
// fit); anything else is left, as it was, for next() to report.
TEST(ReplyReaderTest, TheFastPathReadsOnlyWholeSuccessfulItemsOrNumbersThatFit) {
  std::string reply;
  reply_ok<true>(reply, 41);
  reply_failed(reply, ErrorInfo{ErrorKind::kRemote, "std::runtime_error", "no", ""});
  reply_ok<true>(reply, 43);
  reply.push_back(kReplyOk);
  reply.append("\x01\x02", 2);  // half an int
  ReplyReader reader(reply);
  int value = 0;
  ASSERT_TRUE(reader.next_ok<true>(value));
  EXPECT_EQ(value, 41);
  EXPECT_FALSE(reader.next_ok<true>(value));  // a failure: not consumed
  auto failed = reader.next<true, int>();
  ASSERT_EQ(failed.index(), 1u);
  EXPECT_EQ(std::get<1>(failed).message, "no");
  ASSERT_TRUE(reader.next_ok<true>(value));
  EXPECT_EQ(value, 43);
  EXPECT_FALSE(reader.next_ok<true>(value));  // cut off
  auto cut = reader.next<true, int>();
  ASSERT_EQ(cut.index(), 1u);
  EXPECT_NE(std::get<1>(cut).message.find("ended early"), std::string::npos);
  EXPECT_FALSE(reader.next_ok<true>(value));  // broken from there on

  // MessagePack: numbers that fit; anything else is left for next().
  std::string packed;
  reply_ok<false>(packed, 300);
  reply_ok<false>(packed, 70'000);
  reply_ok<false>(packed, std::string("x"));
  ReplyReader numbers(packed);
  std::int16_t small = 0;
  ASSERT_TRUE(numbers.next_ok<false>(small));
  EXPECT_EQ(small, 300);
  EXPECT_FALSE(numbers.next_ok<false>(small));  // 70,000 does not fit
  EXPECT_EQ((numbers.next<false, std::int16_t>().index()), 1u);  // ... and fails its item
  EXPECT_FALSE(numbers.next_ok<false>(value));  // a string
  EXPECT_EQ((numbers.next<false, int>().index()), 1u);
}

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
