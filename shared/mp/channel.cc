#include "shared/mp/channel.h"

#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "shared/mp/futex.h"
#include "shoal/errors.hpp"
#include "shoal/internal/deadline.h"

namespace shoal::internal {
namespace {

constexpr uint64_t kRecordHeader = 8;
constexpr uint32_t kBigMessage = 1;  // record flag: the payload follows on the socket
constexpr auto kSpinFor = std::chrono::microseconds(50);
constexpr int kPeerCheckMs = 100;

uint64_t record_size(uint64_t len) { return kRecordHeader + ((len + 7) & ~uint64_t{7}); }

std::atomic<uint32_t>* low_word(std::atomic<uint64_t>* position) {
  return reinterpret_cast<std::atomic<uint32_t>*>(position);  // little-endian
}

[[noreturn]] void broken(const char* what) {
  throw ConnectionError(std::string("shoal::Connection::") + what +
                        ": the other end is closed (broken pipe)");
}

void send_all(int fd, const iovec* iov_in, int count) {
  iovec iov[3];
  std::memcpy(iov, iov_in, sizeof(iovec) * static_cast<std::size_t>(count));
  iovec* next = iov;
  while (count > 0) {
    msghdr msg{};
    msg.msg_iov = next;
    msg.msg_iovlen = static_cast<std::size_t>(count);
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      broken("send");
    }
    auto left = static_cast<std::size_t>(n);
    while (count > 0 && left >= next->iov_len) {
      left -= next->iov_len;
      ++next;
      --count;
    }
    if (count > 0) {
      next->iov_base = static_cast<char*>(next->iov_base) + left;
      next->iov_len -= left;
    }
  }
}

// Reads exactly `n` bytes from the socket; false at end-of-file.
bool read_exact(int fd, char* out, std::size_t n) {
  while (n > 0) {
    ssize_t r = ::recv(fd, out, n, 0);
    if (r == 0) return false;
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    out += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace

bool recv_claimed(int fd, uint64_t len, std::string& out) {
  std::size_t have = out.size();
  while (have < len) {
    if (out.size() == have) {  // full: room for the rest, up to twice what came
      out.resize(static_cast<std::size_t>(
          std::min<uint64_t>(len, std::max<uint64_t>(kAllocatedAhead, uint64_t{have} * 2))));
    }
    ssize_t n = ::recv(fd, out.data() + have, out.size() - have, 0);
    if (n > 0) {
      have += static_cast<std::size_t>(n);
    } else if (n == 0 || errno != EINTR) {
      if (n == 0) errno = 0;
      out.resize(have);
      return false;
    }
  }
  return true;
}

void Channel::wait_for_space(uint64_t need) {
  const uint64_t tail = h_->tail.load(std::memory_order_relaxed);
  auto has_space = [&] {
    return tail + need - h_->head.load(std::memory_order_seq_cst) <= kChannelRing;
  };
  if (has_space()) return;
  for (;;) {
    uint64_t head = h_->head.load(std::memory_order_acquire);
    if (tail + need - head <= kChannelRing) return;
    h_->writer_waiting.store(1, std::memory_order_seq_cst);
    if (!has_space()) {
      auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kPeerCheckMs);
      if (!futex_wait(low_word(&h_->head), static_cast<uint32_t>(head), deadline)) {
        pollfd p{fd_, 0, 0};  // the reader closed: POLLHUP
        if (::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR))) broken("send");
      }
    }
    h_->writer_waiting.store(0, std::memory_order_relaxed);
  }
}

void Channel::send(std::string_view bytes) {
  const bool big = bytes.size() > kChannelRing / 4;
  const uint64_t rec = big ? kRecordHeader : record_size(bytes.size());
  wait_for_space(rec);
  const uint64_t tail = h_->tail.load(std::memory_order_relaxed);
  uint32_t header[2] = {big ? 0u : static_cast<uint32_t>(bytes.size()), big ? kBigMessage : 0u};
  std::memcpy(ring_ + tail % kChannelRing, header, sizeof header);
  if (!big) {
    const uint64_t at = (tail + kRecordHeader) % kChannelRing;
    const uint64_t first = std::min<uint64_t>(bytes.size(), kChannelRing - at);
    std::memcpy(ring_ + at, bytes.data(), first);
    if (first < bytes.size()) std::memcpy(ring_, bytes.data() + first, bytes.size() - first);
  }
  h_->tail.store(tail + rec, std::memory_order_seq_cst);
  if (big) {
    char tag = 'D';
    uint64_t len = bytes.size();
    iovec iov[3] = {{&tag, 1}, {&len, 8}, {const_cast<char*>(bytes.data()), bytes.size()}};
    send_all(fd_, iov, bytes.empty() ? 2 : 3);
  } else if (h_->reader_sleeping.load(std::memory_order_seq_cst) != 0) {
    char tag = 'W';
    iovec iov[1] = {{&tag, 1}};
    send_all(fd_, iov, 1);
  }
}

