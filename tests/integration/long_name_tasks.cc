// libshoal_long_name_tasks.so: a task library for the stock shoal-worker (`--load=`) that
// registers one task whose name is longer than a hello may carry, beside a normal one.
// Headers only: it registers into the loading shoal-worker's registry.
#include <string>

#include "shoal/task.hpp"

namespace {

int triple(int x) { return 3 * x; }

}  // namespace

SHOAL_TASK_AS(triple, std::string(1100, 'n'));
SHOAL_TASK_AS(triple, "long_name.triple");
