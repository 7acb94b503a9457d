#include "shared/mp/manager_server.h"

#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "shared/endpoint.h"
#include "shared/mp/manager_auth.h"
#include "shared/mp/manager_client.h"
#include "shared/mp/manager_direct.h"
#include "shared/mp/manager_peer_watch.h"
#include "shared/mp/manager_store.h"
#include "shared/zap_handler.h"

namespace shoal::internal {
namespace {

// After serving a request the server polls without sleeping this long: the next
// request of a busy client usually comes within it, and a sleep would cost a wake-up.
constexpr auto kSpinFor = std::chrono::microseconds(50);
// The most a direct client's announced request size reserves before its bytes arrive.
constexpr std::size_t kReservedAhead = std::size_t{64} << 20;

void report(int fd, const std::string& line) {
  std::string text = line + "\n";
  (void)!::write(fd, text.data(), text.size());
  ::close(fd);
}

// ZeroMQ spells "any port" as '*'; accept the usual port 0 too.
std::string bindable(const std::string& endpoint) {
  if (endpoint.rfind("tcp://", 0) == 0 && endpoint.size() > 2 &&
      endpoint.compare(endpoint.size() - 2, 2, ":0") == 0) {
    return endpoint.substr(0, endpoint.size() - 1) + "*";
  }
  return endpoint;
}

// Clients of the direct socket, known to the store by a peer id starting with '\1'
// (ZeroMQ identities never do: libzmq's generated ones start with 0). Each is watched
// through a pidfd of its process, so that locks of a process that died are freed.
class DirectClients {
 public:
  // A closed connection: its peer id, a pidfd of the process that had it (-1 if none
  // could be opened), now the caller's to close, and whether its last reply was cut off
  // (then it never reached the client).
  struct Departed {
    std::string peer;
    int pidfd;
    bool cut_off;
  };

