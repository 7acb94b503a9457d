#pragma once
// A failure as data: what crosses process and host boundaries before it is thrown
// as one of the shoal::Error family at the public edge.

#include <cstdint>
#include <string>

#include <msgpack.hpp>

namespace shoal::internal {

// Which public exception a failure becomes (throw_error maps each to its class).
enum class ErrorKind : std::uint8_t {
  kRemote = 0,         // RemoteError: the task threw
  kSerialization = 1,  // SerializationError
  kNotRegistered = 2,  // NotRegisteredError
  kWorkerLost = 3,     // WorkerLostError
  kTimeLimit = 4,      // TaskTimeLimitError
  kCancelled = 5,      // CancelledError
  kPoolClosed = 6,     // PoolClosedError
  kConnection = 7,     // ConnectionError
  kTimeout = 8,        // TimeoutError
  kOther = 9,          // shoal::Error
  // Kinds only a broker reports; both are thrown as shoal::Error, the kind is kept so
  // that callers (the CLI) can name it.
  kResourceExhausted = 10,  // a broker limit was hit (ERROR_KIND_RESOURCE_EXHAUSTED)
  kInvalid = 11,            // the request was malformed (ERROR_KIND_INVALID)
};

struct ErrorInfo {
  ErrorKind kind = ErrorKind::kOther;
  std::string type_name;  // kRemote: demangled exception type
  std::string message;
  std::string where;      // "host:pid" of the process that ran the task, if any
  MSGPACK_DEFINE(kind, type_name, message, where);
};

// Throws the public exception that `error` stands for.
[[noreturn]] void throw_error(const ErrorInfo& error);

// "host:pid" of the calling process (the pid is read on every call: fork-safe).
std::string where_am_i();

// Describes the exception being handled (call inside a catch block) as a kRemote
// ErrorInfo, or as the matching kind when it is itself a shoal::Error.
ErrorInfo current_exception_info();

}  // namespace shoal::internal

MSGPACK_ADD_ENUM(shoal::internal::ErrorKind);
