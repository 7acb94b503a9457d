// Helper for manager_test: a separate executable that connects to a Manager served on
// argv[1] (with authkey argv[2] if given), reads what the owner wrote and writes its own
// entries.
#include <cstdio>
#include <exception>
#include <string>

#include "shoal/manager.hpp"

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) return 2;
  try {
    shoal::ManagerOptions options;
    if (argc == 3) options.authkey = argv[2];
    shoal::Manager m = shoal::Manager::connect(argv[1], options);
    auto counts = m.dict<std::string, int>("counts");
    std::printf("from-owner=%d\n", counts.get("from-owner"));
    counts.set("from-helper", 2);
    m.list<std::string>({}, "log").append("helper was here");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