  // Takes a new connection `fd`; closes it instead when the peer is another user (root
  // aside): the abstract socket has no file permissions to keep others out.
  void add(int fd) {
    ucred peer_cred{};
    socklen_t len = sizeof peer_cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer_cred, &len) != 0 ||
        (peer_cred.uid != ::geteuid() && peer_cred.uid != 0)) {
      ::close(fd);
      return;
    }
    std::string peer = "\1" + std::to_string(++counter_);
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, peer_cred.pid, 0));
    by_fd_[fd] = Client{peer, {}, pidfd, false, {}, 0};
    by_peer_[peer] = fd;
  }
  // Closes connection `fd` and records it as departed.
  void remove(int fd) {
    auto it = by_fd_.find(fd);
    if (it == by_fd_.end()) return;
    // Unsent bytes end with a reply: the server reads no request while any wait, and a
    // busy notice is only ever put before them.
    const bool cut_off = it->second.sent < it->second.out.size();
    departed_.push_back(Departed{it->second.peer, it->second.pidfd, cut_off});
    by_peer_.erase(it->second.peer);
    by_fd_.erase(it);
    ::close(fd);
  }
  // The connections closed since the last call.
  std::vector<Departed> take_departed() { return std::exchange(departed_, {}); }
  // Queues `payload` for `peer` and sends what its socket takes now, never blocking;
  // false if the peer is gone. The rest leaves as the client reads (flush()), and a
  // client is read no more while replies wait for it: one that stops reading stalls
  // nobody else, and holds at most the replies to the requests already read from it.
  // (A client that dies with a reply partly sent never got it: what it granted is given
  // back, see watch_departed.)
  bool send(const std::string& peer, const std::string& payload) {
    auto it = by_peer_.find(peer);
    if (it == by_peer_.end()) return false;
    append_frame(by_fd_.at(it->second).out, payload);
    return flush(it->second);
  }
  // Sends what is queued for `fd` as far as its socket takes it; false if the client was
  // dropped (its socket failed).
  bool flush(int fd) {
    auto it = by_fd_.find(fd);
    if (it == by_fd_.end()) return false;
    Client& c = it->second;
    while (c.sent < c.out.size()) {
      ssize_t n = ::send(fd, c.out.data() + c.sent, c.out.size() - c.sent,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
        return true;
      } else {
        remove(fd);
        return false;
      }
    }
    c.sent = 0;
    c.frame_start = 0;
    c.out.clear();
    if (c.out.capacity() > kBusyNoticeBytes) std::string().swap(c.out);  // not kept big
    return true;
  }
  // True while replies wait to leave for `fd`.
  bool pending(int fd) const {
    auto it = by_fd_.find(fd);
    return it != by_fd_.end() && it->second.sent < it->second.out.size();
  }
  // Tells every client `payload` (a busy notice) ahead of what is queued for it. A client
  // partway through a frame gets that frame finished first, waiting for it to make room
  // until `until` at the latest (it is reading: the frame is the reply it waits for); one
  // slower than that misses the notice, which is advice.
  void notify_all(const std::string& payload, ServerClock::time_point until) {
    std::string frame;
    append_frame(frame, payload);
    for (int fd : fds()) {
      if (pending(fd) && !finish_frame(fd, until)) continue;
      auto it = by_fd_.find(fd);
      if (it == by_fd_.end()) continue;
      Client& c = it->second;
      if (c.sent < c.out.size()) {
        c.out.insert(c.sent, frame);  // at a frame's start: the notice goes first
        c.frame_start = c.sent;
        (void)flush(fd);
      } else {
        // A small message on a Unix stream socket goes in whole or not at all.
        (void)::send(fd, frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      }
    }
  }
  // Serves the whole requests waiting in the buffers of clients with no reply waiting
  // (their replies left while the server answered others, so nothing reads them now).
  void handle_waiting(ManagerStore& store, const std::function<void(std::size_t)>& big) {
    for (int fd : fds()) {
      auto it = by_fd_.find(fd);
      if (it != by_fd_.end() && !pending(fd) && whole_frame(it->second.in)) {
        handle_requests(fd, store, big);
      }
    }
  }
  // Reads what `fd` has and hands every whole request to `store`; true if it read any.
  // `big(bytes)` is called once a request of kBusyNoticeBytes or more starts coming in.
  // Nothing is read while replies wait for `fd`.
  bool read(int fd, ManagerStore& store, const std::function<void(std::size_t)>& big) {
    if (!by_fd_.count(fd) || pending(fd)) return false;
    char chunk[16384];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      remove(fd);
      return false;
    }
    if (n < 0) return false;
    by_fd_[fd].in.append(chunk, static_cast<std::size_t>(n));
    handle_requests(fd, store, big);
    return true;
  }
  // Hands the whole requests read from `fd` to `store`, until replies wait for it.
  void handle_requests(int fd, ManagerStore& store, const std::function<void(std::size_t)>& big) {
    if (!by_fd_.count(fd)) return;
    std::string body;
    const std::string peer = by_fd_[fd].peer;
    while (by_fd_.count(fd) && !pending(fd)) {
      Client& client = by_fd_[fd];
      const std::optional<std::size_t> size = frame_size(client.in);
      if (!client.announced && size.has_value() && *size >= kBusyNoticeBytes) {
        client.announced = true;
        // Little copying while it grows, but only up to a bound: the size is the
        // client's claim, and four bytes must not reserve gigabytes.
        client.in.reserve(4 + std::min<std::size_t>(*size, kReservedAhead));
        big(*size);
      }
      if (!take_frame(client.in, body)) break;
      client.announced = false;
      if (client.in.capacity() > kBusyNoticeBytes && client.in.size() < kBusyNoticeBytes) {
        client.in.shrink_to_fit();  // a big request's buffer is not kept
      }
      try {
        store.handle(peer, decode<ManagerRequest>(body));
      } catch (const Error&) {
        remove(fd);  // garbage: drop the client
      }
    }
  }
  std::vector<int> fds() const {
    std::vector<int> out;
    for (const auto& [fd, c] : by_fd_) out.push_back(fd);
    return out;
  }

 private:
  struct Client {
    std::string peer;
    std::string in;
    int pidfd;
    bool announced = false;  // big(...) was called for the request coming in
    std::string out;         // frames not yet sent, from out[sent]
    std::size_t sent = 0;
    std::size_t frame_start = 0;  // where the frame holding out[sent] starts
  };

  // Where the frame that `c` is partway through (or about to start) ends.
  static std::size_t frame_end(Client& c) {
    for (;;) {
      const std::size_t end =
          c.frame_start + 4 + *frame_size(std::string_view(c.out).substr(c.frame_start));
      if (c.sent < end) return end;
      c.frame_start = end;
    }
  }
  // Sends the rest of the frame `fd` is partway through, waiting for room until `until`;
  // true once `fd` is at a frame's start (or has nothing waiting), false if time ran out
  // or the client was dropped.
  bool finish_frame(int fd, ServerClock::time_point until) {
    for (;;) {
      auto it = by_fd_.find(fd);
      if (it == by_fd_.end()) return false;
      Client& c = it->second;
      if (c.sent >= c.out.size()) return true;
      const std::size_t end = frame_end(c);
      if (c.sent == c.frame_start) return true;
      ssize_t n = ::send(fd, c.out.data() + c.sent, end - c.sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<std::size_t>(n);
        if (c.sent == c.out.size()) return flush(fd);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        remove(fd);
        return false;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - ServerClock::now());
      pollfd p{fd, POLLOUT, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
    }
  }
  std::unordered_map<int, Client> by_fd_;
  std::vector<Departed> departed_;
  std::unordered_map<std::string, int> by_peer_;
  uint64_t counter_ = 0;
};

