#pragma once
// The Manager's same-host fast path: length-prefixed frames over a Unix stream socket
// in the abstract namespace ("unix:@NAME"), one connection per client thread. Unlike
// ZeroMQ it needs no I/O threads between the caller and the server, so a round trip
// is two wake-ups (or none, when both sides are spinning).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shoal/manager.hpp"

namespace shoal::internal {

// True for "unix:@NAME" endpoints.
bool is_direct_endpoint(const std::string& endpoint);

// One round trip to a direct endpoint; ConnectionError if the server is not there, the
// connection breaks, the request cannot be sent whole by `deadline` (a server that stopped
// reading), or no reply comes by `deadline` (then the server is first sent a cancel of
// request `id`, and the connection is closed). Busy notices extend `deadline`.
ManagerReply direct_call(const std::string& endpoint, const std::string& payload, uint64_t id,
                         std::chrono::steady_clock::time_point deadline);

// Closes the calling thread's connection to `endpoint`, if it has one.
void direct_forget(const std::string& endpoint);

// Server side: a listening socket on abstract name `name` (without '@'); -1 on failure.
int direct_listen(const std::string& name);

// Appends a frame (u32 length, then `payload`) to `out`.
void append_frame(std::string& out, std::string_view payload);
// The payload size the frame at the start of `buffer` announces; nullopt before its
// 4-byte header is there.
std::optional<std::size_t> frame_size(std::string_view buffer);
// True when `buffer` starts with a whole frame.
bool whole_frame(std::string_view buffer);
// If `buffer` holds a whole frame, moves its payload to `payload`, drops it from
// `buffer` and returns true.
bool take_frame(std::string& buffer, std::string& payload);

}  // namespace shoal::internal
