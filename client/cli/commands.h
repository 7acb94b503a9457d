#pragma once
// The `shoal` CLI's subcommands (API.md §8). Each returns the process exit code and
// prints results on stdout, errors as one line on stderr ("shoal: ...").

#include <chrono>
#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "shoal/options.hpp"

namespace shoal::v1 {
class TaskResult;
}

namespace shoal::cli {

struct CliConfig {
  std::string broker = "127.0.0.1:50051";  // the broker's client address
  ConnectOptions connect;
  TaskOptions task;                        // submit / map
  std::string args_json;                   // submit: a JSON array of arguments ("": an error)
  bool no_wait = false;                    // submit: print the id instead of the result
  std::string input;                       // map: a .jsonl file, one argument array a line
  std::size_t chunksize = 0;               // map: 0 picks one
  bool progress = true;                    // map: progress bar on stderr
  std::chrono::milliseconds wait{0};       // result: wait this long for the task to end
  // submit / map: how long a lost broker is waited for before what is not done fails
  std::chrono::milliseconds reconnect_timeout{30000};
};

// Exit codes beyond 0 (success), 1 (a failure: a task failed, the broker could not be
// reached, cancel could not cancel the task, results could not be written) and 2 (a
// usage error).
inline constexpr int kExitNotFinished = 3;  // result: the task is queued or running
// result, cancel: the broker knows no such task (any more)
inline constexpr int kExitUnknownTask = 4;

// The longest task id the CLI sends (ids are protobuf strings: UTF-8 text).
inline constexpr std::size_t kMaxTaskIdBytes = 1024;

// Prints `message` as "shoal: message" on stderr; returns `code`.
int fail(const std::string& message, int code = 1);

// Flushes stdout. False, after printing "shoal: writing results failed: REASON" on
// stderr, when anything printed there since the last call was not written (a full disk,
// a closed stdout): results lost are a failure even when every task succeeded.
bool flush_output();

// OK if `id` can name a task: valid UTF-8 of at most kMaxTaskIdBytes bytes, else
// kInvalidArgument saying why (a usage error).
absl::Status check_task_id(const std::string& id);

int run_status(const CliConfig& config);
int run_workers(const CliConfig& config);
int run_queues(const CliConfig& config);
int run_result(const CliConfig& config, const std::string& id);
int run_cancel(const CliConfig& config, const std::string& id);
int run_submit(const CliConfig& config, const std::string& task);
int run_map(const CliConfig& config, const std::string& task);
// Writes a new CURVE key pair: the secret key to `path` (mode 0600, never overwriting)
// and the public key to `path`.pub; prints the public key. Writes neither if either
// exists.
int run_keygen(const std::string& path);

// A finished task's outcome as JSON on stdout (a chunk as one array); its failure as
// an error line. Returns 0, or 1 if anything failed.
int print_task_result(const v1::TaskResult& result);

}  // namespace shoal::cli