bool zmq_send_reply(zmq::socket_t& socket, const std::string& peer, const std::string& payload) {
  try {
    if (!socket.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return false;
    }
    socket.send(zmq::message_t(), zmq::send_flags::sndmore);
    socket.send(zmq::buffer(payload), zmq::send_flags::none);
    return true;
  } catch (const zmq::error_t&) {
    return false;  // EHOSTUNREACH: the client is gone
  }
}

// Takes every request waiting on the ROUTER socket, noting in `watch` who sent it how
// and in `peers` who sent any. `big(bytes)` is called before a request of
// kBusyNoticeBytes or more is handled.
void read_zmq(zmq::socket_t& socket, PeerWatch& watch, std::unordered_set<std::string>& peers,
              ManagerStore& store, const std::function<void(std::size_t)>& big) {
  while (!store.stopping()) {
    zmq::message_t peer, delimiter, body;
    if (!socket.recv(peer, zmq::recv_flags::dontwait)) return;
    if (!peer.more()) continue;
    (void)socket.recv(delimiter, zmq::recv_flags::none);
    if (!delimiter.more()) continue;
    (void)socket.recv(body, zmq::recv_flags::none);
    while (body.more()) (void)socket.recv(body, zmq::recv_flags::none);
    // The connection's descriptor (the routing id frame, made by the ROUTER, may lack it).
    const int fd = zmq_msg_get(delimiter.handle(), ZMQ_SRCFD);
    if (fd >= 0) watch.saw(peer.to_string(), fd);
    peers.insert(peer.to_string());
    if (body.size() >= kBusyNoticeBytes) big(body.size());
    try {
      store.handle(peer.to_string(),
                   decode<ManagerRequest>(std::string_view(body.data<char>(), body.size())));
    } catch (const Error&) {
      // garbage on the wire: nobody to answer
    }
  }
}

// Gives back what the cut-off last reply of each departed direct client granted, moves
// each that holds a lock into `watched` (its pidfd), and forgets watched ones that no
// longer hold any. Without a pidfd its locks pass on now.
void watch_departed(DirectClients& clients, ManagerStore& store,
                    std::unordered_map<int, std::string>& watched) {
  std::vector<DirectClients::Departed> departed = clients.take_departed();
  if (departed.empty()) return;
  for (auto& d : departed) {
    if (d.cut_off) store.undo_grant(d.peer);
    store.forget_peer(d.peer);
    if (!store.holds_lock(d.peer)) {
      if (d.pidfd >= 0) ::close(d.pidfd);
    } else if (d.pidfd < 0) {
      store.release_locks_of(d.peer);
    } else {
      watched.emplace(d.pidfd, std::move(d.peer));
    }
  }
  for (auto it = watched.begin(); it != watched.end();) {
    if (store.holds_lock(it->second)) {
      ++it;
    } else {
      ::close(it->first);
      it = watched.erase(it);
    }
  }
}

