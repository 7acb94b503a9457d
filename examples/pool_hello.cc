// A Pool of 4: ten apply_async calls each return "hello i over", and a map of squares.
#include <iostream>
#include <shoal/shoal.hpp>
#include <string>
#include <vector>

std::string hello(int i) { return "hello " + std::to_string(i) + " over"; }
int square(int x) { return x * x; }

int main() {
  shoal::Pool pool(4);
  std::vector<shoal::Future<std::string>> futures;
  for (int i = 0; i < 10; ++i) futures.push_back(pool.apply_async(hello, i));
  for (auto& f : futures) std::cout << f.get() << "\n";

  std::vector<int> squares = pool.map(square, std::vector<int>{1, 2, 3, 4, 5, 6});
  std::cout << "squares:";
  for (int s : squares) std::cout << " " << s;
  std::cout << std::endl;
}
