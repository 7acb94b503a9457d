// A child sends [42, None, "hello"] through a Pipe; the parent receives and prints it.
// std::optional<int> plays Python's None.
#include <iostream>
#include <optional>
#include <shoal/shoal.hpp>
#include <string>
#include <tuple>

using Message = std::tuple<int, std::optional<int>, std::string>;

int main() {
  auto [parent_end, child_end] = shoal::Pipe();
  shoal::Process p([child_end]() mutable {
    child_end.send(Message{42, std::nullopt, "hello"});
    child_end.close();
  });
  p.start();
  child_end.close();  // the parent does not use the child's end
  auto [a, b, c] = parent_end.recv<Message>();
  std::cout << "[" << a << ", " << (b ? std::to_string(*b) : "None") << ", '" << c << "']"
            << std::endl;
  p.join();
}
