#pragma once
// The Manager server's objects and request handling, apart from the socket loop.
// Values are opaque MessagePack bytes; blocking requests are parked as Waiters and
// answered later (or at their deadline) through the Replier.
//
// A client that gives up on a request (no reply within its wait plus the reply margin)
// sends "cancel" with that request's id. The server keeps, per peer, the last lock or
// queue item it granted until the peer's next request shows the reply arrived (each
// client connection has one request in flight at a time); a cancel of a parked request
// drops it, and a cancel of that last grant gives the lock or item back.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "shoal/manager.hpp"

namespace shoal::internal {

using ServerClock = std::chrono::steady_clock;

// Sends `reply` to `peer`; false if the peer is gone (then the reply is dropped).
using Replier = std::function<bool(const std::string& peer, ManagerReply& reply)>;

class ManagerStore {
 public:
  explicit ManagerStore(Replier replier) : reply_(std::move(replier)) {}
  // Answers `request` from `peer` now, or parks it until it can be answered.
  void handle(const std::string& peer, const ManagerRequest& request);
  // Answers parked requests whose deadline passed.
  void expire(ServerClock::time_point now);
  // The earliest deadline of a parked request.
  std::optional<ServerClock::time_point> next_deadline() const;
  // True if `peer` holds a lock.
  bool holds_lock(const std::string& peer) const;
  // `peer`'s process is gone: every lock it holds passes to the longest waiter (or is
  // released), as if it had released them.
  void release_locks_of(const std::string& peer);
  // The last reply to `peer` did not reach it (its connection broke partway through the
  // reply): a lock or queue item that reply granted is given back, as by a cancel.
  void undo_grant(const std::string& peer);
  // `peer` is gone: its unconfirmed grant is taken as received (it may have read the
  // reply before leaving; a client that gave up says so with a cancel first).
  void forget_peer(const std::string& peer) { granted_.erase(peer); }
  bool stopping() const { return stopping_; }

 private:
  struct Waiter {
    std::string peer;
    uint64_t id;
    ServerClock::time_point deadline;
    std::string item;  // a parked put's item
  };
  struct Object {
    std::string kind;
    // dict: insertion order plus an index
    std::list<std::pair<std::string, std::string>> entries;
    std::unordered_map<std::string, std::list<std::pair<std::string, std::string>>::iterator> index;
    std::vector<std::string> items;  // list
    std::deque<std::string> queue;
    std::size_t maxsize = 0;
    bool held = false;           // lock
    std::string holder;          // the peer that acquired a held lock
    std::deque<Waiter> getters;  // queue get / lock acquire
    std::deque<Waiter> putters;
  };

  // A lock or queue item sent to a peer that has not yet shown it received it.
  struct Grant {
    uint64_t id;
    Object* object;    // objects are never erased, and unordered_map nodes do not move
    std::string item;  // a q.get's item; empty for a lock
  };

  bool send(const std::string& peer, uint64_t id, int code, std::string value = {},
            std::vector<std::string> values = {}, std::string error = {});
  bool grant(Object& o, const std::string& peer, uint64_t id, std::string& item);
  void cancel(const std::string& peer, uint64_t id);
  void give_back(const std::string& peer, Grant grant);
  void create(const std::string& peer, const ManagerRequest& r);
  void dict_op(Object& o, const std::string& peer, const ManagerRequest& r);
  void list_op(Object& o, const std::string& peer, const ManagerRequest& r);
  void queue_op(Object& o, const std::string& peer, const ManagerRequest& r);
  void lock_op(Object& o, const std::string& peer, const ManagerRequest& r);
  std::optional<std::string> give_to_getter(Object& o, std::string& item);
  void pass_lock(Object& o);
  void admit_putters(Object& o);

  Replier reply_;
  std::unordered_map<std::string, Object> objects_;
  std::unordered_map<std::string, Grant> granted_;  // by peer: its last, unconfirmed grant
  uint64_t unnamed_ = 0;
  std::size_t parked_ = 0;
  bool stopping_ = false;
};

}  // namespace shoal::internal
