#pragma once
// Manager and proxies (API.md §7): objects held by a server process, reachable from any
// process that can reach its endpoint — forked children, pool workers, separate
// executables, other hosts.
//
//   shoal::Manager m;                                  // starts the server process
//   auto d = m.dict<int, std::string>();               // DictProxy<int, std::string>
//   shoal::Process p([d]() mutable { d.set(1, "one"); });
//   p.start(); p.join();
//   d.get(1);                                          // "one"
//
// Transport: ZeroMQ (DEALER clients, one ROUTER server) for serve()'s endpoints, a
// direct Unix stream socket for the private endpoint of Manager(); MessagePack
// payloads either way. Security: the private endpoint admits only processes of the
// server's user (or root); serve()'s admits anyone unless the server has an authkey
// (ManagerOptions, SHOAL_MANAGER_AUTHKEY), which then authenticates and encrypts. Every
// proxy operation is one synchronous round trip. The server counts as dead or
// unreachable, and the operation throws ConnectionError, when no reply comes within
// 750 ms plus an allowance for the bytes to move at a conservative 50 MB/s (20 ms per
// MB): those of the request, and those of any big payload (8 MiB or more) the server
// announces before it copies it — a big reply, or another client's big request, which
// holds up its single thread meanwhile. So a small operation on a dead server fails
// within about a second (on the private endpoint at once: the connection closes), and
// one that moves 300 MB may take about 7 s to be given up (over ZeroMQ, so may the
// next operation of a client that was idle while such a payload was announced: it
// cannot tell an old announcement from a new one). An announcement holds for every call
// of the connection until the time it names, not only the call it came during.
// Blocking operations (QueueProxy::get/put, LockProxy::acquire) wait in the server in
// slices of at most 200 ms, so a dead server is still noticed within a second. A call
// given up on so tells the server (a "cancel"): a get or acquire it answered late takes
// no item or lock, unless the connection broke before the cancel left (docs/API.md).
//
// The server stores keys and values as their MessagePack encodings and knows nothing of
// K, V or T; keys are equal when their encodings are (so 1 and 1L are the same key). A
// proxy of the wrong type for an object decodes with SerializationError. Objects live
// until the server shuts down; a named object is created once and found again by every
// later factory call with that name (its kind must match, else shoal::Error), and an
// unnamed one gets a fresh generated name.
//
// Proxies are values: copy them into a Process, pass them as task arguments, send them
// through a Queue or a Connection (they encode as endpoint + name + kind). Proxy
// operations are thread-safe (each thread uses its own socket).

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "shoal/codec.hpp"
#include "shoal/errors.hpp"
#include "shoal/sync.hpp"

namespace shoal {
namespace internal {

// What a proxy refers to; its whole wire form.
struct ProxyRef {
  std::string endpoint;
  std::string name;
  std::string kind;  // "dict", "list", "queue" or "lock"
  MSGPACK_DEFINE(endpoint, name, kind);
};

struct ManagerRequest {
  uint64_t id = 0;
  std::string op;
  std::string name;
  std::string kind;
  std::string a;  // an encoded key, value or item
  std::string b;
  std::vector<std::string> values;  // encoded items (extend, update: key, value, ...)
  int64_t n = 0;                    // an index, a maxsize, or a wait in milliseconds
  MSGPACK_DEFINE(id, op, name, kind, a, b, values, n);
};

enum ManagerCode : int {
  kManagerOk = 0,
  kManagerNotFound = 1,  // no such key -> std::out_of_range
  kManagerEmpty = 2,
  kManagerFull = 3,
  kManagerTimedOut = 4,  // a lock wait slice ended
  kManagerIndex = 5,     // list index out of range -> std::out_of_range
  kManagerMisuse = 6,    // -> std::logic_error
  kManagerFailed = 7,    // -> shoal::Error
  kManagerBusy = 8,      // id 0, unasked: the server is busy for `value` ms (decimal)
};

struct ManagerReply {
  uint64_t id = 0;
  int code = kManagerOk;
  std::string value;
  std::vector<std::string> values;
  std::string error;
  MSGPACK_DEFINE(id, code, value, values, error);
};

// Longest wait the server does for one blocking request.
inline constexpr std::chrono::milliseconds kManagerSlice{200};

// One round trip to `endpoint`. Throws ConnectionError when no reply comes within
// `wait` (the server-side wait of the request) plus the reply margin and the transfer
// allowance (shared/mp/manager_client.h), having sent the server a cancel of the
// request; shoal::Error for a malformed endpoint.
ManagerReply manager_call(const std::string& endpoint, ManagerRequest& request,
                          std::chrono::milliseconds wait = std::chrono::milliseconds{0});
// One round trip on `ref`'s object; throws the public error for any code not listed
// in `accepted` (besides kManagerOk).
ManagerReply proxy_call(const ProxyRef& ref, const char* op, ManagerRequest request = {},
                        std::initializer_list<int> accepted = {},
                        std::chrono::milliseconds wait = std::chrono::milliseconds{0});
// The server-side wait for the next slice of a blocking call; 0 when `deadline` passed.
std::chrono::milliseconds slice_until(const Deadline& deadline);

}  // namespace internal

// A dict in the manager: std::map-like, values copied in and out.
template <class K, class V>
class DictProxy {
  static_assert(Codable<K> && Codable<V>, "shoal::DictProxy<K, V>: K and V must be Codable");

