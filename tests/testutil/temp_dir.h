#pragma once
// TempDir: a fresh directory under /tmp for one test, removed with everything in it when
// the TempDir goes away.

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace shoal::testutil {

class TempDir {
 public:
  // Creates /tmp/PREFIX-XXXXXX; throws std::runtime_error if it cannot.
  explicit TempDir(const std::string& prefix = "shoal-test") {
    std::string pattern = "/tmp/" + prefix + "-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace shoal::testutil
