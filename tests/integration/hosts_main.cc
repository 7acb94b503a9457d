// main() of shoal_hosts_tests: makes the hosts (network namespaces) before any thread
// exists, moves this process onto host "client", runs the tests, removes the hosts.

#include <gtest/gtest.h>

#include <iostream>

#include "tests/integration/hosts_test_env.h"

namespace shoal::itest {

std::unique_ptr<Hosts>& test_hosts() {
  static std::unique_ptr<Hosts> hosts;
  return hosts;
}

std::string& test_hosts_missing() {
  static std::string why;
  return why;
}

}  // namespace shoal::itest

int main(int argc, char** argv) {
  using namespace shoal::itest;
  ::testing::InitGoogleTest(&argc, argv);
  if (!::testing::GTEST_FLAG(list_tests)) {
    test_hosts() = Hosts::create(kTestHosts, test_hosts_missing());
    if (test_hosts() && !test_hosts()->enter("client")) {
      test_hosts_missing() = "could not enter host 'client' (setns)";
      test_hosts().reset();
    }
    if (!test_hosts()) std::cerr << "no hosts: " << test_hosts_missing() << "\n";
  }
  int rc = RUN_ALL_TESTS();
  test_hosts().reset();
  return rc;
}
