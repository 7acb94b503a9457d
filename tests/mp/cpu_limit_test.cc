// cpu_count()'s limits: cgroup CPU quotas (v1 and v2, read from fake cgroup trees) and the
// affinity mask.
#include "shared/mp/cpu_limit.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "shoal/process.hpp"

namespace shoal::internal {
namespace {

namespace fs = std::filesystem;

class CgroupTree : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "shoal-cgroup-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }
  // Writes `text` to root/relative, making its folders.
  void write(const std::string& relative, const std::string& text) {
    fs::path path = fs::path(root_) / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  std::string root_;
};

TEST_F(CgroupTree, V2QuotaRoundsUp) {
  write("kubepods/pod1/c1/cpu.max", "150000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit("0::/kubepods/pod1/c1\n", root_), 2);
}

TEST_F(CgroupTree, V2SmallestAlongTheAncestors) {
  write("kubepods/pod1/c1/cpu.max", "max 100000\n");
  write("kubepods/pod1/cpu.max", "300000 100000\n");
  write("kubepods/cpu.max", "50000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit("0::/kubepods/pod1/c1\n", root_), 1);
}

TEST_F(CgroupTree, V2HugeQuotaIsClampedNotWrapped) {
  // The kernel takes quotas far beyond INT_MAX CPUs; such a limit is no limit here.
  write("big/cpu.max", "17592186044415 1000\n");
  EXPECT_EQ(cgroup_cpu_limit("0::/big\n", root_), INT_MAX);
  write("huge/cpu.max", "9223372036854775807 1\n");
  EXPECT_EQ(cgroup_cpu_limit("0::/huge\n", root_), INT_MAX);
}

TEST_F(CgroupTree, V2NoQuota) {
  write("user.slice/cpu.max", "max 100000\n");
  EXPECT_EQ(cgroup_cpu_limit("0::/user.slice\n", root_), 0);
  EXPECT_EQ(cgroup_cpu_limit("0::/missing\n", root_), 0);
}

TEST_F(CgroupTree, V2InsideACgroupNamespace) {
  // A container with its own cgroup namespace sees itself as "/" and its files at the root.
  write("cpu.max", "400000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit("0::/\n", root_), 4);
}

TEST_F(CgroupTree, V1CpuController) {
  write("cpu/docker/abc/cpu.cfs_quota_us", "250000\n");
  write("cpu/docker/abc/cpu.cfs_period_us", "100000\n");
  const char* self = "12:pids:/docker/abc\n4:cpu,cpuacct:/docker/abc\n2:cpuset:/docker/abc\n";
  EXPECT_EQ(cgroup_cpu_limit(self, root_), 3);
  EXPECT_EQ(cgroup_cpu_limit("4:cpuacct,cpu:/docker/abc\n", root_), 3);
  EXPECT_EQ(cgroup_cpu_limit("2:cpuset:/docker/abc\n", root_), 0);
}

TEST_F(CgroupTree, V1NoQuotaIsMinusOne) {
  write("cpu/cpu.cfs_quota_us", "-1\n");
  write("cpu/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_limit("4:cpu,cpuacct:/\n", root_), 0);
}

TEST_F(CgroupTree, V1ContainerMountedAtTheRoot) {
  // Docker on cgroup v1 without a cgroup namespace: /proc/self/cgroup names the host's
  // path, but the container's own cgroup is what is mounted at the controller's root.
  write("cpu/cpu.cfs_quota_us", "100000\n");
  write("cpu/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_limit("4:cpu,cpuacct:/docker/0123abcd\n", root_), 1);
}

TEST_F(CgroupTree, MalformedTextAndFilesAreNoQuota) {
  write("a/cpu.max", "lots 100000\n");
  write("b/cpu.max", "100000\n");
  write("c/cpu.max", "100000 0\n");
  write("cpu/d/cpu.cfs_quota_us", "x\n");
  for (const char* text : {"", "\n", "garbage", "0::", "0::relative", "0::/a", "0::/b",
                           "0::/c", "4:cpu:/d", "::::", "4:cpu"}) {
    EXPECT_EQ(cgroup_cpu_limit(text, root_), 0) << text;
  }
}

TEST(CpuCount, FollowsTheAffinityMask) {
  int all = cpu_count();
  EXPECT_GE(all, 1);
  EXPECT_GE(affinity_cpu_count(), 1);
  // Affinity is per thread, and cpu_count() reads the calling thread's.
  int pinned = 0;
  std::thread([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(::sched_getcpu(), &one);
    ASSERT_EQ(::sched_setaffinity(0, sizeof one, &one), 0);
    pinned = cpu_count();
  }).join();
  EXPECT_EQ(pinned, 1);
}

}  // namespace
}  // namespace shoal::internal
