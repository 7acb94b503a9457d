#include "broker/logger.h"

#include <string>

namespace shoal::broker {

absl::StatusOr<LogLevel> parse_log_level(absl::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warning") return LogLevel::kWarning;
  if (text == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(
      absl::StrCat("log level '", text, "' is not one of debug, info, warning, error"));
}

void Logger::log(LogLevel level, absl::string_view message) const {
  static constexpr const char* kNames[] = {"DEBUG", "INFO", "WARNING", "ERROR"};
  // One fwrite per line: stdio locks the stream, so lines never interleave.
  std::string line = absl::StrCat("shoal-broker ", kNames[int(level)], ": ", message, "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace shoal::broker
