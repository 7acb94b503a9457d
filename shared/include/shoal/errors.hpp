#pragma once
// The shoal::Error family (API.md §4): every runtime failure a user can catch.
// Misuse (start twice, join before close, ...) throws std::logic_error instead.

#include <stdexcept>
#include <string>

namespace shoal {

// Base of every Shoal runtime failure.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A timed future get/next, or a timed wait that has no more specific error.
class TimeoutError : public Error {
 public:
  using Error::Error;
};

// The task threw. what() is the exception's message.
class RemoteError : public Error {
 public:
  // type_name: demangled exception type; where: "host:pid" of the process that ran it.
  RemoteError(std::string type_name, const std::string& message, std::string where)
      : Error(message), type_name_(std::move(type_name)), where_(std::move(where)) {}
  // The demangled full type name of the exception the task threw, e.g. "std::invalid_argument".
  const std::string& type_name() const { return type_name_; }
  // "host:pid" of the process that ran the task.
  const std::string& where() const { return where_; }

 private:
  std::string type_name_;
  std::string where_;
};

// The process running the task died and no retries were left; what() names the
// signal (e.g. "SIGKILL") or the exit code.
class WorkerLostError : public Error {
 public:
  using Error::Error;
};

// The task ran past its time_limit and its process was killed.
class TaskTimeLimitError : public Error {
 public:
  using Error::Error;
};

// The task was cancelled, or its pool was terminated before it ended.
class CancelledError : public Error {
 public:
  using Error::Error;
};

// Submitted to a pool after close() or terminate().
class PoolClosedError : public Error {
 public:
  using Error::Error;
};

// A remote submission of an unregistered function, or a worker lacking the task name.
class NotRegisteredError : public Error {
 public:
  using Error::Error;
};

// Arguments or a result could not be encoded or decoded; what() names both types.
class SerializationError : public Error {
 public:
  using Error::Error;
};

// The broker (or a Manager server) could not be reached, or stayed unreachable.
class ConnectionError : public Error {
 public:
  using Error::Error;
};

// A non-blocking or timed queue put found the queue full.
class Full : public Error {
 public:
  using Error::Error;
};

// A non-blocking or timed queue get found the queue empty.
class Empty : public Error {
 public:
  using Error::Error;
};

// recv() on a connection whose other end is closed and drained.
class EOFError : public Error {
 public:
  using Error::Error;
};

// A barrier was aborted, reset, or timed out.
class BrokenBarrierError : public Error {
 public:
  using Error::Error;
};

}  // namespace shoal
