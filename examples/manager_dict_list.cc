// Ten processes write into a Manager dict and append to a Manager list.
// The dict ends with keys 0-9 plus the two the parent set; the list with 0-4 (its
// initial contents) followed by 0-9 in whatever order the processes ran.
#include <iostream>
#include <shoal/shoal.hpp>
#include <string>
#include <vector>

int main() {
  shoal::Manager manager;  // a server process holding the objects
  auto d = manager.dict<std::string, std::string>();
  auto l = manager.list<int>({0, 1, 2, 3, 4});
  d.set("name", "shoal");
  d.set("answer", "42");

  std::vector<shoal::Process> procs;
  for (int i = 0; i < 10; ++i) {
    // Proxies are values: each child gets a copy that talks to the same server.
    procs.emplace_back(
        [d, l](int n) mutable {
          d.set(std::to_string(n), "written by " + shoal::current_process_name());
          l.append(n);
        },
        i);
  }
  for (auto& p : procs) p.start();
  for (auto& p : procs) p.join();

  for (const auto& [key, value] : d.items()) std::cout << key << ": " << value << "\n";
  std::cout << "list:";
  for (int x : l.snapshot()) std::cout << " " << x;
  std::cout << std::endl;
}  // ~Manager stops the server process
