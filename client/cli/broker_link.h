#pragma once
// What submit and map say on stderr about their link to the broker while they wait:
// that it was lost and is being reconnected to, that it is back, or that it does not
// answer. Without these lines a command waited out the reconnect window in silence.

#include <chrono>
#include <cstdint>
#include <string>

#include "client/remote_backend.h"

namespace shoal::cli {

class BrokerLinkNotices {
 public:
  // `backend` must outlive this object. `address` is the broker's as given, `window` how
  // long the backend keeps reconnecting before its tasks fail (--reconnect-timeout-ms).
  BrokerLinkNotices(const internal::RemoteBackend& backend, std::string address,
                    std::chrono::milliseconds window);

  // Prints one line if the link changed since the last call: the broker lost, or back
  // after a loss. `progress` follows the address (" with 3/20 items done", or ""); with
  // `newline_first` (a progress bar is on the line) the line starts on a new one. Returns
  // whether it printed. Not thread-safe: the one loop that waits calls it.
  bool report(const std::string& progress, bool newline_first);
  // As report(), for a caller that found the broker silent: also says that the broker
  // does not answer when no loss was reported (its session looks up, or it went before
  // answering the first one). Not thread-safe.
  bool report_silent(const std::string& progress, bool newline_first);
  // True from a reported loss until the broker is back.
  bool lost() const { return lost_; }

 private:
  // Prints "shoal: " + `text` on stderr, on a new line first if asked.
  void say(const std::string& text, bool newline_first) const;

  const internal::RemoteBackend& backend_;
  const std::string address_;
  const std::chrono::milliseconds window_;
  std::uint64_t losses_seen_ = 0;
  bool lost_ = false;
};

// A duration as the CLI's messages say it: "5 s", "0.2 s".
std::string seconds_text(std::chrono::milliseconds duration);

}  // namespace shoal::cli
