#include "shoal/codec.hpp"

#include <gmock/gmock.h>
#include <google/protobuf/wrappers.pb.h>
#include <gtest/gtest.h>

namespace shoal {
namespace {

using ::testing::HasSubstr;

struct Point {
  int x = 0;
  double y = 0;
  std::string label;
  bool operator==(const Point&) const = default;
  MSGPACK_DEFINE(x, y, label);
};

template <class T>
void ExpectRoundTrip(const T& value) {
  EXPECT_EQ(decode<T>(encode(value)), value);
}

TEST(CodecTest, RoundTripsScalars) {
  ExpectRoundTrip(true);
  ExpectRoundTrip(42);
  ExpectRoundTrip(-7L);
  ExpectRoundTrip(std::uint64_t{1} << 63);
  ExpectRoundTrip(3.25);
  ExpectRoundTrip(1.5f);
  ExpectRoundTrip('c');
  ExpectRoundTrip(std::string("héllo"));
  ExpectRoundTrip(std::string());
}

TEST(CodecTest, RoundTripsContainers) {
  ExpectRoundTrip(std::vector<int>{1, 2, 3});
  ExpectRoundTrip(std::array<int, 3>{4, 5, 6});
  ExpectRoundTrip(std::map<std::string, int>{{"a", 1}, {"b", 2}});
  ExpectRoundTrip(std::unordered_map<int, std::string>{{1, "x"}, {2, "y"}});
  ExpectRoundTrip(std::set<std::string>{"p", "q"});
  ExpectRoundTrip(std::pair<int, std::string>{1, "one"});
  ExpectRoundTrip(std::tuple<int, double, std::string>{1, 2.5, "three"});
}

TEST(CodecTest, RoundTripsNestedContainers) {
  std::map<std::string, std::vector<std::optional<std::tuple<int, std::string>>>> nested{
      {"k", {std::nullopt, std::make_tuple(1, "a")}}, {"empty", {}}};
  ExpectRoundTrip(nested);
  ExpectRoundTrip(std::vector<std::vector<int>>{{}, {1}, {2, 3}});
}

TEST(CodecTest, RoundTripsOptional) {
  ExpectRoundTrip(std::optional<int>{});
  ExpectRoundTrip(std::optional<int>{5});
}

TEST(CodecTest, BytesAreBinAndKeepZeroBytes) {
  Bytes bytes{std::byte{0}, std::byte{1}, std::byte{0}, std::byte{255}};
  std::string encoded = encode(bytes);
  EXPECT_EQ(static_cast<unsigned char>(encoded[0]), 0xc4);  // bin 8
  ExpectRoundTrip(bytes);
  ExpectRoundTrip(Bytes{});
}

TEST(CodecTest, CharArraysTakeTheBytesOfAShorterStrOrBinOnly) {
  // The value is followed by two 0xff bytes that are not part of it.
  std::string buffer = encode(std::string("ab")) + "\xff\xff";
  std::size_t offset = 0;
  EXPECT_EQ((decode_next<std::array<unsigned char, 4>>(buffer, offset)),
            (std::array<unsigned char, 4>{'a', 'b', 0, 0}));
  EXPECT_EQ(offset, 3u);
  buffer = "\x91" + encode(std::string("xy")) + "\xff\xff";  // nested in an array
  offset = 0;
  EXPECT_EQ((decode_next<std::vector<std::array<char, 3>>>(buffer, offset)),
            (std::vector<std::array<char, 3>>{{'x', 'y', 0}}));
  ExpectRoundTrip(std::array<unsigned char, 3>{1, 0, 255});
  EXPECT_THROW((decode<std::array<char, 1>>(encode(std::string("ab")))), SerializationError);
  EXPECT_THROW((decode<std::array<char, 2>>(encode(7))), SerializationError);
}

TEST(CodecTest, AValueThatEndsEarlyLeavesTheOffsetWhereItWas) {
  const std::string bytes("\x01\xa3\x91\x05", 4);  // 1, then a str of 3 bytes with 2
  std::size_t offset = 1;
  EXPECT_THROW(decode_next<std::vector<int>>(bytes, offset), SerializationError);
  EXPECT_EQ(offset, 1u);
}

TEST(CodecTest, RoundTripsUserStruct) { ExpectRoundTrip(Point{3, 4.5, "p"}); }

TEST(CodecTest, RoundTripsProtobufMessage) {
  google::protobuf::StringValue message;
  message.set_value(std::string("with\0zero", 9));
  auto decoded = decode<google::protobuf::StringValue>(encode(message));
  EXPECT_EQ(decoded.value(), message.value());
}

TEST(CodecTest, WrongTypeNamesBothTypes) {
  try {
    decode<int>(encode(std::string("text")));
    FAIL() << "expected SerializationError";
  } catch (const SerializationError& e) {
    EXPECT_THAT(e.what(), HasSubstr("str"));
    EXPECT_THAT(e.what(), HasSubstr("int"));
  }
  EXPECT_THROW(decode<std::vector<int>>(encode(Point{})), SerializationError);
  EXPECT_THROW(decode<Point>(encode(7)), SerializationError);
}

TEST(CodecTest, MalformedInputIsSerializationError) {
  EXPECT_THROW(decode<int>(std::string("\xc1", 1)), SerializationError);  // never-used byte
  EXPECT_THROW(decode<std::string>(std::string("\xa5" "ab", 3)), SerializationError);  // truncated
  EXPECT_THROW(decode<int>(encode(1) + encode(2)), SerializationError);  // trailing bytes
  EXPECT_THROW(decode<int>(std::string()), SerializationError);
}

// A header may claim far more elements than the input holds: refused before anything is
// allocated for them (under ASan, allocating 100 GB aborts the test).
TEST(CodecTest, ContainerHeadersClaimingMoreThanTheInputAreMalformed) {
  const std::string array32_of_4g("\xdd\xff\xff\xff\xff", 5);
  const std::string map32_of_4g("\xdf\xff\xff\xff\xff", 5);
  const std::string map32_of_1g_then_bytes = std::string("\xdf\x3f\xff\xff\xff", 5) + "\x01\x02";
  try {
    decode<std::vector<int>>(array32_of_4g);
    FAIL() << "expected SerializationError";
  } catch (const SerializationError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("size overflow"));
  }
  EXPECT_THROW((decode<std::map<int, int>>(map32_of_4g)), SerializationError);
  EXPECT_THROW((decode<std::map<int, int>>(map32_of_1g_then_bytes)), SerializationError);
  EXPECT_THROW(decode<std::vector<std::string>>(array32_of_4g), SerializationError);
  // Containers as big as their input still decode: nils one byte each, a map of them.
  std::vector<std::optional<int>> nils(100000);
  EXPECT_EQ(decode<std::vector<std::optional<int>>>(encode(nils)).size(), nils.size());
  std::map<int, int> small_entries;
  for (int i = 0; i < 100; ++i) small_entries[i] = i;
  EXPECT_EQ((decode<std::map<int, int>>(encode(small_entries))), small_entries);
}

TEST(CodecTest, NestingDeeperThanAThousandLevelsIsMalformed) {
  std::string deep(2000, '\x91');  // fixarray of one element, 2,000 times
  deep += '\xc0';
  try {
    decode<std::vector<int>>(deep);
    FAIL() << "expected SerializationError";
  } catch (const SerializationError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("depth"));
  }
  std::string shallow(10, '\x91');
  shallow += '\x01';
  EXPECT_THROW(decode<int>(shallow), SerializationError);  // parsed, then the wrong type
}

