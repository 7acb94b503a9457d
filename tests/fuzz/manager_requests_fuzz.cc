// The Manager server's request handling (shared/mp/manager_store.h), in-process: the
// bytes are a script of requests from three clients (built field by field, or decoded
// from raw MessagePack as the server decodes a frame), clients leaving, and parked waits
// running out. Every reply is checked against a model of the objects:
// - every request gets exactly one reply (a parked one at the latest when its wait ends),
//   and a reply that is not Ok carries an error text;
// - a dict and a list answer what the model holds; an unnamed create gets a new name;
//   an item popped for a client that is gone stays in the list;
// - an operation of one kind on an object of another is refused and changes nothing;
// - a lock has at most one holder, and a free lock is given to whoever asks;
// - a queue loses nothing: an item whose put was acknowledged is delivered or still
//   there at the end, and nothing is delivered that was not put;
// - a "cancel" (raw requests only: it names one of the last few requests) is never
//   answered; a parked request it names is dropped unanswered, and the client's last
//   lock or item grant, if it names that and nothing came from the client since, is
//   given back (the item may be delivered again, the lock passes on).
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/mp/manager_store.h"
#include "shoal/codec.hpp"
#include "shoal/errors.hpp"
#include "shoal/manager.hpp"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

using shoal::fuzz::FuzzInput;
using shoal::internal::ManagerReply;
using shoal::internal::ManagerRequest;
using shoal::internal::ManagerStore;
using shoal::internal::ServerClock;
namespace si = shoal::internal;

// A number the manager takes as a count or index: edge values first, else a small one.
int64_t number(FuzzInput& in) {
  static constexpr int64_t kNumbers[] = {0,  1,  -1, 2, -2, 3, 5, 200,
                                         std::numeric_limits<int64_t>::min(),
                                         std::numeric_limits<int64_t>::max(),
                                         int64_t{1} << 32, -(int64_t{1} << 40)};
  uint8_t b = in.byte();
  if (b < 2 * std::size(kNumbers)) return kNumbers[b % std::size(kNumbers)];
  return static_cast<int8_t>(b);
}

// Two ZeroMQ identities (libzmq's start with a 0 byte) and a direct client's.
const std::string kPeers[] = {std::string("\0A", 2), "B", "\1" "7"};
constexpr const char* kOps[] = {
    "ping",     "create",     "d.set",    "d.get",  "d.contains", "d.erase", "d.size",
    "d.keys",   "d.items",    "d.update", "d.clear", "l.append",  "l.extend", "l.get",
    "l.set",    "l.size",     "l.pop",    "l.snapshot", "q.put",  "q.get",   "q.size",
    "k.acquire", "k.release", "",         "d",      "k.",         "x.get",   "shutdown"};
constexpr const char* kKinds[] = {"dict", "list", "queue", "lock", "", "bogus"};
constexpr const char* kNames[] = {"a", "b", "c", "#1", "#2", ""};
constexpr const char* kValues[] = {"\x01", "\x02", "\xa1x", "", "\xc0"};

int op_kind(const std::string& op) {  // the kind an operation is for, by its prefix
  if (op.size() < 2 || op[1] != '.') return -1;
  switch (op[0]) {
    case 'd': return 0;
    case 'l': return 1;
    case 'q': return 2;
    case 'k': return 3;
    default: return -1;
  }
}

struct Object {
  std::string kind;
  std::vector<std::pair<std::string, std::string>> dict;  // insertion order
  std::vector<std::string> list;
  size_t maxsize = 0;
  std::optional<std::string> holder;  // lock
};

struct Sent {
  std::string peer;
  ManagerReply reply;
  bool delivered;
};

class Checker {
 public:
  Checker()
      : store_([this](const std::string& peer, ManagerReply& reply) {
          bool delivered = !gone_.count(peer);
          sent_.push_back(Sent{peer, reply, delivered});
          return delivered;
        }) {}

