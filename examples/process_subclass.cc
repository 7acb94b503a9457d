// The same greeting from a class that overrides run(), as with a Python subclass of
// multiprocessing.Process.
#include <ctime>
#include <iostream>
#include <shoal/shoal.hpp>
#include <string>
#include <vector>

class Greeter : public shoal::Process {
 public:
  explicit Greeter(std::string greeting) : greeting_(std::move(greeting)) {}

  // Runs in the child after start().
  void run() override {
    std::time_t t = std::time(nullptr);
    char buf[16];
    std::strftime(buf, sizeof buf, "%H:%M:%S", std::localtime(&t));
    std::cout << greeting_ << " from " << name() << " at " << buf << std::endl;
  }

 private:
  std::string greeting_;
};

int main() {
  std::vector<Greeter> greeters;
  for (int i = 0; i < 3; ++i) greeters.emplace_back("hello");
  for (auto& g : greeters) g.start();
  for (auto& g : greeters) g.join();
  std::cout << "all " << greeters.size() << " joined" << std::endl;
}