 public:
  DictProxy() = default;
  explicit DictProxy(internal::ProxyRef ref) : ref_(std::move(ref)) {}
  void set(const K& key, const V& value) { call("d.set", encode(key), encode(value)); }
  // std::out_of_range if `key` is absent.
  V get(const K& key) const { return decode<V>(call("d.get", encode(key)).value); }
  V get(const K& key, const V& fallback) const {
    auto r = call("d.get", encode(key), {}, {internal::kManagerNotFound});
    return r.code == internal::kManagerOk ? decode<V>(r.value) : fallback;
  }
  bool contains(const K& key) const { return decode<bool>(call("d.contains", encode(key)).value); }
  // Removes `key`; true if it was there.
  bool erase(const K& key) { return decode<bool>(call("d.erase", encode(key)).value); }
  std::size_t size() const { return decode<std::size_t>(call("d.size").value); }
  // Keys in insertion order.
  std::vector<K> keys() const {
    std::vector<K> out;
    for (const auto& k : call("d.keys").values) out.push_back(decode<K>(k));
    return out;
  }
  std::map<K, V> items() const {
    auto r = call("d.items");
    std::map<K, V> out;
    for (std::size_t i = 0; i + 1 < r.values.size(); i += 2) {
      out.emplace(decode<K>(r.values[i]), decode<V>(r.values[i + 1]));
    }
    return out;
  }
  // Sets every (key, value) of `pairs` (a map or any range of pairs) in one round trip.
  template <class Range>
  void update(const Range& pairs) {
    internal::ManagerRequest req;
    for (const auto& [k, v] : pairs) {
      req.values.push_back(encode(static_cast<const K&>(k)));
      req.values.push_back(encode(static_cast<const V&>(v)));
    }
    internal::proxy_call(ref_, "d.update", std::move(req));
  }
  void clear() { call("d.clear"); }
  const std::string& name() const { return ref_.name; }
  MSGPACK_DEFINE(ref_);

 private:
  internal::ManagerReply call(const char* op, std::string a = {}, std::string b = {},
                              std::initializer_list<int> accepted = {}) const {
    internal::ManagerRequest req;
    req.a = std::move(a);
    req.b = std::move(b);
    return internal::proxy_call(ref_, op, std::move(req), accepted);
  }
  internal::ProxyRef ref_;
};

// A list in the manager. Indices may be negative (from the end), as in Python; out of
// range: std::out_of_range.
template <class T>
class ListProxy {
  static_assert(Codable<T>, "shoal::ListProxy<T>: T must be Codable");

 public:
  ListProxy() = default;
  explicit ListProxy(internal::ProxyRef ref) : ref_(std::move(ref)) {}
  void append(const T& item) {
    internal::ManagerRequest req;
    req.a = encode(item);
    internal::proxy_call(ref_, "l.append", std::move(req));
  }
  template <class Range>
  void extend(const Range& items) {
    internal::ManagerRequest req;
    for (const auto& x : items) req.values.push_back(encode(static_cast<const T&>(x)));
    internal::proxy_call(ref_, "l.extend", std::move(req));
  }
  T get(int64_t index) const { return decode<T>(indexed("l.get", index).value); }
  void set(int64_t index, const T& item) { indexed("l.set", index, encode(item)); }
  std::size_t size() const {
    return decode<std::size_t>(internal::proxy_call(ref_, "l.size").value);
  }
  // Removes and returns the item at `index` (the last by default).
  T pop(int64_t index = -1) { return decode<T>(indexed("l.pop", index).value); }
  // A copy of the whole list.
  std::vector<T> snapshot() const {
    std::vector<T> out;
    for (const auto& x : internal::proxy_call(ref_, "l.snapshot").values)
      out.push_back(decode<T>(x));
    return out;
  }
  const std::string& name() const { return ref_.name; }
  MSGPACK_DEFINE(ref_);

