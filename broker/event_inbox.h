#pragma once
// A many-producer, one-consumer hand-off of events to the scheduler's thread. Producers
// append under a mutex; only the append that finds the inbox empty signals an eventfd,
// so a burst of events costs one wake-up. The consumer polls the eventfd (with its
// ZeroMQ sockets) and takes everything at once.

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace shoal::broker {

template <class Event>
class EventInbox {
 public:
  EventInbox() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~EventInbox() {
    if (fd_ >= 0) ::close(fd_);
  }
  EventInbox(const EventInbox&) = delete;
  EventInbox& operator=(const EventInbox&) = delete;

  // False if eventfd could not be created (then the inbox is unusable).
  bool valid() const { return fd_ >= 0; }
  // The descriptor that becomes readable when events wait. Owned by the inbox.
  int fd() const { return fd_; }

  // Appends `event`; false (and `event` untouched) once closed. Thread-safe.
  bool post(Event&& event) {
    bool was_empty;
    {
      absl::MutexLock lock(&mu_);
      if (closed_) return false;
      was_empty = events_.empty();
      events_.push_back(std::move(event));
    }
    if (was_empty) wake();
    return true;
  }
  // Makes fd() readable without an event (e.g. to ask the consumer to stop).
  void wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(fd_, &one, sizeof one);
  }
  // Moves every waiting event into `out` (cleared first). Consumer thread only.
  void drain(std::vector<Event>& out) {
    uint64_t count;
    [[maybe_unused]] ssize_t n = read(fd_, &count, sizeof count);  // reset before taking
    out.clear();
    absl::MutexLock lock(&mu_);
    std::swap(out, events_);
  }
  // Refuses later posts; events already posted can still be drained. Thread-safe.
  void close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }

 private:
  int fd_;
  absl::Mutex mu_;
  std::vector<Event> events_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace shoal::broker
