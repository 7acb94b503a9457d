#pragma once
// The Manager's server loop: one ROUTER socket, one thread, objects in memory.

#include <string>

namespace shoal::internal {

// Binds `endpoint`, reports "ok <actual endpoint>\n" (or "error <why>\n") on `ready_fd`
// and closes it, then serves until a shutdown request. Returns the process exit code.
int run_manager_server(const std::string& endpoint, int ready_fd);

}  // namespace shoal::internal