  void request(ManagerRequest r) {
    if (r.op == "cancel") return cancel(r.id % 4);
    r.id = ++last_id_;
    const std::string peer = peer_;
    unconfirmed_.erase(peer);  // a new request: the client read its last reply
    requests_[r.id] = Pending{peer, r};
    sent_.clear();
    store_.handle(peer, r);
    if (trace_) {
      std::fprintf(stderr, "#%llu %s: %s %s '%s' n=%lld values=%zu ->",
                   static_cast<unsigned long long>(r.id), printable(peer).c_str(), r.op.c_str(),
                   r.kind.c_str(), r.name.c_str(), static_cast<long long>(r.n), r.values.size());
      for (const auto& s : sent_) {
        std::fprintf(stderr, " [#%llu code %d%s]", static_cast<unsigned long long>(s.reply.id),
                     s.reply.code, s.delivered ? "" : " undelivered");
      }
      std::fprintf(stderr, "\n");
    }
    check_request(peer, r);
    absorb_others(r.id);
  }

  // The current peer gives up on its request `back` requests before the last one made.
  void cancel(uint64_t back) {
    const std::string peer = peer_;
    const uint64_t id = last_id_ > back ? last_id_ - back : 0;
    if (trace_) {
      std::fprintf(stderr, "%s cancels #%llu\n", printable(peer).c_str(),
                   static_cast<unsigned long long>(id));
    }
    auto p = requests_.find(id);
    if (p != requests_.end() && p->second.peer == peer && !replied_.count(id)) {
      cancelled_.insert(id);  // parked: dropped, never answered
    } else if (auto u = unconfirmed_.find(peer);
               p != requests_.end() && u != unconfirmed_.end() && u->second == id) {
      const ManagerRequest& r = p->second.request;
      Object& o = objects_.at(r.name);
      if (r.op == "q.get") {  // the item goes back: no longer taken
        auto& items = taken_[r.name];
        auto it = std::find(items.rbegin(), items.rend(), given_[id]);
        SHOAL_FUZZ_CHECK(it != items.rend());
        items.erase(std::next(it).base());
      } else if (o.holder == peer) {
        o.holder.reset();  // the next holder, if any, comes with the replies
      }
    }
    unconfirmed_.erase(peer);
    ManagerRequest c;
    c.op = "cancel";
    c.id = id;
    sent_.clear();
    store_.handle(peer, c);
    if (trace_) {
      for (const auto& s : sent_) {
        std::fprintf(stderr, "  -> [#%llu code %d%s]\n",
                     static_cast<unsigned long long>(s.reply.id), s.reply.code,
                     s.delivered ? "" : " undelivered");
      }
    }
    absorb_others(0);  // never a reply to the cancel itself
  }

  void leave(const std::string& peer) {
    if (trace_) std::fprintf(stderr, "%s leaves\n", printable(peer).c_str());
    gone_.insert(peer);
    sent_.clear();
    unconfirmed_.erase(peer);
    store_.forget_peer(peer);
    store_.release_locks_of(peer);
    for (auto& [name, o] : objects_) {
      if (o.holder == peer) o.holder.reset();
    }
    absorb_others(0);
  }
  void come_back(const std::string& peer) {
    if (trace_) std::fprintf(stderr, "%s comes back\n", printable(peer).c_str());
    gone_.erase(peer);
  }

  // Every parked wait ends.
  void expire_all() {
    sent_.clear();
    store_.expire(ServerClock::now() + std::chrono::hours(2));
    absorb_others(0);
    SHOAL_FUZZ_CHECK(!store_.next_deadline().has_value());
  }

