#include "shared/mp/manager_direct.h"

#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "shared/mp/manager_client.h"
#include "shared/mp/thread_cache.h"

namespace shoal::internal {
namespace {

constexpr std::string_view kScheme = "unix:@";
constexpr auto kSpinFor = std::chrono::microseconds(50);

bool make_address(const std::string& name, sockaddr_un& addr, socklen_t& len) {
  if (name.size() + 1 > sizeof(addr.sun_path)) return false;
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());  // sun_path[0] = 0: abstract
  len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return true;
}

struct DirectSocket {
  pid_t pid = 0;
  int fd = -1;
  std::string in;
  // Until when the server said it is busy: a notice may come during one call and the
  // copy it announces last into the next ones.
  std::chrono::steady_clock::time_point busy_until{};
  void reset() {
    if (fd >= 0) ::close(fd);  // in a forked child this closes only the child's copy
    fd = -1;
    in.clear();
  }
};

struct DirectCache {
  std::unordered_map<std::string, DirectSocket> sockets;
  ~DirectCache() {
    for (auto& [endpoint, s] : sockets) s.reset();
  }
};

// The calling thread's connections (still there for a static Manager's destructor).
DirectCache& cache() { return thread_cache<DirectCache>(); }

// Tells the server that the caller gave up on request `id` (manager_store.h), ahead of
// closing the connection: the server reads it before it sees the connection close.
// Never blocks; a small frame goes into a Unix stream socket whole or not at all.
void send_cancel(int fd, uint64_t id) {
  ManagerRequest cancel;
  cancel.id = id;
  cancel.op = "cancel";
  std::string frame;
  append_frame(frame, encode(cancel));
  (void)::send(fd, frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

[[noreturn]] void unreachable(DirectSocket& s, const std::string& endpoint, const char* why) {
  s.reset();
  throw ConnectionError("shoal::Manager: no answer from the server at " + endpoint + " (" + why +
                        ")");
}

DirectSocket& connected(const std::string& endpoint) {
  DirectSocket& s = cache().sockets[endpoint];
  if (s.fd >= 0 && s.pid == ::getpid()) return s;
  s.reset();
  sockaddr_un addr;
  socklen_t len;
  if (!make_address(endpoint.substr(kScheme.size()), addr, len)) {
    unreachable(s, endpoint, "name too long");
  }
  s.fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s.fd < 0 || ::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    unreachable(s, endpoint, std::strerror(errno));
  }
  s.pid = ::getpid();
  return s;
}

}  // namespace

bool is_direct_endpoint(const std::string& endpoint) {
  return endpoint.compare(0, kScheme.size(), kScheme) == 0;
}

void direct_forget(const std::string& endpoint) {
  auto it = cache().sockets.find(endpoint);
  if (it == cache().sockets.end()) return;
  it->second.reset();  // in a forked child, the child's copy
  cache().sockets.erase(it);
}

void append_frame(std::string& out, std::string_view payload) {
  uint32_t n = static_cast<uint32_t>(payload.size());
  out.append(reinterpret_cast<const char*>(&n), 4);
  out.append(payload);
}

std::optional<std::size_t> frame_size(std::string_view buffer) {
  if (buffer.size() < 4) return std::nullopt;
  uint32_t n;
  std::memcpy(&n, buffer.data(), 4);
  return n;
}

bool whole_frame(std::string_view buffer) {
  const std::optional<std::size_t> n = frame_size(buffer);
  return n.has_value() && buffer.size() - 4 >= *n;
}

bool take_frame(std::string& buffer, std::string& payload) {
  if (!whole_frame(buffer)) return false;
  const std::size_t n = *frame_size(buffer);
  payload.assign(buffer, 4, n);
  buffer.erase(0, 4 + n);
  return true;
}

namespace {

// Sends `frame` on `s` by `deadline`, which busy notices read meanwhile extend (the
// server stops reading while it copies a big payload). A server that reads nothing (one
// stopped by SIGSTOP) must not hold the caller in send() past its timeout; a frame sent
// in part leaves the connection unusable, so unreachable() closes it.
void send_frame(DirectSocket& s, const std::string& endpoint, std::string_view frame,
                std::chrono::steady_clock::time_point& deadline) {
  char chunk[16384];
  std::string body;
  while (!frame.empty()) {
    ssize_t n = ::send(s.fd, frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      frame.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      unreachable(s, endpoint, "the server closed the connection");
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) unreachable(s, endpoint, "timed out sending the request");
    pollfd p{s.fd, POLLOUT | POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) continue;
    if (!(p.revents & POLLIN)) continue;
    const ssize_t got = ::recv(s.fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (got == 0) unreachable(s, endpoint, "the server closed the connection");
    if (got < 0) continue;
    s.in.append(chunk, static_cast<std::size_t>(got));
    // Whole busy notices are taken in now (a reply cannot come before the request is
    // whole); anything else stays for the reading loop.
    while (whole_frame(s.in)) {
      const std::size_t size = *frame_size(s.in);
      const std::string_view first(s.in.data() + 4, size);
      const auto reply = decode<ManagerReply>(first);
      const auto until = busy_until(reply, std::chrono::steady_clock::now());
      if (!until) break;
      s.busy_until = std::max(s.busy_until, *until);
      deadline = std::max(deadline, *until + kReplyMargin);
      s.in.erase(0, 4 + size);
    }
  }
}

}  // namespace

ManagerReply direct_call(const std::string& endpoint, const std::string& payload, uint64_t id,
                         std::chrono::steady_clock::time_point deadline) {
  DirectSocket& s = connected(endpoint);
  std::string frame;
  append_frame(frame, payload);
  deadline = std::max(deadline, s.busy_until + kReplyMargin);
  send_frame(s, endpoint, frame, deadline);
  const auto spin_until = std::chrono::steady_clock::now() + kSpinFor;
  std::string body;
  char chunk[16384];
  bool sized = false;  // the deadline allows for the size of the frame coming in
  for (;;) {
    if (!sized && s.in.size() >= 4) {
      sized = true;
      if (const std::size_t size = *frame_size(s.in); size >= kBusyNoticeBytes) {
        deadline = std::max(deadline, std::chrono::steady_clock::now() + kReplyMargin +
                                          transfer_allowance(size));
      }
    }
    while (take_frame(s.in, body)) {
      sized = false;
      auto reply = decode<ManagerReply>(body);
      if (reply.id == id) return reply;
      // A busy notice (one from before this request says a moment already past).
      if (auto until = busy_until(reply, std::chrono::steady_clock::now())) {
        s.busy_until = std::max(s.busy_until, *until);
        deadline = std::max(deadline, *until + kReplyMargin);
      }
    }
    ssize_t n = ::recv(s.fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      s.in.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) unreachable(s, endpoint, "the server closed the connection");
    if (errno == EINTR) continue;
    if (errno != EAGAIN) unreachable(s, endpoint, std::strerror(errno));
    auto now = std::chrono::steady_clock::now();
    if (now < spin_until) {  // the reply usually comes within microseconds
      ::sched_yield();
      continue;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    if (left.count() <= 0) {
      send_cancel(s.fd, id);
      unreachable(s, endpoint, "timed out");
    }
    pollfd p{s.fd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
}

int direct_listen(const std::string& name) {
  sockaddr_un addr;
  socklen_t len;
  if (!make_address(name, addr, len)) return -1;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 128) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace shoal::internal
