#include "worker/log.h"

#include <cstdio>

namespace shoal::worker {

absl::StatusOr<LogLevel> parse_log_level(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warning" || text == "warn") return LogLevel::kWarning;
  if (text == "error") return LogLevel::kError;
  return absl::InvalidArgumentError("--log-level must be debug, info, warning or error, not '" +
                                    std::string(text) + "'");
}

void Log::write(LogLevel level, std::string_view message) const {
  if (!enabled(level)) return;
  static const char* const kNames[] = {"debug", "info", "warning", "error"};
  // One fprintf per line: stdio locks the stream, so lines from threads do not mix.
  std::fprintf(stderr, "shoal-worker %s %s: %.*s\n", name_.c_str(),
               kNames[static_cast<int>(level)], static_cast<int>(message.size()),
               message.data());
}

}  // namespace shoal::worker
