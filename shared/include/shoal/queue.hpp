#pragma once
// Queue, JoinableQueue, SimpleQueue (API.md §6): FIFO queues shared by processes.
//
//   shoal::Queue<std::string> q;                 // create before forking
//   shoal::Process p([&] { q.put("hello"); });
//   p.start();
//   std::string s = q.get();                     // "hello"
//
// Items are encoded with the codec (any Codable T) into byte rings in an anonymous
// MAP_SHARED mapping made by the constructor; processes forked afterwards share it.
// Many producers and many consumers, in any processes; items come out in the order
// their puts completed. A small ring (4 MiB) carries the traffic while consumers keep
// up; when it is full, or for an item over 1 MiB, items spill into a large overflow
// ring that reserves address space only (MAP_NORESERVE): its memory is used for the
// bytes actually queued and given back as consumers move on. So maxsize = 0 means
// "bounded by memory" (a put blocks only once 4 GiB, or half of RAM if less, are
// queued; less where the address space cannot be reserved, as under `ulimit -v` or
// vm.overcommit_memory=2: then the ring is halved until it can, down to 64 MiB). One item
// may take up to a quarter of that.
//
// Queues are handles: copies (in this process, or inherited by fork) are the same
// queue. close() is per process, as in Python: it marks this process's handles closed,
// after which put() and get() throw std::logic_error; other processes are unaffected.
// Every member is thread-safe and process-safe.
//
// A process killed at any point, even inside put() or get(), leaves the queue usable and
// its items well-formed: its side lock is taken over as a Lock's is, and the next
// producer or consumer finishes its half-done operation. A put() killed midway has
// queued its item whole or not at all. A get() killed midway has left its item whole in
// the queue for the next get(), or taken it out: then that one item is lost (for a
// JoinableQueue it counts as unfinished, as for a worker that died before task_done(),
// so join() waits for it). No other item is lost, damaged or reordered, and qsize() (so
// also the maxsize bound) counts exactly the items a get() can still take.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "shoal/codec.hpp"
#include "shoal/errors.hpp"
#include "shoal/sync.hpp"

namespace shoal {
namespace internal {

// The untyped queue of byte strings behind Queue<T>.
class ByteQueue {
 public:
  // Throws shoal::Error if the shared mapping cannot be made.
  ByteQueue(std::size_t maxsize, bool joinable);
  ~ByteQueue();
  ByteQueue(const ByteQueue&) = delete;
  ByteQueue& operator=(const ByteQueue&) = delete;

  // Appends `item`; false if the queue stayed full until `deadline` (or at once when
  // !block). Throws shoal::Error for an item larger than the ring can hold. The
  // producers' lock is waited for within the same limit: false too if another producer
  // (one copying a big item, or stopped) held it throughout.
  bool put(std::string_view item, bool block, const Deadline& deadline);
  // Moves the oldest item into `out`; false if none came by `deadline` (or !block), or
  // if another consumer held the consumers' lock throughout.
  bool get(std::string& out, bool block, const Deadline& deadline);
  std::size_t qsize() const;
  std::size_t maxsize() const;
  bool full() const;
  void task_done();  // std::logic_error if called more times than items were put
  void join();       // blocks until every item put has been task_done()'d
  void close() { closed_ = true; }
  void check_open(const char* what) const;

 private:
  struct Header;
  // What one look under a side lock found.
  enum class Try { kDone, kNotNow, kLockBusy };
  // kLockBusy: the side lock was not free by `lock_deadline` (!block: not free at once).
  Try try_put(std::string_view item, uint64_t rec, bool block, const Deadline& lock_deadline,
              uint32_t& seen_gets);
  Try try_get(std::string& out, bool block, const Deadline& lock_deadline, uint32_t& seen_puts);
  static bool wait_changed(std::atomic<uint32_t>* counter, uint32_t seen,
                           std::atomic<uint32_t>* waiters, const Deadline& deadline);
  void finish_put();  // completes the last committed put (see byte_queue.cc)
  void finish_get();  // completes the last committed get
  std::shared_ptr<SharedRegion> region_;
  Header* h_;
  std::byte* main_;   // the hot ring: small, its pages stay mapped and warm
  std::byte* spill_;  // the overflow ring: large, address space reserved only
  bool closed_ = false;
};

}  // namespace internal

template <class T>
class Queue {
  static_assert(Codable<T>, "shoal::Queue<T>: T must be Codable (see shoal/codec.hpp)");

