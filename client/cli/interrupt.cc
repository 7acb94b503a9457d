#include "client/cli/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <csignal>

namespace shoal::cli {

using CancelOutcome = internal::RemoteBackend::CancelOutcome;

namespace {

// The SIGINT or SIGTERM that asked submit or map to stop, 0 if none came. Written by
// whichever thread the signal lands on (often one of gRPC's), read by the main thread.
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "used in a signal handler");

// Notes the first stop signal; a second one, of either kind, ends the CLI at once: both go
// back to their default action here (SA_RESETHAND would reset only the one delivered),
// and a second one handled meanwhile, on another thread, is raised again to that action.
void on_stop_signal(int signal_number) {
  struct sigaction fallback = {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  int none = 0;
  if (!g_stop_signal.compare_exchange_strong(none, signal_number)) {
    sigaction(signal_number, &fallback, nullptr);  // all async-signal-safe
    kill(getpid(), signal_number);
    return;
  }
  sigaction(SIGINT, &fallback, nullptr);
  sigaction(SIGTERM, &fallback, nullptr);
}

}  // namespace

void catch_stop_signals() {
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaddset(&action.sa_mask, SIGINT);  // on one thread, neither interrupts the other
  sigaddset(&action.sa_mask, SIGTERM);
  action.sa_flags = SA_RESTART;  // a write to stdout is not cut short by EINTR
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int stop_signal() { return g_stop_signal.load(); }

int interrupted_status() { return 128 + g_stop_signal.load(); }

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
