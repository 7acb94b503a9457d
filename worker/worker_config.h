#pragma once
// shoal-worker's flags (API.md §8), parsed into a WorkerConfig by worker_main.

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace shoal::worker {

// A worker runs at most this many processes (--processes); more hosts or more workers
// scale further.
inline constexpr int kMaxProcesses = 1024;

struct WorkerConfig {
  std::string broker;                          // --broker=tcp://HOST:PORT (required)
  int processes = 0;                           // --processes=N; 0: cpu_count()
  std::vector<std::string> queues{"default"};  // --queues=a,b
  int prefetch = 1;                            // --prefetch=N: tasks held per free slot
  std::string log_level = "info";              // --log-level=debug|info|warning|error
  std::string name;                            // --name=NAME (identity); "": HOST-PID
  std::chrono::milliseconds drain_timeout{30000};  // --drain-timeout-ms: SIGTERM grace
  std::vector<std::string> load;               // --load=lib.so (stock shoal-worker only)
  std::string broker_public_key;               // --broker-public-key=Z85|FILE: use CURVE
  std::string curve_secret_key_file;           // --curve-secret-key-file: our CURVE key
  bool help = false;                           // --help
};

// Parses `--flag=value` arguments (also `--flag value`; `_` and `-` alike in names).
// `allow_load`: accept --load (the stock binary). kInvalidArgument naming the flag on
// an unknown flag, a missing or malformed value, or no --broker (unless --help).
absl::StatusOr<WorkerConfig> parse_worker_flags(int argc, char** argv, bool allow_load);

// The --help text.
std::string worker_usage(const std::string& program, bool allow_load);

}  // namespace shoal::worker