  // Takes what is left in every queue and checks that the queues lost nothing.
  void finish() {
    expire_all();
    gone_.clear();
    for (auto& [name, o] : objects_) {
      if (o.kind != "queue") continue;
      for (;;) {
        ManagerRequest get;
        get.op = "q.get";
        get.kind = "queue";
        get.name = name;
        get.id = ++last_id_;
        requests_[get.id] = Pending{"drain", get};
        sent_.clear();
        store_.handle("drain", get);
        SHOAL_FUZZ_CHECK(sent_.size() == 1 && sent_[0].reply.id == get.id);
        replied_.insert(get.id);
        if (sent_[0].reply.code != si::kManagerOk) break;
        taken_[name].push_back(sent_[0].reply.value);
      }
    }
    for (const auto& [id, p] : requests_) {
      SHOAL_FUZZ_CHECK(replied_.count(id) == (cancelled_.count(id) ? 0u : 1u));
    }
    for (const auto& [name, items] : acked_puts_) {
      std::multiset<std::string> there(taken_[name].begin(), taken_[name].end());
      for (const auto& item : items) {  // acknowledged: delivered or still there
        auto it = there.find(item);
        SHOAL_FUZZ_CHECK(it != there.end());
        there.erase(it);
      }
    }
    for (const auto& [name, items] : taken_) {  // nothing comes out that was not put
      std::multiset<std::string> tried(tried_puts_[name].begin(), tried_puts_[name].end());
      for (const auto& item : items) {
        auto it = tried.find(item);
        SHOAL_FUZZ_CHECK(it != tried.end());
        tried.erase(it);
      }
    }
  }

  bool stopping() const { return store_.stopping(); }
  void set_peer(const std::string& peer) { peer_ = peer; }

 private:
  struct Pending {
    std::string peer;
    ManagerRequest request;
  };

  const Sent& own_reply(uint64_t id) {
    const Sent* found = nullptr;
    for (const auto& s : sent_) {
      if (s.reply.id == id) {
        SHOAL_FUZZ_CHECK(found == nullptr);
        found = &s;
      }
    }
    SHOAL_FUZZ_CHECK(found != nullptr);
    return *found;
  }

  // The request's own reply, now (or none if it may be parked), against the model.
  void check_request(const std::string& peer, const ManagerRequest& r) {
    bool replied = false;
    for (const auto& s : sent_) replied |= s.reply.id == r.id;
    if (r.op == "ping" || r.op == "shutdown") {
      SHOAL_FUZZ_CHECK(own_reply(r.id).reply.code == si::kManagerOk);
      return;
    }
    if (r.op == "create") return check_create(r);
    auto it = objects_.find(r.name);
    if (it == objects_.end() || it->second.kind != r.kind) {
      SHOAL_FUZZ_CHECK(own_reply(r.id).reply.code == si::kManagerFailed);
      return;
    }
    Object& o = it->second;
    const int kind = op_kind(r.op);
    static const char* kKindOf[] = {"dict", "list", "queue", "lock"};
    if (kind < 0 || o.kind != kKindOf[kind]) {
      // An operation for another kind of object (or none) is refused.
      SHOAL_FUZZ_CHECK(own_reply(r.id).reply.code == si::kManagerFailed);
      return;
    }
    if (kind == 0) return check_dict(o, r);
    if (kind == 1) return check_list(o, r);
    if (kind == 2) return check_queue(o, peer, r, replied);
    return check_lock(o, peer, r, replied);
  }

  void check_create(const ManagerRequest& r) {
    const Sent& s = own_reply(r.id);
    static const char* kKnown[] = {"dict", "list", "queue", "lock"};
    if (std::find(std::begin(kKnown), std::end(kKnown), r.kind) == std::end(kKnown)) {
      SHOAL_FUZZ_CHECK(s.reply.code == si::kManagerFailed);
      return;
    }
    if (r.name.empty()) {  // a new object with a name nobody had
      SHOAL_FUZZ_CHECK(s.reply.code == si::kManagerOk);
      SHOAL_FUZZ_CHECK(!s.reply.value.empty() && !objects_.count(s.reply.value));
    }
    const std::string name = r.name.empty() ? s.reply.value : r.name;
    auto it = objects_.find(name);
    if (it != objects_.end()) {
      SHOAL_FUZZ_CHECK(s.reply.code == (it->second.kind == r.kind ? si::kManagerOk
                                                                  : si::kManagerFailed));
      if (s.reply.code == si::kManagerOk) SHOAL_FUZZ_CHECK(s.reply.value == name);
      return;
    }
    SHOAL_FUZZ_CHECK(s.reply.code == si::kManagerOk && s.reply.value == name);
    Object& o = objects_[name];
    o.kind = r.kind;
    o.list = r.kind == "list" ? r.values : std::vector<std::string>{};
    o.maxsize = static_cast<size_t>(std::max<int64_t>(r.n, 0));
  }

