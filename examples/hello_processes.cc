// Three processes say hello, each with its name and the time; the parent joins them.
// Python: Process(target=f, args=(...,)).start() / .join()
#include <chrono>
#include <ctime>
#include <iostream>
#include <shoal/shoal.hpp>
#include <string>
#include <vector>

// The wall-clock time as HH:MM:SS.
std::string now() {
  std::time_t t = std::time(nullptr);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", std::localtime(&t));
  return buf;
}

void greet(const std::string& greeting) {
  // Inside the child, current_process_name() is the Process's name ("Process-N").
  std::cout << greeting << " from " << shoal::current_process_name() << " at " << now()
            << std::endl;
}

int main() {
  std::vector<shoal::Process> procs;
  for (int i = 0; i < 3; ++i) procs.emplace_back(greet, "hello");  // target + arguments
  for (auto& p : procs) p.start();                                 // fork; the child runs greet
  for (auto& p : procs) p.join();                                  // wait and reap
  std::cout << "all " << procs.size() << " joined" << std::endl;
}
