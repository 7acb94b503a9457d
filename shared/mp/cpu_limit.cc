// cpu_count()'s parts: the affinity mask and the cgroup CPU quota (see cpu_limit.h).
#include "shared/mp/cpu_limit.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <fstream>
#include <sstream>

namespace shoal::internal {
namespace {

// Quota and period in µs of one cgroup folder; false when it sets no quota.
bool read_quota(const std::string& dir, bool v2, int64_t* quota, int64_t* period) {
  if (v2) {
    std::ifstream in(dir + "/cpu.max");
    std::string max;
    if (!(in >> max >> *period) || max == "max") return false;
    std::istringstream q(max);
    return static_cast<bool>(q >> *quota) && q.eof();
  }
  std::ifstream q(dir + "/cpu.cfs_quota_us");
  std::ifstream p(dir + "/cpu.cfs_period_us");
  return (q >> *quota) && (p >> *period) && *quota >= 0;
}

// The smallest quota along `path` and its ancestors under `base`, in CPUs rounded up.
int smallest_limit(const std::string& base, std::string path, bool v2) {
  int limit = 0;
  for (;;) {
    int64_t quota = 0;
    int64_t period = 0;
    if (read_quota(base + path, v2, &quota, &period) && quota > 0 && period > 0) {
      const int64_t cpus = std::min<int64_t>(quota / period + (quota % period != 0), INT_MAX);
      if (limit == 0 || cpus < limit) limit = static_cast<int>(cpus);
    }
    if (path.empty() || path == "/") break;
    size_t slash = path.find_last_of('/');
    path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
  }
  return limit;
}

bool names_cpu_controller(std::string_view controllers) {
  while (!controllers.empty()) {
    size_t comma = controllers.find(',');
    if (controllers.substr(0, comma) == "cpu") return true;
    if (comma == std::string_view::npos) break;
    controllers.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

int cgroup_cpu_limit(std::string_view proc_self_cgroup, const std::string& root) {
  int limit = 0;
  while (!proc_self_cgroup.empty()) {
    size_t end = proc_self_cgroup.find('\n');
    std::string_view line = proc_self_cgroup.substr(0, end);
    proc_self_cgroup.remove_prefix(end == std::string_view::npos ? proc_self_cgroup.size()
                                                                  : end + 1);
    // hierarchy-ID:controllers:path; v2 is "0::path".
    size_t first = line.find(':');
    size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    std::string_view controllers = line.substr(first + 1, second - first - 1);
    std::string path(line.substr(second + 1));
    if (path.empty() || path[0] != '/') continue;
    int found = 0;
    if (line.substr(0, first) == "0" && controllers.empty()) {
      found = smallest_limit(root, path, /*v2=*/true);
    } else if (names_cpu_controller(controllers)) {
      found = smallest_limit(root + "/cpu", path, /*v2=*/false);
    }
    if (found > 0 && (limit == 0 || found < limit)) limit = found;
  }
  return limit;
}

int affinity_cpu_count() {
  for (int cpus = 1024; cpus <= (1 << 20); cpus *= 4) {
    cpu_set_t* set = CPU_ALLOC(cpus);
    if (set == nullptr) return 0;
    size_t size = CPU_ALLOC_SIZE(cpus);
    CPU_ZERO_S(size, set);
    int n = 0;
    const bool read = ::sched_getaffinity(0, size, set) == 0;
    const int error = errno;
    if (read) n = CPU_COUNT_S(size, set);
    CPU_FREE(set);
    if (read) return n;
    if (error != EINVAL) return 0;  // EINVAL: the kernel's mask is larger than ours
  }
  return 0;
}

}  // namespace shoal::internal
