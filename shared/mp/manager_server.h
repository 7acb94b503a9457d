#pragma once
// The Manager's server loop: one thread, objects in memory, reached through a ZeroMQ
// ROUTER socket and (optionally) the same-host direct socket (manager_direct.h).

#include <string>

namespace shoal::internal {

// Binds `endpoint` (ZeroMQ; none if empty) and, if `direct_name` is not empty, the
// abstract Unix socket of that name; reports "ok <endpoint>\n" (the bound ZeroMQ one,
// else the direct one) or "error <why>\n" on `ready_fd` and closes it, then serves
// until a shutdown request. With an `authkey` the ZeroMQ endpoint is a CURVE server
// admitting only clients of that authkey (manager_auth.h). Stops, too, once `owner_fd`
// (a pidfd of the owning process; -1: none) is readable: the owner has exited.
// Returns the exit code.
int run_manager_server(const std::string& endpoint, const std::string& direct_name,
                       const std::string& authkey, int ready_fd, int owner_fd);

}  // namespace shoal::internal
