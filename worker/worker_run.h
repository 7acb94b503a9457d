#pragma once
// The body of shoal::worker_main, shared with the stock shoal-worker binary (which
// also accepts --load).

namespace shoal::worker {

// Parses the flags (`allow_load`: also --load=lib.so, dlopen'ed before anything else),
// forks the engine, serves the broker until SIGTERM/SIGINT, and returns the exit code.
int run_worker(int argc, char** argv, bool allow_load);

}  // namespace shoal::worker
