#pragma once
// The Manager's server loop: one thread, objects in memory, reached through a ZeroMQ
// ROUTER socket and (optionally) the same-host direct socket (manager_direct.h).

#include <string>

namespace shoal::internal {

// Binds `endpoint` (ZeroMQ) and, if `direct_name` is not empty, the abstract Unix
// socket of that name; reports "ok <zmq endpoint>\n" (or "error <why>\n") on
// `ready_fd` and closes it, then serves until a shutdown request. Returns the process
// exit code.
int run_manager_server(const std::string& endpoint, const std::string& direct_name, int ready_fd);

}  // namespace shoal::internal