 private:
  internal::ManagerReply indexed(const char* op, int64_t index, std::string a = {}) const {
    internal::ManagerRequest req;
    req.n = index;
    req.a = std::move(a);
    return internal::proxy_call(ref_, op, std::move(req));
  }
  internal::ProxyRef ref_;
};

// A FIFO queue in the manager, with Queue<T>'s interface. close() is per proxy object
// (a copy made before close() stays open).
template <class T>
class QueueProxy {
  static_assert(Codable<T>, "shoal::QueueProxy<T>: T must be Codable");

 public:
  QueueProxy() = default;
  explicit QueueProxy(internal::ProxyRef ref) : ref_(std::move(ref)) {}
  void put(const T& item) { put_impl(item, std::nullopt, true); }
  template <class Rep, class Period>
  void put(const T& item, std::chrono::duration<Rep, Period> timeout) {
    put_impl(item, internal::deadline_after(timeout), true);
  }
  void put_nowait(const T& item) { put_impl(item, std::nullopt, false); }
  T get() { return get_impl(std::nullopt, true); }
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    return get_impl(internal::deadline_after(timeout), true);
  }
  T get_nowait() { return get_impl(std::nullopt, false); }
  std::size_t qsize() const { return sizes().first; }
  bool empty() const { return qsize() == 0; }
  bool full() const {
    auto [size, maxsize] = sizes();
    return maxsize != 0 && size >= maxsize;
  }
  // This proxy will neither put nor get any more (std::logic_error if it does).
  void close() { closed_ = true; }
  const std::string& name() const { return ref_.name; }
  MSGPACK_DEFINE(ref_);

 private:
  void check_open() const {
    if (closed_) throw std::logic_error("shoal::QueueProxy: the queue proxy is closed");
  }
  void put_impl(const T& item, const internal::Deadline& deadline, bool block);
  T get_impl(const internal::Deadline& deadline, bool block);
  std::pair<std::size_t, std::size_t> sizes() const {
    auto r = internal::proxy_call(ref_, "q.size");
    return {decode<std::size_t>(r.value),
            static_cast<std::size_t>(decode<uint64_t>(r.values.at(0)))};
  }
  internal::ProxyRef ref_;
  bool closed_ = false;
};

// A lock in the manager, with Lock's interface: any client may release it, as with
// Python's manager Lock. If its holder process dies it passes to the next waiter: on
// Manager()'s private endpoint once the process has exited (the server watches it), on
// serve()'s once the holder's connection closes (its process ended, or its host did not
// answer heartbeats for 10 s). A holder thread that ends leaves it held.
class LockProxy {
 public:
  LockProxy() = default;
  explicit LockProxy(internal::ProxyRef ref) : ref_(std::move(ref)) {}
  void acquire() { acquire_until(std::nullopt); }
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return acquire_until(internal::deadline_after(timeout));
  }
  bool try_acquire();
  // std::logic_error if the lock is not held.
  void release();
  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return try_acquire(); }
  bool acquire_until(const internal::Deadline& deadline);
  const std::string& name() const { return ref_.name; }
  MSGPACK_DEFINE(ref_);

 private:
  internal::ProxyRef ref_;
};

// How serve() and connect() secure a Manager's ZeroMQ endpoint (beyond API.md).
struct ManagerOptions {
  // A shared secret, like Python's authkey. A server started with one answers only
  // clients that have the same one, and the link is encrypted (ZeroMQ CURVE with keys
  // derived from it). Empty: the environment's SHOAL_MANAGER_AUTHKEY if set, else none
  // (anyone who reaches the endpoint may use every object). Make it long and random
  // (e.g. `openssl rand -hex 32`): it is as weak as a password would be.
  std::string authkey;
};

