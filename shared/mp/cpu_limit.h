#pragma once
// How many CPUs this process may use: online CPUs, its affinity mask, and a CPU quota of
// its cgroup (a container's `--cpus`, a Kubernetes CPU limit), which cpu_count() honours.

#include <string>
#include <string_view>

namespace shoal::internal {

// CPUs a cgroup CPU quota allows (the quota over its period, rounded up; the smallest
// along the cgroup's ancestors), for a process whose /proc/self/cgroup reads
// `proc_self_cgroup`, with the cgroup file systems mounted under `root` (cgroup v2
// directly, v1 as `root`/cpu). 0 when no quota applies or nothing can be read.
int cgroup_cpu_limit(std::string_view proc_self_cgroup, const std::string& root);

// CPUs in this process's affinity mask (0 when it cannot be read).
int affinity_cpu_count();

}  // namespace shoal::internal
