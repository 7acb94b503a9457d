// Payloads from 0 bytes to 256 MiB each way through the local engine.

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "shoal/pool.hpp"

namespace shoal {
namespace {

Bytes echo(Bytes b) { return b; }
std::size_t size_of(Bytes b) { return b.size(); }
Bytes make_bytes(std::size_t n, int seed) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) {
    b[i] = static_cast<std::byte>((i * 131 + (i >> 12) + static_cast<std::size_t>(seed)) & 0xff);
  }
  return b;
}
Bytes make_in_worker(std::size_t n, int seed) { return make_bytes(n, seed); }

class PayloadTest : public ::testing::TestWithParam<std::size_t> {};

TEST_P(PayloadTest, EchoesBothWays) {
  const std::size_t n = GetParam();
  Pool pool(2);
  Bytes in = make_bytes(n, 7);
  Bytes out = pool.apply(echo, in);
  ASSERT_EQ(out.size(), n);
  EXPECT_TRUE(out == in);
}

INSTANTIATE_TEST_SUITE_P(Sizes, PayloadTest,
                         ::testing::Values(std::size_t{0}, std::size_t{1} << 10,
                                           std::size_t{1} << 20, std::size_t{256} << 20),
                         [](const auto& info) { return std::to_string(info.param) + "_bytes"; });

TEST(PayloadTest, BigOneWayOnly) {
  Pool pool(1);
  EXPECT_EQ(pool.apply(size_of, make_bytes(std::size_t{64} << 20, 1)), std::size_t{64} << 20);
  Bytes made = pool.apply(make_in_worker, std::size_t{64} << 20, 3);
  EXPECT_TRUE(made == make_bytes(std::size_t{64} << 20, 3));
}

TEST(PayloadTest, ManyDistinctMegabytesInOneMap) {
  Pool pool(2);
  std::vector<Bytes> in;
  for (int i = 0; i < 40; ++i) in.push_back(make_bytes(std::size_t{1} << 20, i));
  std::vector<Bytes> out = pool.map(echo, in, 1);
  ASSERT_EQ(out.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) EXPECT_TRUE(out[i] == in[i]) << "item " << i;
}

TEST(PayloadTest, StringsAcrossTheInlineLimit) {
  Pool pool(2);
  for (std::size_t n : {0, 1, 60, 71, 72, 73, 100, 4095, 4096, 70'000}) {
    std::string s(n, 'a');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
    EXPECT_EQ(pool.apply([](std::string v) { return v + "!"; }, s), s + "!") << n;
  }
}

}  // namespace
}  // namespace shoal
