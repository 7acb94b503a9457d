// The read side of a Connection's framing, with the bytes a peer process would write:
// - a Connection on a bare stream socket (length-prefixed frames, connection.cc): any
//   byte stream reads as exactly the messages a plain parser finds in it, then EOFError;
// - a Pipe's shared-memory lane (channel.cc), here on a private buffer read by the same
//   thread (no race): messages written by a Channel come back unchanged, and a ring whose
//   records or positions were scribbled over gives messages or an Error, never a crash,
//   a read outside the ring, or a hang.
// A length in a header is a claim, not a promise: a frame claiming terabytes followed by a
// few bytes must end in EOFError, not an allocation of what it claims.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/mp/channel.h"
#include "shoal/connection.hpp"
#include "shoal/errors.hpp"
#include "tests/fuzz/fuzz_target.h"

namespace {

using shoal::internal::Channel;
using shoal::internal::ChannelHeader;
using shoal::internal::kChannelBytes;
using shoal::internal::kChannelHeader;
using shoal::internal::kChannelRing;

// A connected stream socket pair, closed at the end of the input.
struct SocketPair {
  int fds[2] = {-1, -1};
  SocketPair() {
    SHOAL_FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  }
  ~SocketPair() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
  // Writes `bytes` into end 1 and closes it: end 0 then reads them, then end-of-file.
  void write_and_close(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fds[1], bytes.data(), bytes.size(), MSG_NOSIGNAL);
      SHOAL_FUZZ_CHECK(n > 0);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    ::close(fds[1]);
    fds[1] = -1;
  }
};

// The messages a correct reader finds at the start of `stream` (4-byte length, or
// 0xffffffff and an 8-byte length), up to the first incomplete one.
std::vector<std::string> frames_in(std::string_view stream) {
  std::vector<std::string> out;
  for (;;) {
    if (stream.size() < 4) return out;
    uint32_t short_len;
    std::memcpy(&short_len, stream.data(), 4);
    uint64_t len = short_len;
    size_t header = 4;
    if (short_len == 0xffffffffu) {
      if (stream.size() < 12) return out;
      std::memcpy(&len, stream.data() + 4, 8);
      header = 12;
    }
    if (stream.size() - header < len) return out;
    out.emplace_back(stream.substr(header, len));
    stream.remove_prefix(header + len);
  }
}

void socket_stream(std::string_view stream) {
  SocketPair pair;
  pair.write_and_close(stream);
  shoal::Connection reader(pair.fds[0], true, false);
  pair.fds[0] = -1;  // the Connection owns it now
  const std::vector<std::string> want = frames_in(stream);
  size_t got = 0;
  for (;;) {
    try {
      const std::string message = reader.recv_bytes();
      SHOAL_FUZZ_CHECK(got < want.size() && message == want[got]);
      ++got;
    } catch (const shoal::EOFError&) {
      break;
    }
  }
  SHOAL_FUZZ_CHECK(got == want.size());
}

// A Channel's shared memory, here private to this thread.
struct Lane {
  std::unique_ptr<std::byte[]> bytes{new std::byte[kChannelBytes]()};
  ChannelHeader* header() { return reinterpret_cast<ChannelHeader*>(bytes.get()); }
  std::byte* ring() { return bytes.get() + kChannelHeader; }
};

void channel_lane(const uint8_t* data, size_t size) {
  if (size < 2) return;
  SocketPair pair;
  Lane lane;
  Channel writer(lane.bytes.get(), pair.fds[1]);
  Channel reader(lane.bytes.get(), pair.fds[0]);
  // Messages first: sizes from the input, contents from their index; all small ones
  // (big ones go on the socket) that fit in the ring together (the writer would wait).
  std::vector<std::string> sent;
  const size_t messages = data[0] % 8;
  size_t at = 1;
  size_t used = 0;
  for (size_t i = 0; i < messages && at < size; ++i) {
    const size_t len = static_cast<size_t>(data[at++]) * (i % 3 == 2 ? 256 : 1);
    used += 8 + (len + 7) / 8 * 8;
    if (used > kChannelRing) break;
    sent.emplace_back(len, static_cast<char>('a' + i));
    writer.send(sent.back());
  }
  // Then the scribbling: "<offset u16><length u8><bytes>" into the ring, or over the
  // positions when the offset is 0xffff (the next 8 bytes become the tail).
  bool scribbled = false;
  while (at + 3 <= size) {
    uint16_t offset;
    std::memcpy(&offset, data + at, 2);
    const size_t len = std::min<size_t>(data[at + 2], size - at - 3);
    at += 3;
    if (offset == 0xffff) {
      uint64_t tail = 0;
      std::memcpy(&tail, data + at, std::min<size_t>(len, 8));
      lane.header()->tail.store(tail);
    } else {
      const size_t start = static_cast<size_t>(offset) * 4 % kChannelRing;
      const size_t n = std::min(len, kChannelRing - start);
      std::memcpy(lane.ring() + start, data + at, n);
    }
    at += len;
    scribbled = true;
  }
  // What the writer might also have sent on the socket (the rest of the input), then it
  // goes away.
  pair.write_and_close(std::string_view(reinterpret_cast<const char*>(data + at), size - at));
  size_t got = 0;
  for (size_t reads = 0;; ++reads) {
    // Each record is at least 8 bytes: more reads than that mean the reader is looping.
    SHOAL_FUZZ_CHECK(reads <= kChannelRing / 8 + 2);
    try {
      const std::string message = reader.recv();
      if (!scribbled) {
        SHOAL_FUZZ_CHECK(got < sent.size() && message == sent[got]);
      }
      SHOAL_FUZZ_CHECK(message.size() <= kChannelRing + size);
      ++got;
    } catch (const shoal::EOFError&) {
      break;
    } catch (const shoal::Error&) {
      SHOAL_FUZZ_CHECK(scribbled || at < size);  // only what was corrupted is corrupt
      break;
    }
  }
  if (!scribbled && at == size) SHOAL_FUZZ_CHECK(got == sent.size());
}

}  // namespace

SHOAL_FUZZ_TARGET(connection_frames) {
  if (size == 0) return;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    channel_lane(data + 1, size - 1);
  } else {
    socket_stream(rest.substr(0, 64 * 1024));
  }
}
