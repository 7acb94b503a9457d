// shoal keygen PATH: a CURVE key pair for the broker's worker link.
#include <cstdio>

#include "client/cli/commands.h"
#include "shared/curve_keys.h"

namespace shoal::cli {

int run_keygen(const std::string& path) {
  auto pair = internal::new_curve_key_pair();
  if (!pair.ok()) return fail(std::string(pair.status().message()));
  if (absl::Status s = internal::write_curve_key_pair(path, *pair); !s.ok()) {
    return fail(std::string(s.message()));
  }
  std::printf("%s\n", pair->public_key.c_str());
  return 0;
}

}  // namespace shoal::cli
