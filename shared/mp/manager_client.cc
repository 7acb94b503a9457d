// The client side of the Manager protocol: one DEALER socket per thread and endpoint,
// in a ZeroMQ context made lazily per process (contexts do not survive fork()).
// Over ZeroMQ the server takes a lock holder's closed connection for its death, so while
// this process holds locks at an endpoint no socket to it closes (one a thread leaves
// behind is kept open until the process's locks there are released).
#include "shared/mp/manager_client.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <zmq.hpp>

#include "shared/endpoint.h"
#include "shared/mp/manager_auth.h"
#include "shared/mp/manager_direct.h"
#include "shared/mp/thread_cache.h"
#include "shoal/manager.hpp"

namespace shoal::internal {
namespace {

// ZeroMQ objects a forked child inherited: unusable there, never closed, but kept
// reachable (a leak checker at the child's exit reported them). Leaked, as they are.
template <class T>
void abandon(T* inherited) {
  static auto* kept = new std::vector<void*>;
  static std::mutex mu;
  std::lock_guard guard(mu);
  kept->push_back(inherited);
}

// Lets go of `socket`, made by another process's context.
void abandon(std::unique_ptr<zmq::socket_t>& socket) {
  if (socket) abandon(socket.release());
}

zmq::context_t& context() {
  static std::mutex mu;
  static pid_t owner = 0;
  static zmq::context_t* ctx = nullptr;
  std::lock_guard guard(mu);
  if (ctx == nullptr || owner != ::getpid()) {
    if (ctx != nullptr) abandon(ctx);  // inherited through fork()
    ctx = new zmq::context_t(1);
    owner = ::getpid();
  }
  return *ctx;
}

struct ClientSocket {
  pid_t pid = 0;
  std::unique_ptr<zmq::socket_t> socket;
  std::string authkey;  // what the socket was made with; empty: no CURVE
  uint64_t next_id = 1;
  // Until when the server said it is busy: a notice may come during one call and the
  // copy it announces last into the next ones.
  std::chrono::steady_clock::time_point busy_until{};
};

// The locks this process holds at each ZeroMQ endpoint (acquired and not released here),
// and the sockets kept open meanwhile.
struct Holdings {
  std::mutex mu;
  pid_t pid = 0;
  std::unordered_map<std::string, std::unordered_set<std::string>> locks;
  std::unordered_multimap<std::string, std::unique_ptr<zmq::socket_t>> kept;

