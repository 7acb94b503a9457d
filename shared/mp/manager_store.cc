#include "shared/mp/manager_store.h"

#include <algorithm>

namespace shoal::internal {
namespace {

// Python-style index into a sequence of `size`; nullopt when out of range.
std::optional<std::size_t> normalize(int64_t index, std::size_t size) {
  int64_t i = index < 0 ? index + static_cast<int64_t>(size) : index;
  if (i < 0 || i >= static_cast<int64_t>(size)) return std::nullopt;
  return static_cast<std::size_t>(i);
}

// A wait of `ms` from now. Clients wait in slices of kManagerSlice; a request asking
// for more (or a negative wait) is cut to [0, one hour], so no deadline overflows.
ServerClock::time_point after(int64_t ms) {
  constexpr int64_t kLongest = 3'600'000;
  return ServerClock::now() + std::chrono::milliseconds(std::clamp<int64_t>(ms, 0, kLongest));
}

// The letter the operations on an object of `kind` start with ("d.set" is a dict's).
char op_family(const std::string& kind) { return kind == "lock" ? 'k' : kind[0]; }

}  // namespace

bool ManagerStore::send(const std::string& peer, uint64_t id, int code, std::string value,
                        std::vector<std::string> values, std::string error) {
  ManagerReply r;
  r.id = id;
  r.code = code;
  r.value = std::move(value);
  r.values = std::move(values);
  r.error = std::move(error);
  return reply_(peer, r);
}

void ManagerStore::handle(const std::string& peer, const ManagerRequest& r) {
  if (r.op == "cancel") {  // unanswered: the client stopped waiting
    cancel(peer, r.id);
    return;
  }
  // A new request: the client read the reply to its last one.
  if (!granted_.empty()) granted_.erase(peer);
  if (r.op == "ping") {
    send(peer, r.id, kManagerOk);
    return;
  }
  if (r.op == "shutdown") {
    stopping_ = true;
    send(peer, r.id, kManagerOk);
    return;
  }
  if (r.op == "create") {
    create(peer, r);
    return;
  }
  auto it = objects_.find(r.name);
  if (it == objects_.end()) {
    send(peer, r.id, kManagerFailed, {}, {}, "no such object on this server");
    return;
  }
  Object& o = it->second;
  if (o.kind != r.kind) {
    send(peer, r.id, kManagerFailed, {}, {}, "the object is a " + o.kind);
    return;
  }
  // An operation of another kind ("q.put" on a lock) would reach fields the object does
  // not use, or its waiters: a lock's acquirers would be handed a queue's items.
  if (r.op.size() < 2 || r.op[0] != op_family(o.kind) || r.op[1] != '.') {
    send(peer, r.id, kManagerFailed, {}, {}, "unknown operation " + r.op + " for a " + o.kind);
    return;
  }
  switch (r.op[0]) {
    case 'd':
      return dict_op(o, peer, r);
    case 'l':
      return list_op(o, peer, r);
    case 'q':
      return queue_op(o, peer, r);
    case 'k':
      return lock_op(o, peer, r);
    default:
      send(peer, r.id, kManagerFailed, {}, {}, "unknown operation " + r.op);
  }
}

void ManagerStore::create(const std::string& peer, const ManagerRequest& r) {
  static const char* kKinds[] = {"dict", "list", "queue", "lock"};
  if (std::find(std::begin(kKinds), std::end(kKinds), r.kind) == std::end(kKinds)) {
    send(peer, r.id, kManagerFailed, {}, {}, "unknown kind " + r.kind);
    return;
  }
  std::string name = r.name;
  if (name.empty()) {  // a fresh name: a client may have named an object "#1" itself
    do {
      name = "#" + std::to_string(++unnamed_);
    } while (objects_.count(name) != 0);
  }
  auto [it, fresh] = objects_.try_emplace(name);
  if (!fresh && it->second.kind != r.kind) {
    send(peer, r.id, kManagerFailed, {}, {}, "'" + name + "' is a " + it->second.kind);
    return;
  }
  if (fresh) {
    it->second.kind = r.kind;
    it->second.items = r.values;
    it->second.maxsize = static_cast<std::size_t>(std::max<int64_t>(r.n, 0));
  }
  send(peer, r.id, kManagerOk, name);
}

void ManagerStore::dict_op(Object& o, const std::string& peer, const ManagerRequest& r) {
  auto found = o.index.find(r.a);
  if (r.op == "d.set") {
    if (found != o.index.end()) {
      found->second->second = r.b;
    } else {
      o.entries.emplace_back(r.a, r.b);
      o.index.emplace(r.a, std::prev(o.entries.end()));
    }
    send(peer, r.id, kManagerOk);
  } else if (r.op == "d.get") {
    if (found == o.index.end()) {
      send(peer, r.id, kManagerNotFound, {}, {}, "no such key");
    } else {
      send(peer, r.id, kManagerOk, found->second->second);
    }
  } else if (r.op == "d.contains") {
    send(peer, r.id, kManagerOk, encode(found != o.index.end()));
  } else if (r.op == "d.erase") {
    bool had = found != o.index.end();
    if (had) {
      o.entries.erase(found->second);
      o.index.erase(found);
    }
    send(peer, r.id, kManagerOk, encode(had));
  } else if (r.op == "d.size") {
    send(peer, r.id, kManagerOk, encode(static_cast<uint64_t>(o.entries.size())));
  } else if (r.op == "d.keys" || r.op == "d.items") {
    std::vector<std::string> out;
    for (const auto& [k, v] : o.entries) {
      out.push_back(k);
      if (r.op == "d.items") out.push_back(v);
    }
    send(peer, r.id, kManagerOk, {}, std::move(out));
  } else if (r.op == "d.update") {
    if (r.values.size() % 2 != 0) {  // a key without its value: set nothing
      send(peer, r.id, kManagerFailed, {}, {}, "d.update takes key, value pairs");
      return;
    }
    for (std::size_t i = 0; i + 1 < r.values.size(); i += 2) {
      auto f = o.index.find(r.values[i]);
      if (f != o.index.end()) {
        f->second->second = r.values[i + 1];
      } else {
        o.entries.emplace_back(r.values[i], r.values[i + 1]);
        o.index.emplace(r.values[i], std::prev(o.entries.end()));
      }
    }
    send(peer, r.id, kManagerOk);
  } else if (r.op == "d.clear") {
    o.entries.clear();
    o.index.clear();
    send(peer, r.id, kManagerOk);
  } else {
    send(peer, r.id, kManagerFailed, {}, {}, "unknown operation " + r.op);
  }
}

void ManagerStore::list_op(Object& o, const std::string& peer, const ManagerRequest& r) {
  if (r.op == "l.append") {
    o.items.push_back(r.a);
    send(peer, r.id, kManagerOk);
  } else if (r.op == "l.extend") {
    o.items.insert(o.items.end(), r.values.begin(), r.values.end());
    send(peer, r.id, kManagerOk);
  } else if (r.op == "l.size") {
    send(peer, r.id, kManagerOk, encode(static_cast<uint64_t>(o.items.size())));
  } else if (r.op == "l.snapshot") {
    send(peer, r.id, kManagerOk, {}, o.items);
  } else if (r.op == "l.get" || r.op == "l.set" || r.op == "l.pop") {
    auto i = normalize(r.n, o.items.size());
    if (!i) {
      send(peer, r.id, kManagerIndex, {}, {},
           "index " + std::to_string(r.n) + " out of range for size " +
               std::to_string(o.items.size()));
    } else if (r.op == "l.get") {
      send(peer, r.id, kManagerOk, o.items[*i]);
    } else if (r.op == "l.set") {
      o.items[*i] = r.a;
      send(peer, r.id, kManagerOk);
    } else if (send(peer, r.id, kManagerOk, o.items[*i])) {  // else the popper gave up
      o.items.erase(o.items.begin() + static_cast<std::ptrdiff_t>(*i));
    }
  } else {
    send(peer, r.id, kManagerFailed, {}, {}, "unknown operation " + r.op);
  }
}

// Sends `item` (empty for a lock) as the reply to request `id` of `peer` and remembers
// it as the peer's unconfirmed grant, taking `item`; false (with `item` left) if the
// peer is gone.
bool ManagerStore::grant(Object& o, const std::string& peer, uint64_t id, std::string& item) {
  ManagerReply r;
  r.id = id;
  r.code = kManagerOk;
  r.value = std::move(item);
  if (!reply_(peer, r)) {
    item = std::move(r.value);
    return false;
  }
  granted_.insert_or_assign(peer, Grant{id, &o, std::move(r.value)});
  return true;
}

// Hands `item` to the longest-waiting getter still there (taking `item`) and returns its
// peer; nullopt if there is none. A getter whose wait has ended is answered as expire()
// would, not given the item: its client waits only a margin longer and may have given up.
std::optional<std::string> ManagerStore::give_to_getter(Object& o, std::string& item) {
  const auto now = ServerClock::now();
  while (!o.getters.empty()) {
    Waiter w = std::move(o.getters.front());
    o.getters.pop_front();
    --parked_;
    if (w.deadline <= now) {
      send(w.peer, w.id, o.kind == "lock" ? kManagerTimedOut : kManagerEmpty, {}, {}, "timed out");
    } else if (grant(o, w.peer, w.id, item)) {
      return std::move(w.peer);
    }
  }
  return std::nullopt;
}

// `peer` gave up on request `id`: still parked, it is dropped unanswered; answered with
// the peer's last grant, that lock or item is given back. Otherwise (answered with
// something else, or unknown) nothing changes.
void ManagerStore::cancel(const std::string& peer, uint64_t id) {
  for (auto& [name, o] : objects_) {
    for (auto* waiters : {&o.getters, &o.putters}) {
      auto it = std::find_if(waiters->begin(), waiters->end(),
                             [&](const Waiter& w) { return w.id == id && w.peer == peer; });
      if (it != waiters->end()) {
        waiters->erase(it);
        --parked_;
        return;
      }
    }
  }
  auto g = granted_.find(peer);
  if (g == granted_.end()) return;
  Grant last = std::move(g->second);
  granted_.erase(g);
  if (last.id == id) give_back(peer, std::move(last));
}

void ManagerStore::undo_grant(const std::string& peer) {
  auto g = granted_.find(peer);
  if (g == granted_.end()) return;
  Grant last = std::move(g->second);
  granted_.erase(g);
  give_back(peer, std::move(last));
}

// Undoes `grant`, which `peer` never received: its lock is released (passed on), its
// item goes back to the front of the queue (or to a getter), where it was taken from. A
// put admitted meanwhile may leave a bounded queue one over its maxsize for a while.
void ManagerStore::give_back(const std::string& peer, Grant grant) {
  Object& o = *grant.object;
  if (o.kind == "lock") {
    if (o.held && o.holder == peer) pass_lock(o);
  } else if (!o.queue.empty() || !give_to_getter(o, grant.item)) {
    o.queue.push_front(std::move(grant.item));
  }
}

// Moves parked puts into the queue while there is room (those whose wait has ended are
// answered as expire() would, as in give_to_getter).
void ManagerStore::admit_putters(Object& o) {
  const auto now = ServerClock::now();
  while (!o.putters.empty() && (o.maxsize == 0 || o.queue.size() < o.maxsize)) {
    Waiter w = std::move(o.putters.front());
    o.putters.pop_front();
    --parked_;
    if (w.deadline <= now) {
      send(w.peer, w.id, kManagerFull, {}, {}, "timed out");
    } else if (send(w.peer, w.id, kManagerOk)) {
      o.queue.push_back(std::move(w.item));
    }
  }
}

void ManagerStore::queue_op(Object& o, const std::string& peer, const ManagerRequest& r) {
  if (r.op == "q.put") {
    std::string item = r.a;
    if (o.queue.empty() && give_to_getter(o, item).has_value()) {
      send(peer, r.id, kManagerOk);
    } else if (o.maxsize == 0 || o.queue.size() < o.maxsize) {
      o.queue.push_back(std::move(item));
      if (!send(peer, r.id, kManagerOk)) o.queue.pop_back();  // the putter gave up
    } else if (r.n > 0) {
      o.putters.push_back(Waiter{peer, r.id, after(r.n), std::move(item)});
      ++parked_;
    } else {
      send(peer, r.id, kManagerFull, {}, {}, "the queue is full");
    }
  } else if (r.op == "q.get") {
    if (!o.queue.empty()) {
      std::string item = std::move(o.queue.front());
      o.queue.pop_front();
      if (!grant(o, peer, r.id, item)) o.queue.push_front(std::move(item));
      admit_putters(o);
    } else if (r.n > 0) {
      o.getters.push_back(Waiter{peer, r.id, after(r.n), {}});
      ++parked_;
    } else {
      send(peer, r.id, kManagerEmpty, {}, {}, "the queue is empty");
    }
  } else if (r.op == "q.size") {
    send(peer, r.id, kManagerOk, encode(static_cast<uint64_t>(o.queue.size())),
         {encode(static_cast<uint64_t>(o.maxsize))});
  } else {
    send(peer, r.id, kManagerFailed, {}, {}, "unknown operation " + r.op);
  }
}

void ManagerStore::lock_op(Object& o, const std::string& peer, const ManagerRequest& r) {
  if (r.op == "k.acquire") {
    if (!o.held) {
      std::string none;
      o.held = grant(o, peer, r.id, none);
      if (o.held) o.holder = peer;
    } else if (r.n > 0) {
      o.getters.push_back(Waiter{peer, r.id, after(r.n), {}});
      ++parked_;
    } else {
      send(peer, r.id, kManagerTimedOut, {}, {}, "the lock is held");
    }
  } else if (r.op == "k.release") {
    if (!o.held) {
      send(peer, r.id, kManagerMisuse, {}, {}, "the lock is not held");
      return;
    }
    pass_lock(o);
    send(peer, r.id, kManagerOk);
  } else {
    send(peer, r.id, kManagerFailed, {}, {}, "unknown operation " + r.op);
  }
}

// Hands a held lock to the longest-waiting acquirer still there, or releases it.
void ManagerStore::pass_lock(Object& o) {
  std::string none;
  std::optional<std::string> next = give_to_getter(o, none);
  o.held = next.has_value();
  o.holder = std::move(next).value_or("");
}

bool ManagerStore::holds_lock(const std::string& peer) const {
  for (const auto& [name, o] : objects_) {
    if (o.held && o.holder == peer) return true;
  }
  return false;
}

void ManagerStore::release_locks_of(const std::string& peer) {
  for (auto& [name, o] : objects_) {
    if (o.held && o.holder == peer) pass_lock(o);
  }
}

void ManagerStore::expire(ServerClock::time_point now) {
  if (parked_ == 0) return;
  for (auto& [name, o] : objects_) {
    for (auto* waiters : {&o.getters, &o.putters}) {
      for (auto it = waiters->begin(); it != waiters->end();) {
        if (it->deadline > now) {
          ++it;
          continue;
        }
        int code = o.kind == "lock"        ? kManagerTimedOut
                   : waiters == &o.getters ? kManagerEmpty
                                           : kManagerFull;
        send(it->peer, it->id, code, {}, {}, "timed out");
        it = waiters->erase(it);
        --parked_;
      }
    }
  }
}

std::optional<ServerClock::time_point> ManagerStore::next_deadline() const {
  if (parked_ == 0) return std::nullopt;
  std::optional<ServerClock::time_point> best;
  for (const auto& [name, o] : objects_) {
    for (const auto* waiters : {&o.getters, &o.putters}) {
      for (const auto& w : *waiters) {
        if (!best || w.deadline < *best) best = w.deadline;
      }
    }
  }
  return best;
}

}  // namespace shoal::internal
