#pragma once
// gRPC writes its own errors straight to stderr (gpr_log): for a port it cannot bind,
// one long line of nested statuses before the broker's own message. While a
// GrpcLogCapture lives they are collected instead, so the broker can give the reason in
// its one line and pass gRPC's text on to its Logger.

#include <string>
#include <vector>

namespace shoal::broker {

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

  // What gRPC logged so far, oldest first. Thread-safe.
  std::vector<std::string> messages() const;
  // The system's reason given in those messages (gRPC's os_error, e.g. "Address already
  // in use"), or "" when there is none. Thread-safe.
  std::string os_error() const;

 private:
  std::vector<std::string> messages_;  // guarded by the lock of grpc_log_capture.cc
};

}  // namespace shoal::broker