TEST(CodecTest, CodableConceptMatchesTheSupportedTypes) {
  static_assert(Codable<int>);
  static_assert(Codable<std::vector<std::map<std::string, Point>>>);
  static_assert(Codable<google::protobuf::StringValue>);
  static_assert(!Codable<int*>);
  static_assert(!Codable<std::vector<void*>>);
  struct NotCodable {};
  static_assert(!Codable<NotCodable>);
  // One nil for both empties: optional<optional<int>>{optional<int>{}} came back empty.
  static_assert(Codable<std::optional<int>>);
  static_assert(!Codable<std::optional<std::optional<int>>>);
  static_assert(!Codable<std::vector<std::optional<std::optional<int>>>>);
}

}  // namespace
}  // namespace shoal

namespace shoal {
namespace {

TEST(CodecTest, TuplesDecodeElementByElementAndCheckTheirLength) {
  Bytes big(1 << 16, std::byte{7});
  auto t = std::make_tuple(Bytes{std::byte{0}, std::byte{1}}, std::string("s"), big);
  EXPECT_EQ(decode<decltype(t)>(encode(t)), t);
  EXPECT_THROW((decode<std::tuple<int, int>>(encode(std::make_tuple(1)))), SerializationError);
  // A longer array is not this tuple with its tail dropped ([1,2,3] became (1,2)).
  EXPECT_THROW((decode<std::tuple<int, int>>(encode(std::make_tuple(1, 2, 3)))),
               SerializationError);
  EXPECT_THROW((decode<std::tuple<Bytes>>(encode(std::make_tuple(5)))), SerializationError);
}

}  // namespace
}  // namespace shoal
