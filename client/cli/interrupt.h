#pragma once
// SIGINT and SIGTERM in submit and map: the signal is only noted, for the command's
// waiting loop to see; it then cancels at the broker what has not ended.

#include <chrono>
#include <cstdint>
#include <vector>

#include "client/cli/collect_sink.h"
#include "client/remote_backend.h"

namespace shoal::cli {

// From now on SIGINT and SIGTERM are noted (stop_signal()), not fatal: the tasks
// submitted then are cancelled at the broker, not left queued for nobody. A second one,
// of either kind, kills the process as usual, should the broker not answer.
void catch_stop_signals();

// The SIGINT or SIGTERM noted since catch_stop_signals(), 0 if none came.
int stop_signal();

// The exit status after a noted signal: 128 + its number.
int interrupted_status();

// After a noted signal: cancels at the broker, in as few calls as that takes
// (RemoteBackend::cancel_all), every submission of `sink` (`seqs`, by index) that has not
// ended, then waits up to `wait` for the results of those the broker says have ended
// (they are on their way), to be printed with the others. Returns the outcome of each
// submission, kEnded for one that had ended before. Blocks for the cancel calls (each
// up to the connect timeout) and the wait.
std::vector<internal::RemoteBackend::CancelOutcome> cancel_unended(
    internal::RemoteBackend& backend, const std::vector<std::uint64_t>& seqs, CollectSink& sink,
    std::chrono::milliseconds wait);

}  // namespace shoal::cli
