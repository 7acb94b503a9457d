// Payloads from 0 bytes to 256 MiB each way through the local engine.

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <fstream>
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

// This process's address space in bytes (VmSize), or 0 if it cannot be read.
std::size_t address_space_bytes() {
  std::ifstream in("/proc/self/status");
  std::string word;
  while (in >> word) {
    if (word == "VmSize:") {
      std::size_t kb = 0;
      in >> kb;
      return kb << 10;
    }
  }
  return 0;
}

// Before: a pool reserved an 8 GiB payload slab or failed to start, so no Pool could be
// made under `ulimit -v` or vm.overcommit_memory=2. The slab now shrinks to what can be
// reserved.
TEST(PayloadTest, APoolStartsWhereLittleAddressSpaceCanBeReserved) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::alarm(60);
    const std::size_t vm = address_space_bytes();
    if (vm == 0) ::_exit(2);
    const rlim_t limit = static_cast<rlim_t>(vm) + (rlim_t{2} << 30);
    const rlimit as{limit, limit};
    if (::setrlimit(RLIMIT_AS, &as) != 0) ::_exit(3);
    int code = 4;
    try {
      Pool pool(2);
      Bytes in = make_bytes(std::size_t{4} << 20, 3);  // over the inline limit: in the slab
      code = pool.apply(echo, in) == in ? 0 : 5;
    } catch (...) {
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
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
