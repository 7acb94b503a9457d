#include "shoal/internal/error_info.h"

#include <cxxabi.h>
#include <unistd.h>

#include <exception>
#include <typeinfo>

#include "shoal/codec.hpp"
#include "shoal/errors.hpp"

namespace shoal::internal {

void throw_error(const ErrorInfo& error) {
  const std::string& m = error.message;
  switch (error.kind) {
    case ErrorKind::kRemote: throw RemoteError(error.type_name, m, error.where);
    case ErrorKind::kSerialization: throw SerializationError(m);
    case ErrorKind::kNotRegistered: throw NotRegisteredError(m);
    case ErrorKind::kWorkerLost: throw WorkerLostError(m);
    case ErrorKind::kTimeLimit: throw TaskTimeLimitError(m);
    case ErrorKind::kCancelled: throw CancelledError(m);
    case ErrorKind::kPoolClosed: throw PoolClosedError(m);
    case ErrorKind::kConnection: throw ConnectionError(m);
    case ErrorKind::kTimeout: throw TimeoutError(m);
    case ErrorKind::kOther:
    case ErrorKind::kResourceExhausted:
    case ErrorKind::kInvalid: break;
  }
  throw Error(m);
}

std::string where_am_i() {
  static const std::string host = [] {
    char name[256] = {};
    if (gethostname(name, sizeof(name) - 1) != 0) return std::string("localhost");
    return std::string(name);
  }();
  return host + ":" + std::to_string(getpid());
}

ErrorInfo current_exception_info() {
  ErrorInfo info;
  info.where = where_am_i();
  try {
    throw;
  } catch (const SerializationError& e) {
    info.kind = ErrorKind::kSerialization;
    info.type_name = "shoal::SerializationError";
    info.message = e.what();
  } catch (const NotRegisteredError& e) {
    info.kind = ErrorKind::kNotRegistered;
    info.type_name = "shoal::NotRegisteredError";
    info.message = e.what();
  } catch (const std::exception& e) {
    info.kind = ErrorKind::kRemote;
    info.type_name = demangle(typeid(e).name());
    info.message = e.what();
  } catch (...) {
    info.kind = ErrorKind::kRemote;
    std::type_info* type = abi::__cxa_current_exception_type();
    info.type_name = type ? demangle(type->name()) : "unknown";
    info.message = "non-standard exception of type " + info.type_name;
  }
  return info;
}

}  // namespace shoal::internal
