// Must not compile: a task result type the codec cannot carry.
#include "shoal/task.hpp"

int* leak(int x) { return new int(x); }

int main() { shoal::register_task("leak", leak); }