  static std::vector<std::pair<std::string, std::string>>::iterator find(Object& o,
                                                                        const std::string& k) {
    return std::find_if(o.dict.begin(), o.dict.end(), [&](const auto& e) { return e.first == k; });
  }
  static void put(Object& o, const std::string& k, const std::string& v) {
    auto f = find(o, k);
    if (f != o.dict.end()) {
      f->second = v;
    } else {
      o.dict.emplace_back(k, v);
    }
  }

  void check_dict(Object& o, const ManagerRequest& r) {
    const ManagerReply& reply = own_reply(r.id).reply;
    auto f = find(o, r.a);
    if (r.op == "d.set") {
      put(o, r.a, r.b);
      SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk);
    } else if (r.op == "d.get") {
      SHOAL_FUZZ_CHECK(f == o.dict.end() ? reply.code == si::kManagerNotFound
                                         : reply.code == si::kManagerOk && reply.value == f->second);
    } else if (r.op == "d.contains") {
      SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk &&
                       reply.value == shoal::encode(f != o.dict.end()));
    } else if (r.op == "d.erase") {
      SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk &&
                       reply.value == shoal::encode(f != o.dict.end()));
      if (f != o.dict.end()) o.dict.erase(f);
    } else if (r.op == "d.size") {
      SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk &&
                       reply.value == shoal::encode(static_cast<uint64_t>(o.dict.size())));
    } else if (r.op == "d.keys" || r.op == "d.items") {
      std::vector<std::string> want;
      for (const auto& [k, v] : o.dict) {
        want.push_back(k);
        if (r.op == "d.items") want.push_back(v);
      }
      SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk && reply.values == want);
    } else if (r.op == "d.update") {
      // Pairs: an odd count is refused whole, with nothing set.
      SHOAL_FUZZ_CHECK(reply.code ==
                       (r.values.size() % 2 == 0 ? si::kManagerOk : si::kManagerFailed));
      if (reply.code != si::kManagerOk) return;
      for (size_t i = 0; i + 1 < r.values.size(); i += 2) put(o, r.values[i], r.values[i + 1]);
    } else if (r.op == "d.clear") {
      o.dict.clear();
      SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk);
    } else {
      SHOAL_FUZZ_CHECK(reply.code == si::kManagerFailed);
    }
  }

  void check_list(Object& o, const ManagerRequest& r) {
    const Sent& s = own_reply(r.id);
    const ManagerReply& reply = s.reply;
    const int64_t size = static_cast<int64_t>(o.list.size());
    const int64_t i = r.n < 0 ? r.n + size : r.n;
    const bool in_range = r.n >= -size && r.n < size;
    if (r.op == "l.append") {
      o.list.push_back(r.a);
      SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk);
    } else if (r.op == "l.extend") {
      o.list.insert(o.list.end(), r.values.begin(), r.values.end());
      SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk);
    } else if (r.op == "l.size") {
      SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk &&
                       reply.value == shoal::encode(static_cast<uint64_t>(size)));
    } else if (r.op == "l.snapshot") {
      SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk && reply.values == o.list);
    } else if (r.op == "l.get" || r.op == "l.set" || r.op == "l.pop") {
      if (!in_range) {
        SHOAL_FUZZ_CHECK(reply.code == si::kManagerIndex);
      } else if (r.op == "l.get") {
        SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk && reply.value == o.list[i]);
      } else if (r.op == "l.set") {
        SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk);
        o.list[i] = r.a;
      } else {
        SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk && reply.value == o.list[i]);
        if (s.delivered) o.list.erase(o.list.begin() + i);  // else it stays: nobody has it
      }
    } else {
      SHOAL_FUZZ_CHECK(reply.code == si::kManagerFailed);
    }
  }

  void check_queue(Object& o, const std::string& peer, const ManagerRequest& r, bool replied) {
    if (r.op == "q.put") {
      tried_puts_[r.name].push_back(r.a);
      if (!replied) {
        SHOAL_FUZZ_CHECK(r.n > 0 && o.maxsize > 0);  // parked: the queue is full
        return;
      }
      const Sent& s = own_reply(r.id);
      SHOAL_FUZZ_CHECK(s.reply.code == si::kManagerOk ||
                       (s.reply.code == si::kManagerFull && r.n <= 0 && o.maxsize > 0));
      if (s.reply.code == si::kManagerOk && s.delivered) acked_puts_[r.name].push_back(r.a);
    } else if (r.op == "q.get") {
      if (!replied) {
        SHOAL_FUZZ_CHECK(r.n > 0);
        return;
      }
      const Sent& s = own_reply(r.id);
      SHOAL_FUZZ_CHECK(s.reply.code == si::kManagerOk ||
                       (s.reply.code == si::kManagerEmpty && r.n <= 0));
      if (s.reply.code == si::kManagerOk && s.delivered) taken(peer, r, s.reply.value);
    } else if (r.op == "q.size") {
      const ManagerReply& reply = own_reply(r.id).reply;
      SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk && reply.values.size() == 1);
      const auto size = shoal::decode<uint64_t>(reply.value);
      SHOAL_FUZZ_CHECK(shoal::decode<uint64_t>(reply.values[0]) == o.maxsize);
      SHOAL_FUZZ_CHECK(o.maxsize == 0 || size <= o.maxsize);
    } else {
      SHOAL_FUZZ_CHECK(own_reply(r.id).reply.code == si::kManagerFailed);
    }
    (void)peer;
  }

  void check_lock(Object& o, const std::string& peer, const ManagerRequest& r, bool replied) {
    if (r.op == "k.acquire") {
      if (!replied) {  // parked: only while someone holds it
        SHOAL_FUZZ_CHECK(r.n > 0 && o.holder.has_value());
        return;
      }
      const Sent& s = own_reply(r.id);
      if (s.reply.code == si::kManagerOk) {
        SHOAL_FUZZ_CHECK(!o.holder.has_value());  // at most one holder
        if (s.delivered) {
          o.holder = peer;
          unconfirmed_[peer] = r.id;
        }
      } else {
        SHOAL_FUZZ_CHECK(s.reply.code == si::kManagerTimedOut && r.n <= 0 && o.holder);
      }
    } else if (r.op == "k.release") {
      const ManagerReply& reply = own_reply(r.id).reply;
      // Anyone may release a held lock (as with Python's manager Lock).
      SHOAL_FUZZ_CHECK(reply.code == (o.holder ? si::kManagerOk : si::kManagerMisuse));
      o.holder.reset();  // the next holder, if any, comes with the other replies
    } else {
      SHOAL_FUZZ_CHECK(own_reply(r.id).reply.code == si::kManagerFailed);
    }
  }

  // Replies other than request `own`'s: to parked requests, answered now.
  void absorb_others(uint64_t own) {
    for (const auto& s : sent_) {
      const ManagerReply& reply = s.reply;
      SHOAL_FUZZ_CHECK(reply.code >= si::kManagerOk && reply.code <= si::kManagerFailed);
      SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk || !reply.error.empty());
      auto p = requests_.find(reply.id);
      SHOAL_FUZZ_CHECK(p != requests_.end());   // a reply to a request that was made
      SHOAL_FUZZ_CHECK(p->second.peer == s.peer);  // to its sender
      SHOAL_FUZZ_CHECK(replied_.insert(reply.id).second);  // once
      SHOAL_FUZZ_CHECK(!cancelled_.count(reply.id));       // never, once cancelled
      if (reply.id == own) continue;
      const ManagerRequest& r = p->second.request;
      Object& o = objects_.at(r.name);
      if (r.op == "q.get") {
        SHOAL_FUZZ_CHECK(o.kind == "queue");
        SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk || reply.code == si::kManagerEmpty);
        if (reply.code == si::kManagerOk && s.delivered) taken(s.peer, r, reply.value);
      } else if (r.op == "q.put") {
        SHOAL_FUZZ_CHECK(o.kind == "queue");
        SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk || reply.code == si::kManagerFull);
        if (reply.code == si::kManagerOk && s.delivered) acked_puts_[r.name].push_back(r.a);
      } else if (r.op == "k.acquire") {
        SHOAL_FUZZ_CHECK(o.kind == "lock");
        SHOAL_FUZZ_CHECK(reply.code == si::kManagerOk || reply.code == si::kManagerTimedOut);
        if (reply.code == si::kManagerOk) {
          SHOAL_FUZZ_CHECK(!o.holder.has_value());  // at most one holder
          if (s.delivered) {
            o.holder = s.peer;
            unconfirmed_[s.peer] = r.id;
          }
        }
      } else {
        SHOAL_FUZZ_CHECK(false);  // nothing else is ever parked
      }
    }
  }

  // `peer`'s get `r` was given `item`: the client's last grant until it asks again.
  void taken(const std::string& peer, const ManagerRequest& r, const std::string& item) {
    taken_[r.name].push_back(item);
    unconfirmed_[peer] = r.id;
    given_[r.id] = item;
  }

  static std::string printable(const std::string& peer) {
    std::string out;
    for (char c : peer) out += c >= ' ' ? std::string(1, c) : "\\" + std::to_string(c);
    return out;
  }

  const bool trace_ = std::getenv("SHOAL_FUZZ_TRACE") != nullptr;  // prints the script
  ManagerStore store_;
  std::string peer_ = kPeers[0];
  std::set<std::string> gone_;
  std::vector<Sent> sent_;
  uint64_t last_id_ = 0;
  std::map<uint64_t, Pending> requests_;
  std::set<uint64_t> replied_;
  std::set<uint64_t> cancelled_;                 // parked requests dropped by a cancel
  std::map<std::string, uint64_t> unconfirmed_;  // by peer: its last lock or item grant
  std::map<uint64_t, std::string> given_;        // by get: the item it was given
  std::map<std::string, Object> objects_;
  std::map<std::string, std::vector<std::string>> tried_puts_, acked_puts_, taken_;
};

