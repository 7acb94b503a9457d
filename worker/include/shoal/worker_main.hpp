#pragma once
// The worker entry point (API.md §8). A worker binary is any program that registers
// its tasks (SHOAL_TASK / shoal::register_task) and calls worker_main from main:
//
//   int square(int x) { return x * x; }
//   SHOAL_TASK(square);
//   int main(int argc, char** argv) { return shoal::worker_main(argc, argv); }
//
// Flags: --broker=tcp://HOST:PORT (required) --processes=N (default cpu_count)
// --queues=default[,other...] --prefetch=1 --log-level=info --name=NAME
// --drain-timeout-ms=30000 --help. Once registered with the broker it prints exactly
// "shoal-worker ready name=NAME slots=N queues=a,b" on stdout; logs go to stderr.

namespace shoal {

// Serves tasks for the broker until SIGTERM or SIGINT, then stops taking tasks,
// finishes the running ones (up to the drain timeout) and returns 0. Returns 2 for bad
// flags (after printing why), 3 when the broker refuses its --name (a live worker of
// another process holds it; a service manager should not restart it then), 1 for a
// fatal error. Forks its worker processes first,
// before any thread exists, so call it from main before starting threads of your own;
// it installs handlers for SIGTERM and SIGINT. Call it once per process.
int worker_main(int argc, char** argv);

}  // namespace shoal