class Manager {
 public:
  // Starts a server process on a private endpoint of this host and returns once it
  // accepts. The endpoint ("unix:@NAME", an abstract Unix socket) reaches the server
  // without ZeroMQ's I/O threads, for the lowest latency; connect() accepts it from
  // any process of the same user (or root) on this host. Throws shoal::Error if the
  // server cannot start.
  Manager();
  // Starts a server process bound to `endpoint` (e.g. "tcp://127.0.0.1:7100"; port 0
  // picks a free one, see endpoint()) and returns once it accepts. Throws shoal::Error
  // if it cannot bind, or if a tcp endpoint is not "tcp://HOST:PORT" with PORT 0..65535.
  static Manager serve(const std::string& endpoint);
  // serve() with `options`; without them the authkey is SHOAL_MANAGER_AUTHKEY's, if set.
  static Manager serve(const std::string& endpoint, const ManagerOptions& options);
  // Attaches to a running server. ConnectionError within 5 s when nothing answers (a
  // server with an authkey does not answer a client without the same one); its message
  // says "nothing listens there" when a tcp connection is refused. shoal::Error, naming
  // `endpoint`, when it is malformed ("", "garbage", a tcp port outside 1..65535).
  static Manager connect(const std::string& endpoint);
  // connect() with `options`. Once the server accepted it, the authkey is remembered
  // for `endpoint` in this process (and children it forks later), so proxies from any
  // Manager of it use the key too; elsewhere proxies use SHOAL_MANAGER_AUTHKEY. A
  // refused key is refused on every thread and changes nothing.
  static Manager connect(const std::string& endpoint, const ManagerOptions& options);
  Manager(Manager&& other) noexcept;
  Manager& operator=(Manager&& other) noexcept;
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;
  // The owner (Manager() or serve()) shuts the server down.
  ~Manager();

  // Factories: a new object, or (with a name) the object of that name, created on first
  // use. Each is one round trip; ConnectionError if the server is gone.
  template <class K, class V>
  DictProxy<K, V> dict(std::string name = "") {
    return DictProxy<K, V>(create("dict", std::move(name), {}, 0));
  }
  // `initial` is used only when the list is created.
  template <class T>
  ListProxy<T> list(std::vector<T> initial = {}, std::string name = "") {
    std::vector<std::string> items;
    for (const auto& x : initial) items.push_back(encode(x));
    return ListProxy<T>(create("list", std::move(name), std::move(items), 0));
  }
  // maxsize 0: unbounded. `maxsize` is used only when the queue is created.
  template <class T>
  QueueProxy<T> queue(std::size_t maxsize = 0, std::string name = "") {
    return QueueProxy<T>(create("queue", std::move(name), {}, static_cast<int64_t>(maxsize)));
  }
  LockProxy lock(std::string name = "") {
    return LockProxy(create("lock", std::move(name), {}, 0));
  }

  // Owner: stops the server and reaps it (no process is left), and closes this
  // process's connections to it (the calling thread's now, other threads' at their next
  // Manager call). A connect()ed Manager, or a copy inherited by a forked child (whose
  // static destructors may run it), only forgets the server. Idempotent; never throws.
  void shutdown();
  // The server's actual endpoint (with the port chosen for port 0).
  const std::string& endpoint() const { return endpoint_; }
  // The server's pid, for the owner while it runs.
  std::optional<pid_t> server_pid() const;

 private:
  Manager(std::string endpoint, pid_t server, bool owner)
      : endpoint_(std::move(endpoint)), server_(server), owner_(owner), creator_(::getpid()) {}
  static Manager spawn(const std::string& bind_endpoint, const std::string& direct_name,
                       const std::string& authkey);
  internal::ProxyRef create(const char* kind, std::string name, std::vector<std::string> values,
                            int64_t n);
  std::string endpoint_;
  pid_t server_ = 0;
  bool owner_ = false;
  pid_t creator_ = 0;  // the process that made this Manager (owns the server if owner_)
};

// ---- implementation ------------------------------------------------------------------

template <class T>
void QueueProxy<T>::put_impl(const T& item, const internal::Deadline& deadline, bool block) {
  check_open();
  internal::ManagerRequest req;
  req.a = encode(item);
  for (;;) {
    auto wait = block ? internal::slice_until(deadline) : std::chrono::milliseconds(0);
    req.n = wait.count();
    auto r = internal::proxy_call(ref_, "q.put", req, {internal::kManagerFull}, wait);
    if (r.code == internal::kManagerOk) return;
    if (!block || internal::slice_until(deadline).count() == 0) {
      throw Full("shoal::QueueProxy::put: the queue is full");
    }
  }
}

template <class T>
T QueueProxy<T>::get_impl(const internal::Deadline& deadline, bool block) {
  check_open();
  for (;;) {
    internal::ManagerRequest req;
    auto wait = block ? internal::slice_until(deadline) : std::chrono::milliseconds(0);
    req.n = wait.count();
    auto r = internal::proxy_call(ref_, "q.get", std::move(req), {internal::kManagerEmpty}, wait);
    if (r.code == internal::kManagerOk) return decode<T>(r.value);
    if (!block || internal::slice_until(deadline).count() == 0) {
      throw Empty("shoal::QueueProxy::get: the queue is empty");
    }
  }
}

}  // namespace shoal
