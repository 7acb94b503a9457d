#pragma once
// What the client gateway's calls share: the completion-queue tag every operation of
// theirs completes through, the statuses they refuse a call with, and parsing a message
// from the bytes gRPC received. Used by ClientGateway (client_gateway.cc) and the calls
// it serves, AsyncSession (client_session.cc) and AsyncUnary (client_unary.cc); nothing
// else in the broker includes it.

#include <cstddef>

#include "absl/strings/str_cat.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/status.h"

namespace shoal::internal {

// UNAVAILABLE, "the broker is shutting down": what a call gets once the scheduler's
// thread takes no more events.
inline const grpc::Status& unavailable() {
  static const grpc::Status* status =
      new grpc::Status(grpc::StatusCode::UNAVAILABLE, "the broker is shutting down");
  return *status;
}

// UNAUTHENTICATED: what a call without the gateway's token gets.
inline grpc::Status unauthenticated() {
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "missing or wrong 'authorization: Bearer <token>' metadata");
}

// Parses `bytes` (and clears them) into `*message` as gRPC's generated code does; bytes
// that do not parse give INVALID_ARGUMENT: "a <what> did not parse as a <message type>
// (<size> bytes)".
template <class Message>
grpc::Status parse(grpc::ByteBuffer& bytes, Message* message, const char* what) {
  const std::size_t size = bytes.Length();
  if (grpc::SerializationTraits<Message>::Deserialize(&bytes, message).ok()) {
    return grpc::Status::OK;
  }
  bytes.Clear();
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat("a ", what, " did not parse as a ", message->GetTypeName(), " (",
                                   size, " bytes)"));
}

// What a completion-queue tag of the gateway points at.
class CqTag {
 public:
  // The operation completed (`ok` as gRPC reports it). May delete the tag's owner.
  virtual void proceed(bool ok) = 0;

 protected:
  ~CqTag() = default;
};

}  // namespace shoal::internal