  // Drops what a parent process left: its sockets belong to its context.
  void own() {
    if (pid == ::getpid()) return;
    for (auto& [endpoint, socket] : kept) abandon(socket);
    kept.clear();
    locks.clear();
    pid = ::getpid();
  }
};

Holdings& holdings() {
  static auto* h = new Holdings;  // never destroyed: threads may end after static destructors
  return *h;
}

// Closes `s`'s socket, or keeps it open while this process holds locks at `endpoint`.
void retire(const std::string& endpoint, ClientSocket& s) {
  if (!s.socket) return;
  if (s.pid != ::getpid()) {
    abandon(s.socket);  // owned by another process's context
    return;
  }
  Holdings& h = holdings();
  std::lock_guard guard(h.mu);
  h.own();
  if (auto held = h.locks.find(endpoint); held != h.locks.end() && !held->second.empty()) {
    h.kept.emplace(endpoint, std::move(s.socket));
  } else {
    s.socket.reset();
  }
}

struct SocketCache {
  std::unordered_map<std::string, ClientSocket> sockets;
  ~SocketCache() {
    for (auto& [endpoint, s] : sockets) retire(endpoint, s);
  }
};

// The calling thread's sockets (still there for a static Manager's destructor).
SocketCache& socket_cache() { return thread_cache<SocketCache>(); }

// Endpoints of servers this process shut down, newest last, numbered, so that every
// thread closes its connections to them (at its next call: a thread's sockets are its
// own). Only the latest kForgottenKept are listed; a thread silent for longer than that
// keeps its older ones until it ends.
constexpr std::size_t kForgottenKept = 256;
struct Forgotten {
  std::mutex mu;
  std::atomic<uint64_t> latest{0};
  std::deque<std::pair<uint64_t, std::string>> endpoints;
};

Forgotten& forgotten() {
  static auto* f = new Forgotten;  // never destroyed, like holdings()
  return *f;
}

// Closes the calling thread's connection to `endpoint`.
void close_own_connection(const std::string& endpoint) {
  if (is_direct_endpoint(endpoint)) {
    direct_forget(endpoint);
    return;
  }
  SocketCache& cache = socket_cache();
  if (auto it = cache.sockets.find(endpoint); it != cache.sockets.end()) {
    retire(endpoint, it->second);
    cache.sockets.erase(it);
  }
}

// Closes the calling thread's connections to servers forgotten since it last looked.
void close_forgotten_connections() {
  Forgotten& f = forgotten();
  thread_local uint64_t seen = f.latest.load();
  if (f.latest.load(std::memory_order_acquire) == seen) return;
  std::vector<std::string> gone;
  {
    std::lock_guard guard(f.mu);
    for (const auto& [number, endpoint] : f.endpoints) {
      if (number > seen) gone.push_back(endpoint);
    }
    seen = f.latest.load();
  }
  for (const std::string& endpoint : gone) close_own_connection(endpoint);
}

ClientSocket& socket_for(const std::string& endpoint, const std::string& authkey) {
  ClientSocket& s = socket_cache().sockets[endpoint];
  if (s.socket && s.pid != ::getpid()) abandon(s.socket);
  if (s.socket && s.authkey != authkey) retire(endpoint, s);  // made for another key
  if (s.socket) return s;
  if (endpoint.rfind("tcp://", 0) == 0) {
    if (absl::Status ok = check_tcp_endpoint(endpoint, EndpointUse::kConnect); !ok.ok()) {
      throw Error("shoal::Manager: cannot connect: " + std::string(ok.message()));
    }
  }
  try {
    auto socket = std::make_unique<zmq::socket_t>(context(), zmq::socket_type::dealer);
    socket->set(zmq::sockopt::linger, 0);
    socket->set(zmq::sockopt::ipv6, 1);  // else ZeroMQ reaches IPv4 addresses only
    socket->set(zmq::sockopt::sndtimeo, static_cast<int>(kReplyMargin.count()));
    if (!authkey.empty()) {
      const ManagerKeys keys = derive_manager_keys(authkey);
      socket->set(zmq::sockopt::curve_serverkey, zmq::buffer(keys.server_public));
      socket->set(zmq::sockopt::curve_publickey, zmq::buffer(keys.client_public));
      socket->set(zmq::sockopt::curve_secretkey, zmq::buffer(keys.client_secret));
    }
    socket->connect(endpoint);
    s.socket = std::move(socket);
  } catch (const zmq::error_t& e) {
    throw Error("shoal::Manager: cannot connect to '" + endpoint + "': " + e.what());
  }
  s.authkey = authkey;
  s.pid = ::getpid();
  return s;
}

[[noreturn]] void unreachable(const std::string& endpoint, const std::string& why) {
  throw ConnectionError("shoal::Manager: no answer from the server at " + endpoint + " (" + why +
                        ")");
}

// Whether a TCP connection to `endpoint` ("tcp://HOST:PORT", HOST numeric) is refused:
// then nothing listens there. False when it is accepted or that cannot be told.
bool connection_refused(const std::string& endpoint) {
  constexpr std::string_view kScheme = "tcp://";
  if (endpoint.rfind(kScheme, 0) != 0) return false;
  const std::size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon < kScheme.size()) return false;
  std::string host = endpoint.substr(kScheme.size(), colon - kScheme.size());
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port = endpoint.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;  // no name lookups on this path
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return false;
  bool refused = false;
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    if (::connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
      if (errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int error = 0;
        socklen_t len = sizeof error;
        if (::poll(&p, 1, 200) == 1 &&
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0) {
          refused = error == ECONNREFUSED;
        }
      } else {
        refused = errno == ECONNREFUSED;
      }
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return refused;
}

// Why nothing answered at ZeroMQ `endpoint`, for a client with `authkey` ("" none).
std::string why_no_answer(const std::string& endpoint, const std::string& authkey) {
  if (connection_refused(endpoint)) return "nothing listens there: no server, or it was shut down";
  return std::string("nothing answered in time: the server is gone, wedged or cut off, or ") +
         (authkey.empty() ? "it has an authkey and ignores clients without it"
                          : "it has another authkey and ignores this one");
}

// Tells the server that the caller gave up on request `id`: it drops the request if it
// is still parked, and gives back a lock or item it granted to it (manager_store.h).
// Unanswered and best effort: the socket lingers up to the reply margin once closed, for
// the message to leave.
void send_cancel(zmq::socket_t& socket, uint64_t id) {
  ManagerRequest cancel;
  cancel.id = id;
  cancel.op = "cancel";
  try {
    socket.set(zmq::sockopt::linger, static_cast<int>(kReplyMargin.count()));
    if (socket.send(zmq::message_t(), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      (void)socket.send(zmq::buffer(encode(cancel)), zmq::send_flags::dontwait);
    }
  } catch (const zmq::error_t&) {
    // the socket is failing: its connection, and with it the request, is gone
  }
}

// Runs `op`, a ZeroMQ call, again while a signal the process handles interrupts it.
template <typename Op>
auto retry_eintr(Op&& op) {
  for (;;) {
    try {
      return op();
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
  }
}

ManagerReply zmq_call(const std::string& endpoint, const std::string& authkey,
                      ManagerRequest& request, std::chrono::milliseconds wait) {
  ClientSocket& s = socket_for(endpoint, authkey);
  request.id = s.next_id++;
  const std::string payload = encode(request);
  auto deadline = std::max(
      std::chrono::steady_clock::now() + wait + kReplyMargin + transfer_allowance(payload.size()),
      s.busy_until + kReplyMargin);
  bool sent = false;  // once it is, a failure must give back what the server may grant
  try {
    if (!retry_eintr([&] { return s.socket->send(zmq::message_t(), zmq::send_flags::sndmore); }) ||
        !retry_eintr([&] { return s.socket->send(zmq::buffer(payload), zmq::send_flags::none); })) {
      retire(endpoint, s);
      unreachable(endpoint, "send timed out");
    }
    sent = true;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      zmq::pollitem_t item{s.socket->handle(), 0, ZMQ_POLLIN, 0};
      int ready = 0;
      if (left.count() > 0) {
        try {
          ready = zmq::poll(&item, 1, left);
        } catch (const zmq::error_t& e) {
          if (e.num() != EINTR) throw;
          continue;  // a handled signal: wait again for what is left of the deadline
        }
      }
      if (ready == 0) {
        send_cancel(*s.socket, request.id);
        retire(endpoint, s);  // a late reply must not meet the next request
        unreachable(endpoint, why_no_answer(endpoint, authkey));
      }
      zmq::message_t delimiter, body;
      (void)retry_eintr([&] { return s.socket->recv(delimiter, zmq::recv_flags::none); });
      if (!delimiter.more()) continue;
      (void)retry_eintr([&] { return s.socket->recv(body, zmq::recv_flags::none); });
      while (body.more()) {
        (void)retry_eintr([&] { return s.socket->recv(body, zmq::recv_flags::none); });
      }
      auto reply = decode<ManagerReply>(std::string_view(body.data<char>(), body.size()));
      if (reply.id == request.id) return reply;
      // A busy notice, maybe one that came before this request: it is taken as fresh.
      if (auto until = busy_until(reply, std::chrono::steady_clock::now())) {
        s.busy_until = std::max(s.busy_until, *until);
        deadline = std::max(deadline, *until + kReplyMargin);
      }
    }
  } catch (const zmq::error_t& e) {
    if (sent) send_cancel(*s.socket, request.id);  // the reply may have granted something
    retire(endpoint, s);
    unreachable(endpoint, e.what());
  }
}

}  // namespace

ManagerReply busy_notice(std::size_t bytes, bool local) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  ManagerReply notice;
  notice.id = 0;
  notice.code = kManagerBusy;
  const milliseconds busy = transfer_allowance(bytes);
  notice.value =
      local ? "@" + std::to_string(duration_cast<milliseconds>(
                                       (std::chrono::steady_clock::now() + busy).time_since_epoch())
                                       .count())
            : std::to_string(busy.count());
  return notice;
}

std::optional<std::chrono::steady_clock::time_point> busy_until(
    const ManagerReply& reply, std::chrono::steady_clock::time_point now) {
  if (reply.id != 0 || reply.code != kManagerBusy || reply.value.empty()) return std::nullopt;
  const bool local = reply.value[0] == '@';
  int64_t ms = 0;
  for (std::size_t i = local ? 1 : 0; i < reply.value.size(); ++i) {
    const char c = reply.value[i];
    if (c < '0' || c > '9' || ms > (int64_t{1} << 50)) return std::nullopt;
    ms = ms * 10 + (c - '0');
  }
  if (local) return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms));
  return now + std::min(std::chrono::milliseconds(ms), std::chrono::milliseconds(86'400'000));
}

