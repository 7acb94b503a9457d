// libshoal_demo_tasks.so: an example task library for the stock shoal-worker
// (`shoal-worker --load=libshoal_demo_tasks.so`), used by scripts/remote_demo.sh.
// It only includes Shoal's headers: the registry it registers into is the one of the
// shoal-worker binary that loads it.
#include <sstream>
#include <string>

#include "shoal/task.hpp"

namespace {

long long square(long long x) { return x * x; }

// Words in a line of text.
int words(std::string text) {
  std::istringstream in(text);
  int n = 0;
  for (std::string w; in >> w;) ++n;
  return n;
}

}  // namespace

SHOAL_TASK_AS(square, "demo.square");
SHOAL_TASK_AS(words, "demo.words");
