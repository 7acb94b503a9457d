// The UTF-8 check guarding protobuf string fields, and the escaping that keeps
// the bytes of a non-UTF-8 message readable.
#include "shoal/internal/utf8.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace shoal::internal {
namespace {

TEST(Utf8Test, AcceptsWellFormedText) {
  for (std::string ok : std::initializer_list<std::string>{
           "", "plain ascii", "caf\xc3\xa9", "\xe2\x82\xac 5", "\xf0\x9f\x90\x9f",
           std::string("nul\0inside", 10), "\xf4\x8f\xbf\xbf"}) {
    EXPECT_TRUE(is_utf8(ok)) << ok;
    EXPECT_EQ(utf8_or_escaped(ok), ok);
  }
}

TEST(Utf8Test, RejectsWhatProtobufWouldRefuse) {
  for (std::string bad : std::initializer_list<std::string>{"caf\xe9",           // Latin-1
                                                            "\xc3",              // truncated
                                                            "\xc0\xaf",          // overlong
                                                            "\xed\xa0\x80",      // a surrogate
                                                            "\xf4\x90\x80\x80",  // past U+10FFFF
                                                            "\xff", "\x80 lone continuation"}) {
    EXPECT_FALSE(is_utf8(bad)) << bad;
    EXPECT_TRUE(is_utf8(utf8_or_escaped(bad))) << bad;
  }
}

TEST(Utf8Test, EscapesOnlyTheBadBytes) {
  EXPECT_EQ(utf8_or_escaped("caf\xe9 \xc3\xa9!"), "caf\\xe9 \xc3\xa9!");
  EXPECT_EQ(utf8_or_escaped("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(utf8_or_escaped("ab\xc3"), "ab\\xc3");
}

// Names a client chose go into one-line messages (the broker's rejections, the CLI's
// output): no newline or escape sequence of theirs may reach a terminal or a log.
TEST(Utf8Test, QuotedExcerptIsOneSafeLine) {
  EXPECT_EQ(quoted_excerpt("a\nFAKE: all good\x1b[2J"), "'a\\nFAKE: all good\\x1b[2J'");
  EXPECT_EQ(quoted_excerpt("it's a\\b\t\r\x7f"), "'it\\'s a\\\\b\\t\\r\\x7f'");
  EXPECT_EQ(quoted_excerpt("csi\xc2\x9b caf\xc3\xa9 \xff"), "'csi\\u009b caf\xc3\xa9 \\xff'");
  EXPECT_EQ(quoted_excerpt(std::string(64, 'x')), "'" + std::string(64, 'x') + "'");
  EXPECT_EQ(quoted_excerpt(std::string(1000, 'x')), "'" + std::string(64, 'x') + "\u2026'");
  // Cut between characters: a 2-byte character that would pass the limit is left out.
  EXPECT_EQ(quoted_excerpt("abc\xc3\xa9", 4), "'abc\u2026'");
  EXPECT_EQ(quoted_excerpt(""), "''");
}

}  // namespace
}  // namespace shoal::internal