void forget_manager_endpoint(const std::string& endpoint) {
  if (!is_direct_endpoint(endpoint)) {
    Holdings& h = holdings();
    std::lock_guard guard(h.mu);
    h.own();
    h.locks.erase(endpoint);  // the server and its locks are gone
    h.kept.erase(endpoint);
  }
  Forgotten& f = forgotten();
  {
    std::lock_guard guard(f.mu);
    const uint64_t number = f.latest.load() + 1;
    f.endpoints.emplace_back(number, endpoint);
    if (f.endpoints.size() > kForgottenKept) f.endpoints.pop_front();
    f.latest.store(number, std::memory_order_release);
  }
  close_own_connection(endpoint);
}

ManagerReply manager_call_with_key(const std::string& endpoint, const std::string& authkey,
                                   ManagerRequest& request, std::chrono::milliseconds wait) {
  close_forgotten_connections();
  if (is_direct_endpoint(endpoint)) {
    thread_local uint64_t next_id = 1;
    request.id = next_id++;
    const std::string payload = encode(request);
    const auto deadline = std::chrono::steady_clock::now() + wait + kReplyMargin +
                          transfer_allowance(payload.size());
    return direct_call(endpoint, payload, request.id, deadline);
  }
  return zmq_call(endpoint, authkey, request, wait);
}

