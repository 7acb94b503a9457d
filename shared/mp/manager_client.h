#pragma once
// The client side of the Manager protocol, beyond manager.hpp's manager_call: how long a
// reply may take, calls with a key not (yet) remembered, and dropping the connections
// to a server that was shut down.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "shoal/manager.hpp"

namespace shoal::internal {

// How long a reply may take beyond the server-side wait and the transfer allowance
// before the server counts as gone.
inline constexpr std::chrono::milliseconds kReplyMargin{750};

// Time allowed for moving (or copying) `bytes`, at a conservative 50 MB/s.
inline std::chrono::milliseconds transfer_allowance(std::size_t bytes) {
  return std::chrono::milliseconds(bytes / 50'000);
}

// Payloads at least this big make the server tell every client it is busy
// (kManagerBusy) before it handles them: copying them stops its single thread.
inline constexpr std::size_t kBusyNoticeBytes = std::size_t{8} << 20;

// A notice (id 0, code kManagerBusy, unasked) that the server is about to spend up to
// transfer_allowance(bytes) on a payload. For clients on the server's host (`local`) it
// says until when, on the steady clock they share, so a client can tell a stale one;
// for others it says how long, and a client takes it as fresh.
ManagerReply busy_notice(std::size_t bytes, bool local);
// If `reply` is a busy notice, received at `now`: until when the server is busy.
std::optional<std::chrono::steady_clock::time_point> busy_until(
    const ManagerReply& reply, std::chrono::steady_clock::time_point now);

// manager_call with `authkey` (for ZeroMQ endpoints) instead of the remembered one. A
// thread's cached socket made with another key is replaced. Throws as manager_call.
ManagerReply manager_call_with_key(const std::string& endpoint, const std::string& authkey,
                                   ManagerRequest& request, std::chrono::milliseconds wait);

// The server at `endpoint` was shut down by this process: the calling thread closes its
// connections to it now, other threads at their next Manager call. Thread-safe.
void forget_manager_endpoint(const std::string& endpoint);

}  // namespace shoal::internal
