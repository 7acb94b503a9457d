#pragma once
// A minimal leveled logger writing one line per call to stderr (stdout belongs to the
// "listening" line). Passed down by pointer; thread-safe.

#include <cstdio>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace shoal::broker {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Parses "debug", "info", "warning" or "error"; kInvalidArgument otherwise.
absl::StatusOr<LogLevel> parse_log_level(absl::string_view text);

class Logger {
 public:
  explicit Logger(LogLevel min_level = LogLevel::kInfo) : min_level_(min_level) {}
  // True when messages of `level` are written.
  bool enabled(LogLevel level) const { return level >= min_level_; }
  // Writes "shoal-broker LEVEL: message" when `level` is enabled. Thread-safe.
  void log(LogLevel level, absl::string_view message) const;
  template <class... A> void info(const A&... parts) const {
    if (enabled(LogLevel::kInfo)) log(LogLevel::kInfo, absl::StrCat(parts...));
  }
  template <class... A> void warning(const A&... parts) const {
    if (enabled(LogLevel::kWarning)) log(LogLevel::kWarning, absl::StrCat(parts...));
  }
  template <class... A> void error(const A&... parts) const {
    if (enabled(LogLevel::kError)) log(LogLevel::kError, absl::StrCat(parts...));
  }
  template <class... A> void debug(const A&... parts) const {
    if (enabled(LogLevel::kDebug)) log(LogLevel::kDebug, absl::StrCat(parts...));
  }

 private:
  LogLevel min_level_;
};

}  // namespace shoal::broker
