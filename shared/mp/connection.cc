// Connection: length-prefixed frames over a stream socket, read through a buffer.
#include "shoal/connection.hpp"

#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "shared/mp/channel.h"
#include "shoal/internal/deadline.h"
#include "shoal/sync.hpp"

namespace shoal {
namespace {

constexpr uint32_t kLongFrame = 0xffffffffu;  // followed by a u64 length
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr auto kSpinFor = std::chrono::microseconds(50);

[[noreturn]] void throw_io(const char* what) {
  if (errno == EPIPE || errno == ECONNRESET) {
    throw ConnectionError(std::string("shoal::Connection::") + what +
                          ": the other end is closed (broken pipe)");
  }
  throw Error(std::string("shoal::Connection::") + what + ": " + std::strerror(errno));
}

}  // namespace

struct Connection::State {
  int fd = -1;
  bool readable = false;
  bool writable = false;
  std::unique_ptr<char[]> buffer{new char[kReadChunk]};  // received: buffer[pos, end)
  std::size_t pos = 0;
  std::size_t end = 0;
  // Pipe()'s shared-memory lanes (absent for a Connection made from a bare descriptor).
  std::shared_ptr<internal::SharedRegion> region;
  std::optional<internal::Channel> in;
  std::optional<internal::Channel> out;
  ~State() {
    if (fd >= 0) ::close(fd);
  }
  std::size_t buffered() const { return end - pos; }
};

Connection::Connection(int fd, bool readable, bool writable) : state_(std::make_shared<State>()) {
  state_->fd = fd;
  state_->readable = readable;
  state_->writable = writable;
}

Connection::State& Connection::open_state(const char* what) const {
  if (!state_ || state_->fd < 0) {
    throw std::logic_error(std::string("shoal::Connection::") + what +
                           ": the connection is closed");
  }
  return *state_;
}

void Connection::send_bytes(std::string_view bytes) {
  State& s = open_state("send");
  if (!s.writable) throw std::logic_error("shoal::Connection::send: this end is read-only");
  if (s.out) {
    s.out->send(bytes);
    return;
  }
  char header[12];
  std::size_t header_len = 4;
  if (bytes.size() < kLongFrame) {
    uint32_t n = static_cast<uint32_t>(bytes.size());
    std::memcpy(header, &n, 4);
  } else {
    uint64_t n = bytes.size();
    std::memcpy(header, &kLongFrame, 4);
    std::memcpy(header + 4, &n, 8);
    header_len = 12;
  }
  iovec iov[2] = {{header, header_len}, {const_cast<char*>(bytes.data()), bytes.size()}};
  int iov_count = bytes.empty() ? 1 : 2;
  iovec* next = iov;
  while (iov_count > 0) {
    msghdr msg{};
    msg.msg_iov = next;
    msg.msg_iovlen = static_cast<std::size_t>(iov_count);
    ssize_t n = ::sendmsg(s.fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_io("send");
    }
    auto left = static_cast<std::size_t>(n);
    while (iov_count > 0 && left >= next->iov_len) {
      left -= next->iov_len;
      ++next;
      --iov_count;
    }
    if (iov_count > 0) {
      next->iov_base = static_cast<char*>(next->iov_base) + left;
      next->iov_len -= left;
    }
  }
}

// Reads more into the buffer; false at EOF. Spins on non-blocking reads before it
// blocks, when `block`.
bool Connection::fill(bool block) {
  State& s = *state_;
  if (s.pos == s.end) {
    s.pos = s.end = 0;
  } else if (s.end == kReadChunk) {  // a partial header at the end: move it to the front
    std::memmove(s.buffer.get(), s.buffer.get() + s.pos, s.end - s.pos);
    s.end -= s.pos;
    s.pos = 0;
  }
  auto until = std::chrono::steady_clock::now() + kSpinFor;
  int spins = 0;
  for (;;) {
    bool spinning = block && ((spins++ & 15) != 0 || std::chrono::steady_clock::now() < until);
    int flags = (!block || spinning) ? MSG_DONTWAIT : 0;
    ssize_t n = ::recv(s.fd, s.buffer.get() + s.end, kReadChunk - s.end, flags);
    if (n > 0) {
      s.end += static_cast<std::size_t>(n);
      return true;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    if (errno == EAGAIN && spinning) {
      // Yield while spinning: on a busy machine the peer may need this CPU to answer.
      ::sched_yield();
      continue;
    }
    if (errno == EAGAIN) return true;  // !block: nothing yet
    throw_io("recv");
  }
}

std::string Connection::recv_bytes() {
  State& s = open_state("recv");
  if (!s.readable) throw std::logic_error("shoal::Connection::recv: this end is write-only");
  if (s.in) return s.in->recv();
  auto need = [&](std::size_t n) {
    while (s.buffered() < n) {
      if (!fill(true)) {
        if (s.buffered() == 0) throw EOFError("shoal::Connection::recv: the other end is closed");
        throw EOFError("shoal::Connection::recv: the other end closed mid-message");
      }
    }
  };
  need(4);
  uint32_t short_len;
  std::memcpy(&short_len, s.buffer.get() + s.pos, 4);
  uint64_t len = short_len;
  std::size_t header = 4;
  if (short_len == kLongFrame) {
    need(12);
    std::memcpy(&len, s.buffer.get() + s.pos + 4, 8);
    header = 12;
  }
  s.pos += header;
  std::string out;
  if (s.buffered() >= len) {
    out.assign(s.buffer.get() + s.pos, len);
    s.pos += len;
    return out;
  }
  // A large message: take what is buffered, then read the rest straight into `out`.
  out.assign(s.buffer.get() + s.pos, s.buffered());
  s.pos = s.end;
  if (!internal::recv_claimed(s.fd, len, out)) {
    if (errno != 0) throw_io("recv");
    throw EOFError("shoal::Connection::recv: the other end closed mid-message");
  }
  return out;
}

bool Connection::poll(std::chrono::milliseconds timeout) {
  State& s = open_state("poll");
  if (!s.readable) throw std::logic_error("shoal::Connection::poll: this end is write-only");
  if (s.in) return s.in->poll(timeout);
  if (s.buffered() > 0) return true;
  const auto deadline = internal::deadline_after(timeout);
  pollfd p{s.fd, POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, internal::poll_timeout_ms(deadline));
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

void Connection::close() {
  if (state_ && state_->fd >= 0) {
    ::close(state_->fd);
    state_->fd = -1;
  }
}

bool Connection::closed() const { return !state_ || state_->fd < 0; }
bool Connection::readable() const { return state_ && state_->readable; }
bool Connection::writable() const { return state_ && state_->writable; }
int Connection::fileno() const { return open_state("fileno").fd; }

std::pair<Connection, Connection> Pipe(bool duplex) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    throw Error(std::string("shoal::Pipe: socketpair failed: ") + std::strerror(errno));
  }
  if (!duplex) {
    ::shutdown(fds[0], SHUT_WR);
    ::shutdown(fds[1], SHUT_RD);
  }
  Connection first(fds[0], true, duplex);
  Connection second(fds[1], duplex, true);
  auto region = internal::SharedRegion::create(internal::kChannelBytes * (duplex ? 2 : 1));
  std::byte* lane0 = region->data();  // second -> first
  first.state_->in.emplace(lane0, fds[0]);
  second.state_->out.emplace(lane0, fds[1]);
  if (duplex) {
    std::byte* lane1 = lane0 + internal::kChannelBytes;  // first -> second
    first.state_->out.emplace(lane1, fds[0]);
    second.state_->in.emplace(lane1, fds[1]);
  }
  first.state_->region = region;
  second.state_->region = region;
  return {first, second};
}

}  // namespace shoal
