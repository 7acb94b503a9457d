#pragma once
// Small helpers the programs' mains share (shoal-broker, shoal, shoal-bench).

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace shoal::internal {

// argv with '-' turned into '_' inside every "--flag" name, values left alone: Abseil's
// flags are C identifiers, the documented spelling uses dashes, and both are accepted.
inline std::vector<std::string> underscore_flag_names(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string& a = args[i];
    if (a.rfind("--", 0) != 0) continue;
    auto end = a.begin() + static_cast<long>(std::min(a.find('='), a.size()));
    std::replace(a.begin() + 2, end, '-', '_');
  }
  return args;
}

// Pointers to `args`' strings, for parsers that take argv (valid while `args` lives).
inline std::vector<char*> argv_of(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return argv;
}

// Appends the whole file `path` to `out`; false (errno set) if it cannot be read.
inline bool read_whole_file(const std::string& path, std::string* out) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return false;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) out->append(buffer, n);
  bool ok = !std::ferror(file);
  std::fclose(file);
  return ok;
}

}  // namespace shoal::internal
