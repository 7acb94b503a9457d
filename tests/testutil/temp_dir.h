#pragma once
// TempDir: a fresh directory in the temporary directory ($TMPDIR, else /tmp) for one
// test, removed with everything in it when the TempDir goes away.

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace shoal::testutil {

class TempDir {
 public:
  // Creates TMP/PREFIX-XXXXXX; throws std::runtime_error if it cannot.
  explicit TempDir(const std::string& prefix = "shoal-test") {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
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
