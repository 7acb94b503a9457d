#pragma once
// A single-producer single-consumer ring of variable-size messages in shared memory:
// each worker sends its replies to the pool through its own ring.
//
// A message is a 32-byte header and `length` payload bytes, padded to 32 bytes, and
// always contiguous (a wrap marker skips the ring's end). Replies longer than
// max_fragment() travel as several messages (flag kMore on all but the last), so any
// size streams through a small ring. Publication is one release store of `tail`, so
// a producer killed at any instant leaves the ring consistent.

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "shared/engine/futex.h"

namespace shoal::engine {

struct MessageHeader {
  std::uint64_t token;   // what the message answers
  std::uint64_t total;   // the whole reply's length (the same on every fragment)
  std::uint32_t length;  // payload bytes in this message
  std::uint32_t flags;   // kMore, kWrap
  std::uint64_t reserved;
};
static_assert(sizeof(MessageHeader) == 32);

class ByteRing {
 public:
  static constexpr std::uint32_t kMore = 1;  // more fragments of this reply follow
  static constexpr std::uint32_t kWrap = 2;  // internal: skip to the ring's start

  // Bytes of shared memory a ring of `capacity` payload bytes (a power of two,
  // >= 4096) needs.
  static std::size_t bytes_for(std::size_t capacity);

  ByteRing() = default;
  // A view of the ring in `memory` (64-byte aligned, zero-filled when first used).
  ByteRing(void* memory, std::size_t capacity);

  // The longest payload one message may carry.
  std::size_t max_fragment() const { return capacity_ / 4; }

  // Producer: appends one message (length <= max_fragment()); false when there is no
  // room now (then wait on space_word() and retry).
  bool try_write(std::uint64_t token, std::uint64_t total, const void* data, std::uint32_t length,
                 std::uint32_t flags);
  // Producer: true if a message of `length` bytes would fit now.
  bool fits(std::uint32_t length) const;

  // Consumer: the oldest message, or nullptr when empty. Valid until pop().
  const MessageHeader* peek();
  static const std::byte* payload(const MessageHeader* m) {
    return reinterpret_cast<const std::byte*>(m + 1);
  }
  // Consumer: drops the message peek() returned and wakes a producer waiting for room.
  void pop(const MessageHeader* m);
  bool empty() const;

  // The producer sleeps here while the ring is full; the consumer notifies it.
  WaitWord& space_word() { return header_->space; }

 private:
  struct Header {
    alignas(64) std::atomic<std::uint64_t> head;  // bytes consumed
    alignas(64) std::atomic<std::uint64_t> tail;  // bytes published
    alignas(64) WaitWord space;
  };
  static std::size_t padded(std::size_t length) {
    return (sizeof(MessageHeader) + length + 31) & ~std::size_t{31};
  }
  MessageHeader* at(std::uint64_t position) const {
    return reinterpret_cast<MessageHeader*>(data_ + (position & (capacity_ - 1)));
  }

  Header* header_ = nullptr;
  std::byte* data_ = nullptr;
  std::size_t capacity_ = 0;
};

}  // namespace shoal::engine