ManagerRequest built(FuzzInput& in) {
  ManagerRequest r;
  r.op = kOps[in.below(std::size(kOps))];
  r.kind = kKinds[in.below(std::size(kKinds))];
  r.name = kNames[in.below(std::size(kNames))];
  auto value = [&in]() -> std::string {
    size_t v = in.below(std::size(kValues) + 1);
    return v < std::size(kValues) ? kValues[v] : in.chunk(8);
  };
  r.a = value();
  r.b = value();
  for (size_t i = in.below(5); i > 0; --i) r.values.push_back(value());
  r.n = number(in);
  return r;
}

}  // namespace

SHOAL_FUZZ_TARGET(manager_requests) {
  FuzzInput in(data, size);
  Checker checker;
  while (!in.done() && !checker.stopping()) {
    const uint8_t command = in.byte();
    const std::string& peer = kPeers[command % 3];
    checker.set_peer(peer);
    switch ((command / 3) % 8) {
      case 0:
      case 1:
      case 2:
      case 3:
        checker.request(built(in));
        break;
      case 4: {  // raw MessagePack, as the server decodes a frame; garbage is dropped
        const std::string body = in.chunk(64);
        try {
          checker.request(shoal::decode<ManagerRequest>(body));
        } catch (const shoal::Error&) {
        }
        break;
      }
      case 5:
        checker.leave(peer);
        break;
      case 6:
        checker.come_back(peer);
        break;
      case 7:
        checker.expire_all();
        break;
    }
  }
  checker.finish();
}
