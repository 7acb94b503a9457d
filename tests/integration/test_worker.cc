// The worker binary of the integration tests: links the test tasks (test_tasks.cc)
// and runs shoal::worker_main, exactly as a user's worker binary does.
#include "shoal/worker_main.hpp"

int main(int argc, char** argv) { return shoal::worker_main(argc, argv); }
