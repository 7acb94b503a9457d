// Must not compile: a member function cannot be a task.
#include "shoal/task.hpp"

struct Calculator {
  int twice(int x) const { return 2 * x; }
};

int main() { shoal::register_task("calc.twice", &Calculator::twice); }
