// The client side of the Manager protocol: one DEALER socket per thread and endpoint,
// in a ZeroMQ context made lazily per process (contexts do not survive fork()).
// Over ZeroMQ the server takes a lock holder's closed connection for its death, so while
// this process holds locks at an endpoint no socket to it closes (one a thread leaves
// behind is kept open until the process's locks there are released).
#include <unistd.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <zmq.hpp>

#include "shared/mp/manager_auth.h"
#include "shared/mp/manager_direct.h"
#include "shoal/manager.hpp"

namespace shoal::internal {
namespace {

// How long a reply may take beyond the server-side wait before the server counts as gone.
constexpr std::chrono::milliseconds kReplyMargin{750};

zmq::context_t& context() {
  static std::mutex mu;
  static pid_t owner = 0;
  static zmq::context_t* ctx = nullptr;
  std::lock_guard guard(mu);
  if (ctx == nullptr || owner != ::getpid()) {
    // A context inherited through fork() is unusable here; it is leaked, never closed.
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
    for (auto& [endpoint, socket] : kept) (void)socket.release();
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
    (void)s.socket.release();  // owned by another process's context
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

ClientSocket& socket_for(const std::string& endpoint) {
  thread_local SocketCache cache;
  ClientSocket& s = cache.sockets[endpoint];
  if (s.socket && s.pid != ::getpid()) (void)s.socket.release();
  if (!s.socket) {
    s.socket = std::make_unique<zmq::socket_t>(context(), zmq::socket_type::dealer);
    s.socket->set(zmq::sockopt::linger, 0);
    s.socket->set(zmq::sockopt::ipv6, 1);  // else ZeroMQ reaches IPv4 addresses only
    s.socket->set(zmq::sockopt::sndtimeo, static_cast<int>(kReplyMargin.count()));
    s.authkey = manager_authkey_for(endpoint);
    if (!s.authkey.empty()) {
      const ManagerKeys keys = derive_manager_keys(s.authkey);
      s.socket->set(zmq::sockopt::curve_serverkey, zmq::buffer(keys.server_public));
      s.socket->set(zmq::sockopt::curve_publickey, zmq::buffer(keys.client_public));
      s.socket->set(zmq::sockopt::curve_secretkey, zmq::buffer(keys.client_secret));
    }
    s.socket->connect(endpoint);
    s.pid = ::getpid();
  }
  return s;
}

[[noreturn]] void unreachable(const std::string& endpoint, const std::string& why) {
  throw ConnectionError("shoal::Manager: no answer from the server at " + endpoint + " (" + why +
                        ")");
}

}  // namespace

ManagerReply manager_call(const std::string& endpoint, ManagerRequest& request,
                          std::chrono::milliseconds wait) {
  if (is_direct_endpoint(endpoint)) {
    thread_local uint64_t next_id = 1;
    request.id = next_id++;
    return direct_call(endpoint, encode(request), request.id,
                       std::chrono::steady_clock::now() + wait + kReplyMargin);
  }
  ClientSocket& s = socket_for(endpoint);
  request.id = s.next_id++;
  const std::string payload = encode(request);
  const auto deadline = std::chrono::steady_clock::now() + wait + kReplyMargin;
  try {
    if (!s.socket->send(zmq::message_t(), zmq::send_flags::sndmore) ||
        !s.socket->send(zmq::buffer(payload), zmq::send_flags::none)) {
      retire(endpoint, s);
      unreachable(endpoint, "send timed out");
    }
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      zmq::pollitem_t item{s.socket->handle(), 0, ZMQ_POLLIN, 0};
      if (left.count() <= 0 || zmq::poll(&item, 1, left) == 0) {
        retire(endpoint, s);  // a late reply must not meet the next request
        unreachable(endpoint, s.authkey.empty()
                                  ? "timed out; a server with an authkey ignores clients without it"
                                  : "timed out; a server with another authkey ignores this one");
      }
      zmq::message_t delimiter, body;
      (void)s.socket->recv(delimiter, zmq::recv_flags::none);
      if (!delimiter.more()) continue;
      (void)s.socket->recv(body, zmq::recv_flags::none);
      while (body.more()) (void)s.socket->recv(body, zmq::recv_flags::none);
      auto reply = decode<ManagerReply>(std::string_view(body.data<char>(), body.size()));
      if (reply.id == request.id) return reply;
    }
  } catch (const zmq::error_t& e) {
    retire(endpoint, s);
    unreachable(endpoint, e.what());
  }
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
