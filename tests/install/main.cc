// A program built against an installed Shoal (find_package(shoal CONFIG)): a local
// pool, the remote client, and worker_main all link and work.
#include <cstdio>
#include <string>
#include <vector>

#include <shoal/shoal.hpp>
#include <shoal/worker_main.hpp>

int cube(int x) { return x * x * x; }
SHOAL_TASK(cube);

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]).rfind("--broker", 0) == 0) {
    return shoal::worker_main(argc, argv);  // this binary is also a worker
  }
  shoal::Pool pool(2);
  std::vector<int> cubes = pool.map(cube, std::vector<int>{1, 2, 3});
  if (cubes != std::vector<int>{1, 8, 27}) {
    std::fprintf(stderr, "wrong results from the local pool\n");
    return 1;
  }
  shoal::ConnectOptions options;
  options.connect_timeout = std::chrono::milliseconds(200);
  try {
    shoal::Pool::connect("127.0.0.1:1", options);  // nothing listens there
    std::fprintf(stderr, "connect to a closed port did not fail\n");
    return 1;
  } catch (const shoal::ConnectionError&) {
  }
  std::puts("shoal install test: ok");
  return 0;
}