ManagerReply manager_call(const std::string& endpoint, ManagerRequest& request,
                          std::chrono::milliseconds wait) {
  return manager_call_with_key(
      endpoint, is_direct_endpoint(endpoint) ? std::string() : manager_authkey_for(endpoint),
      request, wait);
}

ManagerReply proxy_call(const ProxyRef& ref, const char* op, ManagerRequest request,
                        std::initializer_list<int> accepted, std::chrono::milliseconds wait) {
  if (ref.endpoint.empty()) throw std::logic_error("shoal: this proxy refers to no object");
  request.op = op;
  request.name = ref.name;
  request.kind = ref.kind;
  ManagerReply reply = manager_call(ref.endpoint, request, wait);
  if (reply.code == kManagerOk) return reply;
  for (int code : accepted) {
    if (reply.code == code) return reply;
  }
  const std::string what =
      std::string("shoal::") + ref.kind + " '" + ref.name + "' " + op + ": " + reply.error;
  switch (reply.code) {
    case kManagerNotFound:
    case kManagerIndex:
      throw std::out_of_range(what);
    case kManagerEmpty:
      throw Empty(what);
    case kManagerFull:
      throw Full(what);
    case kManagerTimedOut:
      throw TimeoutError(what);
    case kManagerMisuse:
      throw std::logic_error(what);
    default:
      throw Error(what);
  }
}

namespace {

// Notes that this process acquired (`held`) or released the lock `ref`.
void note_lock(const ProxyRef& ref, bool held) {
  if (is_direct_endpoint(ref.endpoint)) return;  // there the server watches the process
  Holdings& h = holdings();
  std::lock_guard guard(h.mu);
  h.own();
  auto& names = h.locks[ref.endpoint];
  if (held) {
    names.insert(ref.name);
  } else if (names.erase(ref.name) != 0 && names.empty()) {
    h.kept.erase(ref.endpoint);  // no lock of this process left there
  }
}

}  // namespace

std::chrono::milliseconds slice_until(const Deadline& deadline) {
  if (!deadline) return kManagerSlice;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      *deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return std::chrono::milliseconds(0);
  return std::min(left, kManagerSlice);
}

}  // namespace shoal::internal

namespace shoal {

bool LockProxy::acquire_until(const internal::Deadline& deadline) {
  for (;;) {
    internal::ManagerRequest req;
    auto wait = internal::slice_until(deadline);
    req.n = wait.count();
    auto r =
        internal::proxy_call(ref_, "k.acquire", std::move(req), {internal::kManagerTimedOut}, wait);
    if (r.code == internal::kManagerOk) {
      internal::note_lock(ref_, true);
      return true;
    }
    if (internal::slice_until(deadline).count() == 0) return false;
  }
}

bool LockProxy::try_acquire() {
  auto r = internal::proxy_call(ref_, "k.acquire", {}, {internal::kManagerTimedOut});
  if (r.code != internal::kManagerOk) return false;
  internal::note_lock(ref_, true);
  return true;
}

void LockProxy::release() {
  internal::proxy_call(ref_, "k.release");
  internal::note_lock(ref_, false);
}

}  // namespace shoal
