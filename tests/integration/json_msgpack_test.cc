// The `shoal` CLI's JSON <-> MessagePack converter (client/cli/json_msgpack.h).
#include "client/cli/json_msgpack.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <tuple>

#include "shoal/codec.hpp"

namespace shoal::cli {
namespace {

using ::testing::HasSubstr;

TEST(JsonMsgpackTest, ArgumentsDecodeAsTheTaskTypes) {
  auto mp = json_to_msgpack(R"( [7, -3, 2.5, "h\u00e9\n", true, null, [1,2], {"k": [3]}] )");
  ASSERT_TRUE(mp.ok()) << mp.status();
  auto t = decode<std::tuple<int, long, double, std::string, bool, std::optional<int>,
                             std::vector<int>, std::map<std::string, std::vector<int>>>>(*mp);
  EXPECT_EQ(std::get<0>(t), 7);
  EXPECT_EQ(std::get<1>(t), -3);
  EXPECT_EQ(std::get<2>(t), 2.5);
  EXPECT_EQ(std::get<3>(t), "h\xc3\xa9\n");
  EXPECT_TRUE(std::get<4>(t));
  EXPECT_FALSE(std::get<5>(t).has_value());
  EXPECT_EQ(std::get<6>(t), (std::vector<int>{1, 2}));
  EXPECT_EQ(std::get<7>(t).at("k"), std::vector<int>{3});
}

TEST(JsonMsgpackTest, ResultsPrintAsJson) {
  EXPECT_EQ(*msgpack_to_json(encode(49)), "49");
  EXPECT_EQ(*msgpack_to_json(encode(-2)), "-2");
  EXPECT_EQ(*msgpack_to_json(encode(std::string("a\"b"))), R"("a\"b")");
  EXPECT_EQ(*msgpack_to_json(encode(std::map<int, bool>{{1, true}})), R"({"1":true})");
  EXPECT_EQ(*msgpack_to_json(encode(Bytes{std::byte{'h'}, std::byte{'i'}})), R"("aGk=")");
  EXPECT_EQ(*msgpack_to_json(encode(std::vector<double>{0.5})), "[0.5]");
  EXPECT_EQ(*msgpack_to_json(encode(2.0)), "2.0");  // a float prints as one, shortest
  EXPECT_EQ(*msgpack_to_json(encode(0.1)), "0.1");
  EXPECT_EQ(*msgpack_to_json(encode(0.1f)), "0.1");
  EXPECT_EQ(*msgpack_to_json(encode(-0.0)), "-0.0");
  EXPECT_EQ(*msgpack_to_json(encode(1e300)), "1e+300");
  auto round = json_to_msgpack(R"({"a":[1,{"b":null}],"c":"\ud83d\ude00"})");
  ASSERT_TRUE(round.ok());
  EXPECT_EQ(*msgpack_to_json(*round), "{\"a\":[1,{\"b\":null}],\"c\":\"\xf0\x9f\x98\x80\"}");
}

TEST(JsonMsgpackTest, MalformedInputIsAnError) {
  for (const char* bad : {"", "[1,", "[1 2]", "{\"a\" 1}", "\"x", "tru", "[1]x", "{1:2}",
                          "\"\\q\"", "-", "[01]", "[-01]", "[\"\\ud800\"]", "[\"\\udc00 x\"]",
                          "[1e309]", "[-1e400]", "[123456789012345678901234567890e300]",
                          "[.5]", "[-.5]", "[1.]", "[1.e5]", "[1e]", "[1e+]", "[+1]"}) {
    EXPECT_FALSE(json_to_msgpack(bad).ok()) << bad;
  }
  for (const char* good : {"[0]", "[-0]", "[10]", "[0.5]", "[0e1]", "[\"\\u00e9\"]", "[1e-400]",
                           "[1e308]", "[1E+2]", "[-0.0e-0]", "[12.25e2]"}) {
    EXPECT_TRUE(json_to_msgpack(good).ok()) << good;
  }
  EXPECT_FALSE(json_to_msgpack(std::string(300, '[') + std::string(300, ']')).ok());
  EXPECT_FALSE(msgpack_to_json("\xc1").ok());
  EXPECT_FALSE(msgpack_to_json(encode(1) + encode(2)).ok());
}

// A map key that is a map prints as its JSON text in a string, so keys nested in keys
// double their escapes at every level: 60 levels in 70 bytes would print 2^60 bytes.
TEST(JsonMsgpackTest, KeysNestedInKeysStopAtTheLengthLimit) {
  std::string nested(60, '\x81');  // {{{...: ...}: ...}: ...}
  nested += std::string("\xa1\"") + std::string(60, '\xc0');  // innermost key "\"", values nil
  auto printed = msgpack_to_json(nested);
  ASSERT_FALSE(printed.ok());
  EXPECT_THAT(std::string(printed.status().message()), HasSubstr("map keys that are maps"));
  // A few levels still print, each escaping the one inside it.
  auto shallow = msgpack_to_json(std::string("\x81\x81\xa1\"\xc0\xc0"));
  ASSERT_TRUE(shallow.ok());
  EXPECT_EQ(*shallow, R"({"{\"\\\"\":null}":null})");
}

// Every string prints as valid JSON: control characters escaped (a tab was, \x01 and
// \x1f too), and each byte that is not part of valid UTF-8 as U+FFFD (it went through).
TEST(JsonMsgpackTest, StringsPrintAsValidJsonWhateverTheirBytes) {
  const std::string kReplacement = "\xef\xbf\xbd";  // U+FFFD
  EXPECT_EQ(json_string("a\tb\nc\r\x01\x1f\"\\"), R"("a\tb\nc\r\u0001\u001f\"\\")");
  EXPECT_EQ(json_string("h\xc3\xa9 \xf0\x9f\x98\x80"), "\"h\xc3\xa9 \xf0\x9f\x98\x80\"");
  EXPECT_EQ(json_string("\xff"), "\"" + kReplacement + "\"");
  EXPECT_EQ(json_string("a\xc3"), "\"a" + kReplacement + "\"");           // cut short
  EXPECT_EQ(json_string("\xc0\xaf"), "\"" + kReplacement + kReplacement + "\"");  // overlong
  EXPECT_EQ(json_string("\xed\xa0\x80"),                                  // a surrogate
            "\"" + kReplacement + kReplacement + kReplacement + "\"");
  EXPECT_EQ(*msgpack_to_json(encode(std::string("x\xfe\ty"))),
            "\"x" + kReplacement + "\\ty\"");
  EXPECT_EQ(*msgpack_to_json(encode(std::map<std::string, int>{{"\xff", 1}})),
            "{\"" + kReplacement + "\":1}");
}

}  // namespace
}  // namespace shoal::cli
