// Must not compile: a lambda task that captures.
#include "shoal/task.hpp"

int main() {
  int base = 3;
  shoal::register_task("add_base", [base](int x) { return x + base; });
}
