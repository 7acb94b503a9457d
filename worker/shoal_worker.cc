// The stock shoal-worker: serves the tasks of the libraries named by --load=lib.so
// (each registers its tasks with SHOAL_TASK when loaded). Built with exported symbols,
// so the libraries share this binary's task registry.
#include "worker/worker_run.h"

int main(int argc, char** argv) { return shoal::worker::run_worker(argc, argv, true); }
