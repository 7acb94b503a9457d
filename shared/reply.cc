#include "shoal/internal/reply.h"

#include <atomic>
#include <mutex>
#include <vector>

namespace shoal::internal {
namespace {

constexpr std::size_t kMaxCached = std::size_t{256} << 20;

struct BufferCache {
  std::atomic<bool> used{false};  // only a process that takes buffers keeps any
  std::mutex mu;                  // try_lock only: a fork may copy it locked
  std::vector<std::string> free;  // guarded by mu, oldest first
  std::size_t bytes = 0;          // capacity of `free`; guarded by mu
};

BufferCache& cache() {
  static auto* c = new BufferCache;  // never destroyed: futures may die during exit
  return *c;
}

}  // namespace

std::string take_reply_buffer(std::size_t capacity) {
  std::string out;
  if (capacity >= kRecycledReplyBytes) {
    BufferCache& c = cache();
    c.used.store(true, std::memory_order_relaxed);
    std::unique_lock lock(c.mu, std::try_to_lock);
    if (lock) {
      std::size_t best = c.free.size();  // the smallest buffer that is big enough
      for (std::size_t i = 0; i < c.free.size(); ++i) {
        if (c.free[i].capacity() >= capacity &&
            (best == c.free.size() || c.free[i].capacity() < c.free[best].capacity())) {
          best = i;
        }
      }
      if (best < c.free.size()) {
        out = std::move(c.free[best]);
        c.free.erase(c.free.begin() + static_cast<std::ptrdiff_t>(best));
        c.bytes -= out.capacity();
      }
    }
  }
  out.reserve(capacity);
  return out;
}

void recycle_reply_buffer(std::string&& buffer) {
  if (buffer.capacity() < kRecycledReplyBytes || buffer.capacity() > kMaxCached) return;
  BufferCache& c = cache();
  if (!c.used.load(std::memory_order_relaxed)) return;
  std::string keep = std::move(buffer);
  keep.clear();
  std::vector<std::string> dropped;  // freed after the lock is released
  std::unique_lock lock(c.mu, std::try_to_lock);
  if (!lock) return;
  std::size_t drop = 0;
  while (c.bytes + keep.capacity() > kMaxCached) {
    c.bytes -= c.free[drop].capacity();
    dropped.push_back(std::move(c.free[drop++]));
  }
  c.free.erase(c.free.begin(), c.free.begin() + static_cast<std::ptrdiff_t>(drop));
  c.bytes += keep.capacity();
  c.free.push_back(std::move(keep));
  lock.unlock();
}

void reply_failed(std::string& reply, const ErrorInfo& error) {
  reply.push_back(kReplyFailed);
  encode_to(reply, error);
}

ErrorInfo ReplyReader::next_error() {
  try {
    return decode_next<ErrorInfo>(reply_, offset_);
  } catch (const SerializationError& e) {
    return broken("malformed error item");
  }
}

ErrorInfo ReplyReader::not_nil() {
  msgpack::object_handle handle;
  try {
    handle = unpack_at(reply_, offset_);
  } catch (const std::exception&) {
    return broken("malformed value");
  }
  return ErrorInfo{ErrorKind::kSerialization, "shoal::SerializationError",
                   "cannot decode MessagePack " + describe(handle.get()) + " as void", ""};
}

ErrorInfo ReplyReader::broken(const char* why) {
  broken_ = true;
  return ErrorInfo{ErrorKind::kSerialization, "shoal::SerializationError",
                   std::string("malformed task reply: ") + why, ""};
}

}  // namespace shoal::internal
