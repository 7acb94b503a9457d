#pragma once
// What the broker has still to write to one client session. Consecutive Results (or
// Accepted, or Rejected with one error) messages are merged, so a slow reader costs fewer, larger
// writes, but never past a size bound: a client in another language reads with gRPC's default
// receive limit of 4 MiB, and the broker's own send limit must hold too. Not thread-safe.
#include <cstddef>
#include <deque>
#include <vector>

#include "shoal/v1/service.pb.h"

namespace shoal::broker {

// Messages are merged up to this size (or the send limit, if smaller): gRPC's default
// receive limit, what a client that never raised it can read.
inline constexpr std::size_t kMergedMessageBytes = 4u << 20;

// What a queued result or id costs in memory beyond its encoded bytes (its object or
// string, and the pointer to it): an empty id is 2 bytes on the wire, about 40 here.
inline constexpr std::size_t kEntryOverheadBytes = 64;

class SessionOutbox {
 public:
  // Messages up to `bound` bytes; a single result larger than it goes alone.
  explicit SessionOutbox(std::size_t bound) : bound_(bound) {}

  // Queues `message`: split between its results or ids if over the bound, merged into
  // the last queued message while the two fit in it.
  void push(shoal::v1::ServerMessage&& message);
  bool empty() const { return queue_.empty(); }
  // The encoded size of what is queued (a merged message counts as the sum of its parts).
  std::size_t bytes() const { return bytes_; }
  // What is queued costs in memory, estimated: bytes() and kEntryOverheadBytes for each
  // result or id. What a bound on a session's unread replies should count.
  std::size_t memory() const { return memory_; }
  // The size messages are merged up to (the constructor's `bound`).
  std::size_t merge_limit() const { return bound_; }
  // The oldest message. Requires !empty().
  shoal::v1::ServerMessage pop();
  // Drops everything queued.
  void clear();

 private:
  void push_one(shoal::v1::ServerMessage&& message, std::size_t bytes);

  std::size_t bound_;
  std::deque<shoal::v1::ServerMessage> queue_;
  std::deque<std::size_t> sizes_;  // of each message of queue_
  std::size_t bytes_ = 0;          // their sum
  std::deque<std::size_t> memories_;  // memory() of each message of queue_
  std::size_t memory_ = 0;            // their sum
};

// `message` as one or more messages of its kind, in order, of at most `limit` bytes
// each: one over it is split between its results (one result alone may still be
// larger) or its ids (Accepted, Rejected, Unknown; each part of a Rejected carries its
// error).
std::vector<shoal::v1::ServerMessage> split_message(shoal::v1::ServerMessage&& message,
                                                    std::size_t limit);

}  // namespace shoal::broker
