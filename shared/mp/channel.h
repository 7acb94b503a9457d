#pragma once
// The shared-memory lane of a Pipe: one single-writer single-reader byte ring per
// direction, made by Pipe() before any fork. Messages up to a quarter of the ring go
// through it with no system call while the reader is awake (spinning); the socket
// beside it carries what the ring cannot: wake-up tokens for a sleeping reader,
// messages too big for the ring, and end-of-file when the peer closes or dies.
//
// Socket byte stream, writer to reader: 'W' (a wake-up token, ignored by the reader),
// or 'D' u64-length payload (a big message, announced by a marker record in the ring).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace shoal::internal {

inline constexpr std::size_t kChannelRing = 256 * 1024;
inline constexpr std::size_t kChannelHeader = 256;
inline constexpr std::size_t kChannelBytes = kChannelHeader + kChannelRing;

struct ChannelHeader {
  alignas(64) std::atomic<uint64_t> tail;  // published by the writer
  alignas(64) std::atomic<uint64_t> head;  // published by the reader
  alignas(64) std::atomic<uint32_t> reader_sleeping;
  std::atomic<uint32_t> writer_waiting;
};
static_assert(sizeof(ChannelHeader) <= kChannelHeader);

// A message longer than this is not allocated whole before it arrives: its buffer grows
// with the bytes received, so a length a peer announces but never sends costs nothing.
inline constexpr std::size_t kAllocatedAhead = std::size_t{1} << 20;

// Receives from blocking socket `fd` the rest of a message of `len` bytes whose first
// bytes `out` holds. False if the socket ends first (errno 0) or fails (errno set).
bool recv_claimed(int fd, uint64_t len, std::string& out);

// A view of one direction; `at` points to kChannelBytes of zeroed shared memory.
class Channel {
 public:
  Channel(void* at, int fd)
      : h_(static_cast<ChannelHeader*>(at)),
        ring_(static_cast<std::byte*>(at) + kChannelHeader),
        fd_(fd) {}

  // Writer: sends one message. ConnectionError if the reader is gone.
  void send(std::string_view bytes);
  // Reader: receives one message, blocking; EOFError when the writer is gone and
  // everything it sent has been read.
  std::string recv();
  // Reader: true if recv() would not block, waiting up to `timeout` (negative: no wait;
  // over 100 years: no limit).
  bool poll(std::chrono::milliseconds timeout);

 private:
  bool has_record() const;
  void wait_for_space(uint64_t need);
  bool sleep_until_woken(int timeout_ms);
  std::string read_big();
  ChannelHeader* h_;
  std::byte* ring_;
  int fd_;
};

}  // namespace shoal::internal
