// Must not compile: a task parameter type the codec cannot carry.
#include "shoal/task.hpp"

struct Opaque {
  int handle;
};
int use(Opaque o) { return o.handle; }

int main() { shoal::register_task("use", use); }
