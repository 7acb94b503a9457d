// The number fast path of the codec (internal::read_number / read_numbers) must decode
// exactly what msgpack's own adaptors decode, and leave everything else to them.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "shoal/codec.hpp"
#include "shoal/errors.hpp"

namespace shoal {
namespace {

// What the general path (msgpack object + convert) makes of `bytes` as T.
template <class T>
T general(const std::string& bytes) {
  auto handle = msgpack::unpack(bytes.data(), bytes.size());
  return from_object<T>(handle.get());
}

template <class T, class V>
void expect_same(V v) {
  std::string bytes = encode(v);
  std::size_t offset = 0;
  T fast{};
  bool took = internal::read_number(bytes, offset, fast);
  bool general_ok = true;
  T slow{};
  try {
    slow = general<T>(bytes);
  } catch (const SerializationError&) {
    general_ok = false;
  }
  if (took) {
    EXPECT_TRUE(general_ok) << "fast path accepted what msgpack refuses: " << v;
    EXPECT_EQ(fast, slow) << v;
    EXPECT_EQ(offset, bytes.size());
  } else {
    EXPECT_EQ(offset, 0u);  // nothing consumed: the general path decides
  }
  // Whatever path decode takes, it agrees with the general one.
  if (general_ok) {
    EXPECT_EQ(decode<T>(bytes), slow) << v;
  } else {
    EXPECT_THROW(decode<T>(bytes), SerializationError) << v;
  }
}

template <class T>
void every_boundary() {
  for (long long v : {0LL, 1LL, 127LL, 128LL, 255LL, 256LL, 65535LL, 65536LL, -1LL, -32LL, -33LL,
                      -128LL, -129LL, -32768LL, -32769LL, 2147483647LL, 2147483648LL,
                      -2147483648LL, -2147483649LL, std::numeric_limits<long long>::max(),
                      std::numeric_limits<long long>::min()}) {
    expect_same<T>(v);
  }
  expect_same<T>(std::numeric_limits<unsigned long long>::max());
  expect_same<T>(4294967295ULL);
  expect_same<T>(1.5);
  expect_same<T>(-2.25f);
}

TEST(CodecNumbersTest, IntegersAndFloatsDecodeAsMsgpackDoes) {
  every_boundary<short>();
  every_boundary<unsigned short>();
  every_boundary<int>();
  every_boundary<unsigned>();
  every_boundary<long long>();
  every_boundary<unsigned long long>();
  every_boundary<float>();
  every_boundary<double>();
}

// Floats stay floats on the wire (msgpack-c alone packs 2.0 as the integer 2): -0.0
// keeps its sign, and a reader in another language gets a float back.
TEST(CodecNumbersTest, FloatsAreEncodedAsFloatsEvenWhenIntegral) {
  EXPECT_EQ(encode(2.0), std::string("\xcb\x40\x00\x00\x00\x00\x00\x00\x00", 9));
  EXPECT_EQ(encode(2.0f), std::string("\xca\x40\x00\x00\x00", 5));
  EXPECT_TRUE(std::signbit(decode<double>(encode(-0.0))));
  EXPECT_TRUE(std::signbit(decode<float>(encode(-0.0f))));
  auto inside = decode<std::vector<double>>(encode(std::vector<double>{-0.0, 3.0, 0.5}));
  EXPECT_TRUE(std::signbit(inside[0]));
  EXPECT_EQ(inside[1], 3.0);
  EXPECT_EQ(inside[2], 0.5);
  EXPECT_EQ(decode<double>(encode(3)), 3.0);  // integers still decode as doubles
}

TEST(CodecNumbersTest, NonNumbersAndTruncatedInputTakeTheGeneralPath) {
  std::size_t offset = 0;
  int out = 0;
  EXPECT_FALSE(internal::read_number(encode(std::string("7")), offset, out));
  EXPECT_FALSE(internal::read_number(encode(true), offset, out));
  EXPECT_FALSE(internal::read_number(std::string("\xcd\x01", 2), offset, out));  // uint16, 1 byte
  EXPECT_FALSE(internal::read_number(std::string(), offset, out));
  EXPECT_EQ(offset, 0u);
  EXPECT_THROW(decode<int>(std::string("\xcd\x01", 2)), SerializationError);
  EXPECT_THROW(decode<int>(encode(std::string("7"))), SerializationError);
}

// A number out of the target's range names its value (the usual cause: a task whose
// result type is wider on the worker than in the caller).
TEST(CodecNumbersTest, AnOutOfRangeNumberIsNamedWithItsValue) {
  auto message = [](const std::string& bytes) {
    try {
      decode<int>(bytes);
    } catch (const SerializationError& e) {
      return std::string(e.what());
    }
    return std::string("decoded");
  };
  EXPECT_EQ(message(encode(2147488281LL)),
            "cannot decode MessagePack positive integer 2147488281 as int");
  EXPECT_EQ(message(encode(-2147483649LL)),
            "cannot decode MessagePack negative integer -2147483649 as int");
}

TEST(CodecNumbersTest, TuplesOfNumbersDecodeWholeOrNotAtAll) {
  auto bytes = encode(std::make_tuple(7, -3LL, 2.5));
  std::tuple<int, long long, double> out;
  std::size_t offset = 0;
  ASSERT_TRUE(internal::read_numbers(bytes, offset, out));
  EXPECT_EQ(out, std::make_tuple(7, -3LL, 2.5));
  EXPECT_EQ(offset, bytes.size());

  // A string inside: nothing consumed, and decode still reports the mismatch.
  auto mixed = encode(std::make_tuple(7, std::string("x")));
  std::tuple<int, int> two;
  offset = 0;
  EXPECT_FALSE(internal::read_numbers(mixed, offset, two));
  EXPECT_EQ(offset, 0u);
  EXPECT_THROW((decode<std::tuple<int, int>>(mixed)), SerializationError);

  // More elements than the tuple: another type, refused as std::pair and std::array
  // refuse it (it used to decode with its tail dropped).
  auto longer = encode(std::make_tuple(1, 2, 3));
  offset = 0;
  EXPECT_THROW((decode_next<std::tuple<int, int>>(longer, offset)), SerializationError);

  // Out of range for the element type: the general path's error.
  EXPECT_THROW((decode<std::tuple<std::uint8_t, int>>(encode(std::make_tuple(300, 1)))),
               SerializationError);
}

}  // namespace
}  // namespace shoal
