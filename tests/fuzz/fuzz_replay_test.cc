// Runs every input kept in tests/fuzz/corpus/<target>/ through its fuzz target: the seeds
// and every input that once broke a target. A crash or failed check ends the test binary,
// which CTest reports as a failure; a target without a corpus fails too.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.h"

namespace shoal::fuzz {
namespace {

std::vector<std::string> target_names() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : targets()) names.push_back(name);
  return names;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class FuzzCorpus : public testing::TestWithParam<std::string> {};

TEST_P(FuzzCorpus, EveryKeptInputPasses) {
  const std::filesystem::path dir =
      std::filesystem::path(SHOAL_FUZZ_CORPUS_DIR) / GetParam();
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir << " is missing";
  int inputs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    SCOPED_TRACE(entry.path().string());
    const std::string bytes = read_file(entry.path());
    targets().at(GetParam())(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    ++inputs;
  }
  EXPECT_GT(inputs, 0) << dir << " holds no input";
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzCorpus, testing::ValuesIn(target_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace shoal::fuzz
