#pragma once
// The worker's log: leveled lines on stderr ("shoal-worker NAME LEVEL: message").
// stdout is reserved for the ready line. Thread-safe.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace shoal::worker {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// "debug", "info", "warning" or "error"; kInvalidArgument otherwise.
absl::StatusOr<LogLevel> parse_log_level(std::string_view text);

class Log {
 public:
  Log(std::string name, LogLevel min_level) : name_(std::move(name)), min_(min_level) {}
  bool enabled(LogLevel level) const { return level >= min_; }
  // Writes one line when `level` is enabled.
  void write(LogLevel level, std::string_view message) const;
  void info(std::string_view message) const { write(LogLevel::kInfo, message); }
  void warning(std::string_view message) const { write(LogLevel::kWarning, message); }
  void error(std::string_view message) const { write(LogLevel::kError, message); }

 private:
  std::string name_;
  LogLevel min_;
};

}  // namespace shoal::worker
