#include "client/cli/broker_link.h"

#include <cstdio>
#include <utility>

namespace shoal::cli {

BrokerLinkNotices::BrokerLinkNotices(const internal::RemoteBackend& backend, std::string address,
                                     std::chrono::milliseconds window)
    : backend_(backend), address_(std::move(address)), window_(window) {}

bool BrokerLinkNotices::report(const std::string& progress, bool newline_first) {
  internal::RemoteBackend::Link link = backend_.link();
  bool lost_again = link.losses > losses_seen_;
  losses_seen_ = link.losses;
  if (lost_again && !lost_) {
    lost_ = true;
    say("lost the broker at " + address_ + progress + "; reconnecting for up to " +
            seconds_text(window_) + " (--reconnect-timeout-ms)",
        newline_first);
    return true;
  }
  if (lost_ && link.up) {
    lost_ = false;
    // The backend watches what it had sent and resubmits what the broker does not know.
    say("reconnected to the broker at " + address_ + progress + "; the tasks it lost go again",
        newline_first);
    return true;
  }
  return false;
}

bool BrokerLinkNotices::report_silent(const std::string& progress, bool newline_first) {
  if (report(progress, newline_first)) return true;
  if (lost_) return false;  // said already
  if (backend_.link().up) {
    // Its session looks up, but it did not answer (its host or the network gone, not yet
    // noticed): the loss, once noticed, is said as one.
    say("the broker at " + address_ + " does not answer" + progress + "; waiting for it",
        newline_first);
    return true;
  }
  lost_ = true;
  say("the broker at " + address_ + " does not answer" + progress + "; reconnecting for up to " +
          seconds_text(window_) + " (--reconnect-timeout-ms)",
      newline_first);
  return true;
}

void BrokerLinkNotices::say(const std::string& text, bool newline_first) const {
  std::fprintf(stderr, "%sshoal: %s\n", newline_first ? "\n" : "", text.c_str());
}

std::string seconds_text(std::chrono::milliseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", static_cast<double>(duration.count()) / 1000.0);
  return text;
}

}  // namespace shoal::cli
