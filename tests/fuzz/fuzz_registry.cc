#include "tests/fuzz/fuzz_target.h"

#include <cstdio>
#include <cstdlib>

namespace shoal::fuzz {

std::map<std::string, TargetFn>& targets() {
  static std::map<std::string, TargetFn> all;
  return all;
}

bool register_target(const char* name, TargetFn fn) {
  targets().emplace(name, fn);
  return true;
}

void fail(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz check failed at %s:%d: %s\n", file, line, what);
  std::abort();
}

}  // namespace shoal::fuzz
