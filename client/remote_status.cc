#include "client/remote_status.h"

namespace shoal::internal {

absl::Status from_grpc(const grpc::Status& status, const std::string& what) {
  if (status.ok()) return absl::OkStatus();
  // gRPC and absl share the canonical numbering.
  auto code = static_cast<absl::StatusCode>(status.error_code());
  return absl::Status(code, what + ": " + status.error_message());
}

ErrorInfo error_from_status(const absl::Status& status) {
  ErrorInfo info;
  info.message = std::string(status.message());
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      info.kind = ErrorKind::kConnection;
      break;
    case absl::StatusCode::kNotFound:
      info.kind = ErrorKind::kNotRegistered;
      break;
    case absl::StatusCode::kCancelled:
      info.kind = ErrorKind::kCancelled;
      break;
    case absl::StatusCode::kResourceExhausted:
      info.kind = ErrorKind::kResourceExhausted;
      break;
    case absl::StatusCode::kInvalidArgument:
      info.kind = ErrorKind::kInvalid;
      break;
    default:
      info.kind = ErrorKind::kOther;
      break;
  }
  return info;
}

void throw_status(const absl::Status& status) { throw_error(error_from_status(status)); }

}  // namespace shoal::internal