 public:
  // maxsize 0: no item limit (bounded by memory); else put() blocks at maxsize items.
  explicit Queue(std::size_t maxsize = 0) : Queue(maxsize, false) {}

  // Blocks while the queue is full. std::logic_error after close().
  void put(const T& item) { put_impl(item, true, std::nullopt); }
  // Blocks at most `timeout`; throws Full if the queue stayed full, or if another
  // producer (one copying a big item in, or a stopped one) kept the producers' side
  // busy until then.
  template <class Rep, class Period>
  void put(const T& item, std::chrono::duration<Rep, Period> timeout) {
    put_impl(item, true, internal::deadline_after(timeout));
  }
  // Never waits for room; throws Full, also when another producer stays busy putting
  // for 10 ms (one copying a very big item, or stopped): a momentary one is waited for.
  void put_nowait(const T& item) { put_impl(item, false, std::nullopt); }

  // Blocks until an item is there and removes it. std::logic_error after close().
  T get() { return get_impl(true, std::nullopt); }
  // Blocks at most `timeout`; throws Empty if no item came, or if another consumer (one
  // copying a big item out, or a stopped one) kept the consumers' side busy until then.
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    return get_impl(true, internal::deadline_after(timeout));
  }
  // Never waits for an item; throws Empty, also when another consumer stays busy getting
  // for 10 ms (one copying a very big item, or stopped): a momentary one is waited for.
  T get_nowait() { return get_impl(false, std::nullopt); }

  // Items queued now (a snapshot, as in Python).
  std::size_t qsize() const { return q_->qsize(); }
  bool empty() const { return q_->qsize() == 0; }
  bool full() const { return q_->full(); }
  // This process will neither put nor get any more (see the file comment).
  void close() { q_->close(); }

 protected:
  Queue(std::size_t maxsize, bool joinable)
      : q_(std::make_shared<internal::ByteQueue>(maxsize, joinable)) {}
  std::shared_ptr<internal::ByteQueue> q_;

 private:
  void put_impl(const T& item, bool block, const internal::Deadline& deadline);
  T get_impl(bool block, const internal::Deadline& deadline);
};

// A Queue that counts unfinished items: every put() adds one, task_done() removes one,
// join() waits for zero.
template <class T>
class JoinableQueue : public Queue<T> {
 public:
  explicit JoinableQueue(std::size_t maxsize = 0) : Queue<T>(maxsize, true) {}
  // Marks one item as processed. std::logic_error if called more often than put().
  void task_done() { this->q_->task_done(); }
  // Blocks until every item put has been marked done.
  void join() { this->q_->join(); }
};

// The minimal queue: put, get, empty, close (unbounded).
template <class T>
class SimpleQueue {
 public:
  SimpleQueue() = default;
  void put(const T& item) { q_.put(item); }  // never blocks (bounded by memory)
  T get() { return q_.get(); }               // blocks until an item is there
  bool empty() const { return q_.empty(); }
  void close() { q_.close(); }  // later put/get: std::logic_error

 private:
  Queue<T> q_;
};

// ---- implementation ------------------------------------------------------------------

template <class T>
void Queue<T>::put_impl(const T& item, bool block, const internal::Deadline& deadline) {
  q_->check_open("put");
  thread_local std::string buffer;
  buffer.clear();
  encode_to(buffer, item);
  if (!q_->put(buffer, block, deadline)) throw Full("shoal::Queue::put: the queue is full");
}

template <class T>
T Queue<T>::get_impl(bool block, const internal::Deadline& deadline) {
  q_->check_open("get");
  thread_local std::string buffer;
  if (!q_->get(buffer, block, deadline)) throw Empty("shoal::Queue::get: the queue is empty");
  return decode<T>(buffer);
}

}  // namespace shoal
