// Three children each put [42, i, "hello"] on a Queue; the parent gets all three.
// A tuple stands in for Python's list of mixed types (any Codable type works).
#include <iostream>
#include <shoal/shoal.hpp>
#include <string>
#include <tuple>
#include <vector>

using Message = std::tuple<int, int, std::string>;

int main() {
  shoal::Queue<Message> q;  // made before the fork, so every child shares it
  std::vector<shoal::Process> procs;
  for (int i = 0; i < 3; ++i) {
    // The queue handle is copied into the child; copies are the same queue.
    procs.emplace_back([q](int n) mutable { q.put({42, n, "hello"}); }, i);
  }
  for (auto& p : procs) p.start();
  for (int i = 0; i < 3; ++i) {
    auto [a, b, c] = q.get();  // blocks until a child has put something
    std::cout << "[" << a << ", " << b << ", '" << c << "']" << std::endl;
  }
  for (auto& p : procs) p.join();
}
