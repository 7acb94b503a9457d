#include "shoal/internal/collect_state.h"

#include "shoal/errors.hpp"
#include "shoal/internal/reply.h"

namespace shoal::internal {

MapState::MapState(std::vector<std::size_t> chunk_items, bool raw)
    : raw_(raw), chunks_(chunk_items.size()), remaining_(chunk_items.size()) {
  for (std::size_t i = 0; i < chunk_items.size(); ++i) chunks_[i].items = chunk_items[i];
  if (chunks_.empty()) set_ready();
}

MapState::~MapState() {
  for (ChunkOutcome& chunk : chunks_) recycle_reply_buffer(std::move(chunk.reply));
}

void MapState::complete(std::size_t index, std::string reply) {
  chunks_[index].reply = std::move(reply);
  finish_one();
}

void MapState::fail(std::size_t index, const ErrorInfo& error) {
  chunks_[index].error = error;
  finish_one();
}

void MapState::finish_one() {
  // acq_rel: the last finisher sees every other chunk's writes before set_ready.
  if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) set_ready();
}

namespace {

// What a chunk back and waiting for the consumer holds: its reply or its error, and the
// bookkeeping around it (a map node, the outcome), so that many small results count too.
constexpr std::size_t kWaitingChunkBytes = 256;
std::size_t waiting_bytes(const ChunkOutcome& chunk) {
  std::size_t bytes = kWaitingChunkBytes + chunk.reply.size();
  if (chunk.error) {
    bytes += chunk.error->type_name.size() + chunk.error->message.size() +
             chunk.error->where.size();
  }
  return bytes;
}

}  // namespace

void StreamState::expect(std::size_t index, std::size_t items, std::size_t bytes) {
  std::lock_guard lock(mu_);
  pending_[index] = Pending{items, bytes};
  ++expected_;
  items_running_ += items;
  bytes_in_flight_ += bytes;
}

void StreamState::input_done() {
  {
    std::lock_guard lock(mu_);
    input_done_ = true;
    changes_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
}

void StreamState::fail_input(std::size_t index, std::exception_ptr error) {
  {
    std::lock_guard lock(mu_);
    ChunkOutcome& chunk = arrived_[index];
    chunk = ChunkOutcome{1, {}, std::nullopt, std::move(error)};
    ++expected_;
    bytes_in_flight_ += waiting_bytes(chunk);
    changes_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
}

void StreamState::complete(std::size_t index, std::string reply) {
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(index);
    if (it == pending_.end()) return;  // duplicate: already resolved
    ChunkOutcome& chunk = arrived_[index];
    chunk = ChunkOutcome{it->second.items, std::move(reply), std::nullopt, nullptr};
    bytes_in_flight_ = bytes_in_flight_ - it->second.bytes + waiting_bytes(chunk);
    items_running_ -= it->second.items;
    pending_.erase(it);
    changes_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
}

void StreamState::fail(std::size_t index, const ErrorInfo& error) {
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(index);
    if (it == pending_.end()) return;
    // Copied before the chunk is inserted: if the copy throws (out of memory), nothing has
    // changed, and the consumer cannot take a half-made chunk before the engine fails this
    // one again (fail_undelivered).
    ChunkOutcome failed{it->second.items, {}, error, nullptr};
    ChunkOutcome& chunk = arrived_[index];
    chunk = std::move(failed);
    bytes_in_flight_ = bytes_in_flight_ - it->second.bytes + waiting_bytes(chunk);
    items_running_ -= it->second.items;
    pending_.erase(it);
    changes_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
}

std::optional<ChunkOutcome> StreamState::take(Clock::time_point deadline, bool* refill) {
  std::unique_lock lock(mu_);
  if (refill != nullptr) *refill = false;
  for (;;) {
    if (!arrived_.empty()) {
      auto it = ordered_ ? arrived_.find(next_index_) : arrived_.begin();
      if (it != arrived_.end()) {
        ChunkOutcome out = std::move(it->second);
        arrived_.erase(it);
        ++next_index_;
        ++taken_;
        bytes_in_flight_ -= waiting_bytes(out);
        return out;
      }
    }
    if (input_done_ && taken_ == expected_) return std::nullopt;
    // The head is slow and the rest may go on. Asked once per number of chunks expected:
    // a feeder that added none is not asked again in vain.
    if (refill != nullptr && refill_due() && refill_asked_at_ != expected_) {
      refill_asked_at_ = expected_;
      *refill = true;
      return std::nullopt;
    }
    if (auto source = progress.lock()) {
      // A done-callback on the pool's result thread: nobody else would collect the chunks.
      const std::uint64_t seen = changes_.load(std::memory_order_acquire);
      lock.unlock();
      const bool collected = source->collect_until(
          [this, seen] { return changes_.load(std::memory_order_acquire) != seen; }, deadline);
      lock.lock();
      if (collected) {
        if (changes_.load(std::memory_order_acquire) == seen && Clock::now() >= deadline) {
          throw TimeoutError("no result arrived within the timeout");
        }
        continue;
      }
    }
    if (deadline == Clock::time_point::max()) {
      cv_.wait(lock);
    } else {
      if (Clock::now() >= deadline) throw TimeoutError("no result arrived within the timeout");
      cv_.wait_until(lock, deadline);
    }
  }
}

bool StreamState::room_for(std::size_t items, std::size_t bytes) const {
  if (input_done_) return false;
  if (expected_ - taken_ < window_.min_chunks) return true;
  // Results waiting for the consumer count by their bytes and number, not their items: an
  // ordered stream behind a slow chunk goes on submitting past it.
  return items_running_ + items <= window_.max_items &&
         bytes_in_flight_ + bytes <= window_.max_bytes &&
         arrived_.size() < window_.max_waiting_chunks;
}

bool StreamState::has_room() const {
  std::lock_guard lock(mu_);
  return room_for(1, 1);
}

bool StreamState::has_ready() const {
  std::lock_guard lock(mu_);
  return ordered_ ? arrived_.count(next_index_) != 0 : !arrived_.empty();
}

bool StreamState::wants_refill() const {
  std::lock_guard lock(mu_);
  return refill_due();
}

}  // namespace shoal::internal