bool Channel::has_record() const {
  // seq_cst: pairs with the writer's store of tail and load of reader_sleeping.
  return h_->tail.load(std::memory_order_seq_cst) != h_->head.load(std::memory_order_relaxed);
}

// Sleeps in poll() on the socket until a wake-up token, a big message or end-of-file
// arrives (or `timeout_ms` passes, negative: never). Consumes wake-up tokens only.
// Returns false at end-of-file.
bool Channel::sleep_until_woken(int timeout_ms) {
  h_->reader_sleeping.store(1, std::memory_order_seq_cst);
  bool alive = true;
  if (!has_record()) {
    pollfd p{fd_, POLLIN, 0};
    int r;
    do {
      r = ::poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r > 0) {
      char peek[64];
      ssize_t n = ::recv(fd_, peek, sizeof peek, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0) {
        alive = false;
      } else if (n > 0) {
        ssize_t tokens = 0;
        while (tokens < n && peek[tokens] == 'W') ++tokens;
        if (tokens > 0) (void)::recv(fd_, peek, static_cast<std::size_t>(tokens), 0);
        // Anything else follows the marker record of a big message: with none, the writer
        // broke the protocol, and waiting again would find the same bytes for ever.
        if (tokens < n && !has_record()) {
          h_->reader_sleeping.store(0, std::memory_order_relaxed);
          throw Error("shoal::Connection::recv: corrupt stream (data without a record)");
        }
      }
    }
  }
  h_->reader_sleeping.store(0, std::memory_order_relaxed);
  return alive;
}

// Reads the big message announced by a marker record: skips wake-up tokens, then
// takes the 'D' frame.
std::string Channel::read_big() {
  for (;;) {
    char tag;
    if (!read_exact(fd_, &tag, 1)) {
      throw EOFError("shoal::Connection::recv: the other end closed mid-message");
    }
    if (tag == 'W') continue;
    uint64_t len = 0;
    if (tag != 'D' || !read_exact(fd_, reinterpret_cast<char*>(&len), 8)) {
      throw Error("shoal::Connection::recv: corrupt stream");
    }
    std::string out;
    if (!recv_claimed(fd_, len, out)) {
      throw EOFError("shoal::Connection::recv: the other end closed mid-message");
    }
    return out;
  }
}

std::string Channel::recv() {
  auto spin_until = std::chrono::steady_clock::now() + kSpinFor;
  while (!has_record()) {
    if (std::chrono::steady_clock::now() < spin_until) {
      for (int i = 0; i < 64 && !has_record(); ++i) cpu_relax();
      if (!has_record()) ::sched_yield();
      continue;
    }
    if (!sleep_until_woken(-1) && !has_record()) {
      throw EOFError("shoal::Connection::recv: the other end is closed");
    }
  }
  const uint64_t head = h_->head.load(std::memory_order_relaxed);
  const uint64_t filled = h_->tail.load(std::memory_order_acquire) - head;
  uint32_t header[2];
  std::memcpy(header, ring_ + head % kChannelRing, sizeof header);
  const bool big = (header[1] & kBigMessage) != 0;
  // What the writer never writes: a record that would overrun the ring or what was
  // published, or a ring fuller than it can be (reading on would loop or read astray).
  if (filled > kChannelRing || header[1] > kBigMessage || (big && header[0] != 0) ||
      (!big && (header[0] > kChannelRing / 4 || record_size(header[0]) > filled))) {
    throw Error("shoal::Connection::recv: corrupt stream (a bad record)");
  }
  std::string out;
  if (!big) {
    out.resize(header[0]);
    const uint64_t at = (head + kRecordHeader) % kChannelRing;
    const uint64_t first = std::min<uint64_t>(header[0], kChannelRing - at);
    std::memcpy(out.data(), ring_ + at, first);
    if (first < header[0]) std::memcpy(out.data() + first, ring_, header[0] - first);
  }
  h_->head.store(head + (big ? kRecordHeader : record_size(header[0])), std::memory_order_seq_cst);
  if (h_->writer_waiting.load(std::memory_order_seq_cst) != 0) futex_wake(low_word(&h_->head), 1);
  return big ? read_big() : out;
}

bool Channel::poll(std::chrono::milliseconds timeout) {
  if (has_record()) return true;
  const auto deadline = deadline_after(timeout);
  for (;;) {
    const int left = internal::poll_timeout_ms(deadline);
    if (!sleep_until_woken(left)) return true;  // end-of-file: recv() would not block
    if (has_record()) return true;
    if (left == 0) return false;
  }
}

}  // namespace shoal::internal