// Makes `socket` a CURVE server for `authkey`; returns the ZAP socket, bound in `ctx`,
// that must admit only `admitted_key` (set here: the client key of `authkey`, Z85).
zmq::socket_t secure(zmq::context_t& ctx, zmq::socket_t& socket, const std::string& authkey,
                     std::string& admitted_key) {
  const ManagerKeys keys = derive_manager_keys(authkey);
  char z85[41];
  zmq_z85_encode(z85, reinterpret_cast<const uint8_t*>(keys.client_public.data()), 32);
  admitted_key = z85;
  zmq::socket_t zap(ctx, zmq::socket_type::rep);
  zap.set(zmq::sockopt::linger, 0);
  zap.bind(kZapEndpoint);
  socket.set(zmq::sockopt::zap_domain, "shoal-manager");
  socket.set(zmq::sockopt::curve_server, true);
  socket.set(zmq::sockopt::curve_secretkey, zmq::buffer(keys.server_secret));
  return zap;
}

}  // namespace

int run_manager_server(const std::string& endpoint, const std::string& direct_name,
                       const std::string& authkey, int ready_fd, int owner_fd) {
  zmq::context_t ctx(1);
  zmq::socket_t socket;  // the ZeroMQ ROUTER, unless only the direct socket is served
  std::optional<PeerWatch> watch;  // its peers' connections
  zmq::socket_t zap;     // with an authkey: admits the clients that know it
  std::string admitted_key;  // their public key, Z85
  std::string served;
  if (!endpoint.empty()) {
    try {
      socket = zmq::socket_t(ctx, zmq::socket_type::router);
      socket.set(zmq::sockopt::router_mandatory, 1);  // replies to departed peers fail visibly
      socket.set(zmq::sockopt::linger, 0);
      socket.set(zmq::sockopt::ipv6, zmq_bind_needs_ipv6(endpoint));
      watch.emplace(ctx, socket);
      if (!authkey.empty()) zap = secure(ctx, socket, authkey, admitted_key);
      socket.bind(bindable(endpoint));
      served = socket.get(zmq::sockopt::last_endpoint);
    } catch (const zmq::error_t& e) {
      report(ready_fd, "error cannot bind " + endpoint + ": " + e.what());
      return 1;
    } catch (const std::exception& e) {
      report(ready_fd, "error cannot secure " + endpoint + ": " + e.what());
      return 1;
    }
  }
  int listener = -1;
  if (!direct_name.empty()) {
    if ((listener = direct_listen(direct_name)) < 0) {
      report(ready_fd, "error cannot listen on @" + direct_name);
      return 1;
    }
    if (served.empty()) served = "unix:@" + direct_name;
  }
  report(ready_fd, "ok " + served);

  DirectClients clients;
  std::unordered_set<std::string> zmq_peers;  // those that sent requests and did not depart
  // The server has one thread: while it copies a big payload nobody else is answered, so
  // it first tells every client to allow for that (each extends the wait for its reply).
  auto announce_busy = [&](std::size_t bytes) {
    clients.notify_all(encode(busy_notice(bytes, true)), ServerClock::now() + kReplyMargin);
    const std::string notice = encode(busy_notice(bytes, false));
    for (auto it = zmq_peers.begin(); it != zmq_peers.end();) {
      it = zmq_send_reply(socket, *it, notice) ? std::next(it) : zmq_peers.erase(it);
    }
  };
  ManagerStore store([&](const std::string& peer, ManagerReply& reply) {
    std::size_t bytes = reply.value.size();
    for (const auto& v : reply.values) bytes += v.size();
    if (bytes >= kBusyNoticeBytes) announce_busy(bytes);
    const std::string payload = encode(reply);
    if (!peer.empty() && peer[0] == '\1') return clients.send(peer, payload);
    return zmq_send_reply(socket, peer, payload);
  });

  // pidfds of processes whose connection closed while they held a lock, by pidfd: when
  // one exits, its locks pass on (a thread that exits leaves its process's locks held).
  std::unordered_map<int, std::string> watched;
  auto last_request = ServerClock::now();
  int last_fd = -1;  // the direct client that spoke last
  unsigned spins = 0;
  std::vector<zmq::pollitem_t> items;
  while (!store.stopping()) {
    const bool spinning = ServerClock::now() - last_request < kSpinFor;
    if (spinning && last_fd >= 0 && (++spins % 16) != 0) {
      // While spinning, look at the last client cheaply; poll everything now and then.
      if (clients.read(last_fd, store, announce_busy)) {
        last_request = ServerClock::now();
        store.expire(last_request);
      } else {
        ::sched_yield();
      }
      continue;
    }
    // Nothing may wait in a buffer while the poll sleeps: requests of clients whose
    // replies have left since they were read (while others were answered) are served.
    clients.handle_waiting(store, announce_busy);
    watch_departed(clients, store, watched);  // before the poll that is to watch them
    items.clear();
    // The ZeroMQ sockets first (those served), then the direct listener and clients.
    if (socket) items.push_back({socket.handle(), 0, ZMQ_POLLIN, 0});
    if (socket) items.push_back({watch->events().handle(), 0, ZMQ_POLLIN, 0});
    if (zap) items.push_back({zap.handle(), 0, ZMQ_POLLIN, 0});
    const std::size_t owner_item = items.size();
    if (owner_fd >= 0) items.push_back({nullptr, owner_fd, ZMQ_POLLIN, 0});
    const std::size_t first_fd = items.size();
    if (listener >= 0) items.push_back({nullptr, listener, ZMQ_POLLIN, 0});
    // A client with replies waiting is not read, only written to as it makes room.
    for (int fd : clients.fds()) {
      items.push_back({nullptr, fd, static_cast<short>(clients.pending(fd) ? ZMQ_POLLOUT
                                                                           : ZMQ_POLLIN), 0});
    }
    for (const auto& [pidfd, peer] : watched) items.push_back({nullptr, pidfd, ZMQ_POLLIN, 0});

    long timeout = -1;
    if (auto next = store.next_deadline()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*next - ServerClock::now());
      timeout = std::max<long>(0, left.count() + 1);
    }
    if (spinning) timeout = 0;
    int ready = 0;
    try {
      ready = zmq::poll(items.data(), items.size(), std::chrono::milliseconds(timeout));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      continue;  // a signal the owner handles (SIGCHLD, SIGWINCH...) is no reason to stop
    }
    if (ready == 0) {
      if (spinning) ::sched_yield();
      store.expire(ServerClock::now());
      continue;
    }
    if (owner_fd >= 0 && (items[owner_item].revents & ZMQ_POLLIN)) break;  // owner exited
    last_request = ServerClock::now();
    const bool departures = socket && ((items[1].revents & ZMQ_POLLIN) || watch->has_departed());
    if (socket && ((items[0].revents & ZMQ_POLLIN) || departures)) {
      // With departures, too: what a client sent before closing (a cancel of a request it
      // gave up on) must be read before its grant is forgotten.
      read_zmq(socket, *watch, zmq_peers, store, announce_busy);
    }
    if (departures) {
      // A closed connection over tcp: its process is gone (or its host), or it closed its
      // socket, which a client process holding locks does not do.
      for (const std::string& peer : watch->take_departed()) {
        store.forget_peer(peer);
        store.release_locks_of(peer);
        zmq_peers.erase(peer);
      }
    }
    if (zap && (items[2].revents & ZMQ_POLLIN)) {
      // A refused client is not told why (CURVE has no way to say it): it times out.
      (void)answer_zap_requests(
          zap, [&](const std::string& key, const std::string&) { return key == admitted_key; });
    }
    for (std::size_t i = first_fd; i < items.size() && !store.stopping(); ++i) {
      if (!(items[i].revents & (ZMQ_POLLIN | ZMQ_POLLOUT | ZMQ_POLLERR))) continue;
      if (clients.pending(items[i].fd)) {
        // Room for its replies (or an error, which drops it); once they have all left,
        // the requests already read from it are served.
        if (clients.flush(items[i].fd) && !clients.pending(items[i].fd)) {
          clients.handle_requests(items[i].fd, store, announce_busy);
        }
        continue;
      }
      if (items[i].fd == listener) {
        int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) clients.add(fd);
      } else if (auto w = watched.find(items[i].fd); w != watched.end()) {
        store.release_locks_of(w->second);  // its process has exited
        ::close(w->first);
        watched.erase(w);
      } else if (clients.read(items[i].fd, store, announce_busy)) {
        last_fd = items[i].fd;
      }
    }
    store.expire(ServerClock::now());
  }
  for (int fd : clients.fds()) clients.remove(fd);
  for (const auto& d : clients.take_departed()) {
    if (d.pidfd >= 0) ::close(d.pidfd);
  }
  for (const auto& [pidfd, peer] : watched) ::close(pidfd);
  if (listener >= 0) ::close(listener);
  return 0;
}

}  // namespace shoal::internal
