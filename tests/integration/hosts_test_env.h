#pragma once
// The hosts every test of shoal_hosts_tests runs on (made by hosts_main.cc): the test
// process itself is "client" (10.77.0.1); the others run daemons.

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/hosts.h"

namespace shoal::itest {

inline const std::vector<std::string> kTestHosts{"client", "broker", "w1", "w2", "c2"};

// The hosts, or nullptr when this machine cannot make them (then test_hosts_missing()
// says why).
std::unique_ptr<Hosts>& test_hosts();
std::string& test_hosts_missing();

}  // namespace shoal::itest
