#pragma once
// The one place where grpc::Status becomes absl::Status, and absl::Status becomes a
// shoal::Error at the public edge of the remote backend and the `shoal` CLI.

#include <string>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "shoal/internal/error_info.h"

namespace shoal::internal {

// The same canonical code and message; `what` (e.g. "GetStats") prefixes the message.
absl::Status from_grpc(const grpc::Status& status, const std::string& what);

// The ErrorInfo a failed call stands for: unreachable, timed out or refused
// credentials -> kConnection; NOT_FOUND -> kNotRegistered; others -> kOther.
ErrorInfo error_from_status(const absl::Status& status);

// Throws the shoal::Error that `status` stands for (it must not be OK).
[[noreturn]] void throw_status(const absl::Status& status);

}  // namespace shoal::internal
