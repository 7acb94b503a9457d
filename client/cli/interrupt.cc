#include "client/cli/interrupt.h"

#include <signal.h>

#include <csignal>

namespace shoal::cli {

using CancelOutcome = internal::RemoteBackend::CancelOutcome;

namespace {

// The SIGINT or SIGTERM that asked submit or map to stop, 0 if none came.
volatile std::sig_atomic_t g_stop_signal = 0;

void on_stop_signal(int signal_number) { g_stop_signal = signal_number; }

}  // namespace

void catch_stop_signals() {
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int stop_signal() { return g_stop_signal; }

int interrupted_status() { return 128 + g_stop_signal; }

std::vector<CancelOutcome> cancel_unended(internal::RemoteBackend& backend,
                                          const std::vector<std::uint64_t>& seqs, CollectSink& sink,
                                          std::chrono::milliseconds wait) {
  std::vector<CancelOutcome> outcomes(seqs.size(), CancelOutcome::kEnded);
  std::vector<std::size_t> unended;
  std::vector<std::uint64_t> to_cancel;
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    if (sink.done(i)) continue;
    unended.push_back(i);
    to_cancel.push_back(seqs[i]);
  }
  std::vector<CancelOutcome> cancels = backend.cancel_all(to_cancel);
  std::vector<std::size_t> coming;  // ended at the broker: their results are on their way
  for (std::size_t k = 0; k < unended.size(); ++k) {
    outcomes[unended[k]] = cancels[k];
    if (cancels[k] == CancelOutcome::kEnded) coming.push_back(unended[k]);
  }
  sink.wait_done(coming, wait);
  return outcomes;
}

}  // namespace shoal::cli
