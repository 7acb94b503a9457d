// The shared MessagePack array-header reader: every header form, what it refuses, and
// the arity check built on it.
#include "shoal/internal/msgpack_array.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "shoal/codec.hpp"
#include "shoal/errors.hpp"
#include "shoal/task.hpp"

namespace shoal::internal {
namespace {

// The count an encoded array of `n` elements reads as, and the offset after its header.
std::pair<std::uint32_t, std::size_t> header_of(std::size_t n) {
  std::string bytes = encode(std::vector<int>(n, 1));
  std::size_t offset = 0;
  std::uint32_t count = 0;
  EXPECT_TRUE(msgpack_read_array_header(bytes, offset, count)) << n;
  return {count, offset};
}

TEST(MsgpackArrayTest, ReadsEveryHeaderForm) {
  EXPECT_EQ(header_of(0), std::make_pair(0u, std::size_t{1}));
  EXPECT_EQ(header_of(15), std::make_pair(15u, std::size_t{1}));        // fixarray
  EXPECT_EQ(header_of(16), std::make_pair(16u, std::size_t{3}));        // array 16
  EXPECT_EQ(header_of(70'000), std::make_pair(70'000u, std::size_t{5}));  // array 32
}

TEST(MsgpackArrayTest, RefusesWhatIsNoWholeHeaderAndTouchesNothing) {
  for (std::string bytes : {std::string(), std::string("\xdc\x01", 2),
                            std::string("\xdd\x00\x00\x01", 4), encode(7), encode(std::string("x")),
                            encode(std::map<int, int>{{1, 2}})}) {
    std::size_t offset = 0;
    std::uint32_t count = 99;
    EXPECT_FALSE(msgpack_read_array_header(bytes, offset, count)) << bytes.size();
    EXPECT_EQ(offset, 0u);
    EXPECT_EQ(count, 99u);
  }
  std::string two = encode(std::make_tuple(1, 2));
  std::size_t past = two.size();
  std::uint32_t count = 0;
  EXPECT_FALSE(msgpack_read_array_header(two, past, count));  // offset at the end
}

TEST(MsgpackArrayTest, ArityCheckCountsTheArray) {
  std::string args = "x" + encode(std::make_tuple(1, 2));  // the array at offset 1
  EXPECT_NO_THROW(check_arity(args, 1, 2));
  EXPECT_THROW(check_arity(args, 1, 3), SerializationError);
  EXPECT_NO_THROW(check_arity(args, 0, 3));  // no array there: left to the decoder
  std::string big = encode(std::vector<int>(16, 0));
  try {
    check_arity(big, 0, 1);
    FAIL() << "no exception";
  } catch (const SerializationError& e) {
    EXPECT_STREQ(e.what(), "the task takes 1 argument, not 16");
  }
}

}  // namespace
}  // namespace shoal::internal
