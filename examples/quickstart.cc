// Quickstart: a local pool of worker processes — apply_async, map, and a task that throws.
#include <cmath>
#include <iostream>
#include <stdexcept>

#include <shoal/shoal.hpp>

int square(int x) { return x * x; }
SHOAL_TASK(square);  // registered by name too, so the same code can run on a cluster

double safe_sqrt(double x) {
  if (x < 0) throw std::domain_error("negative input");
  return std::sqrt(x);
}

int main() {
  shoal::Pool pool(2);                                   // two forked worker processes

  shoal::Future<int> f = pool.apply_async(square, 7);    // runs in a worker
  std::cout << "square(7) = " << f.get() << "\n";

  std::vector<int> squares = pool.map(square, std::vector<int>{1, 2, 3, 4, 5, 6});
  std::cout << "map(square, 1..6) =";
  for (int s : squares) std::cout << " " << s;
  std::cout << "\n";

  try {
    pool.apply(safe_sqrt, -1.0);                         // the exception crosses back
  } catch (const shoal::RemoteError& e) {
    std::cout << "safe_sqrt(-1) threw " << e.type_name() << ": " << e.what()
              << " (in " << e.where() << ")\n";
  }
}                                                        // ~Pool: close() + join()
