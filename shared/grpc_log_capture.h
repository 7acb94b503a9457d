#pragma once
// gRPC writes its own errors straight to stderr (gpr_log): for a port it cannot bind,
// one long line of nested statuses before the broker's own message; for a TLS client of
// a plaintext broker, a "Handshake failed" line each time it retries. While a
// GrpcLogCapture lives they are collected instead, so that shoal-broker and the `shoal`
// CLI can give the reason in their one line (the broker passes gRPC's text on to its
// Logger).

#include <cstddef>
#include <string>
#include <vector>

namespace shoal::internal {

class GrpcLogCapture {
 public:
  // Collects gRPC's log messages, of every thread, from now on. gRPC's log hook is
  // process-wide: captures living at the same time each get every message.
  GrpcLogCapture();
  // Stops collecting; the last capture to go gives gRPC's log back to gRPC's default
  // writer (stderr).
  ~GrpcLogCapture();
  GrpcLogCapture(const GrpcLogCapture&) = delete;
  GrpcLogCapture& operator=(const GrpcLogCapture&) = delete;

  // The most messages a capture keeps: the first ones, which say what went wrong (a
  // process that captures for its whole life must not grow with each retry's line).
  static constexpr std::size_t kMaxMessages = 1000;

  // What gRPC logged so far (its first kMaxMessages), oldest first. Thread-safe.
  std::vector<std::string> messages() const;
  // The system's reason given in those messages (gRPC's os_error, e.g. "Address already
  // in use"), or "" when there is none. Thread-safe.
  std::string os_error() const;

 private:
  std::vector<std::string> messages_;  // guarded by the lock of grpc_log_capture.cc
};

}  // namespace shoal::internal
