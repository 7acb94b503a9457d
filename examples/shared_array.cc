// A child writes shm[2] = 1000 into a shared Array of six ints; the parent sees it.
#include <iostream>
#include <shoal/shoal.hpp>

int main() {
  shoal::Array<int> shm(6);  // six zeros in shared memory (Array<int>{6} would be one 6)
  shoal::Process child([&] { shm[2] = 1000; });
  child.start();
  child.join();
  std::cout << "[";
  for (std::size_t i = 0; i < shm.size(); ++i) std::cout << (i ? ", " : "") << shm[i];
  std::cout << "]" << std::endl;
}
