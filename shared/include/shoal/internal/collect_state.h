#pragma once
// Shared state of MapResult (all chunks of one map) and ResultStream (imap's chunks,
// delivered in input order or as they complete).

#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "shoal/internal/future_state.h"

namespace shoal::internal {

// One chunk's outcome: its reply, or the failure of the whole chunk.
struct ChunkOutcome {
  std::size_t items = 0;
  std::string reply;
  std::optional<ErrorInfo> error;
};

// Collects the chunks of a map; ready when every chunk has ended.
class MapState : public Sink, public Waitable {
 public:
  // `chunk_items[i]` is the number of items of chunk i.
  MapState(std::vector<std::size_t> chunk_items, bool raw);
  // Gives big reply buffers back for reuse (reply.h).
  ~MapState() override;

  void complete(std::size_t index, std::string reply) override;
  void fail(std::size_t index, const ErrorInfo& error) override;

  bool raw() const { return raw_; }
  // Valid once ready().
  const std::vector<ChunkOutcome>& chunks() const { return chunks_; }

 private:
  void finish_one();

  const bool raw_;
  std::vector<ChunkOutcome> chunks_;
  std::atomic<std::size_t> remaining_;
};

// Collects the chunks of an imap/imap_unordered. The consumer pulls; `feed` submits
// more input (up to a bound of chunks in flight) and returns false when input is done.
class StreamState : public Sink {
 public:
  StreamState(bool ordered, bool raw) : ordered_(ordered), raw_(raw) {}

  void complete(std::size_t index, std::string reply) override;
  void fail(std::size_t index, const ErrorInfo& error) override;

  bool raw() const { return raw_; }

  // Called by the feeder before it submits chunk `index` of `items` items.
  void expect(std::size_t index, std::size_t items);
  // Marks the input exhausted: no chunk beyond those expected.
  void input_done();
  // Takes the next chunk to consume (in input order if ordered), waiting until
  // `deadline`. nullopt: the stream is exhausted. Throws TimeoutError on timeout.
  std::optional<ChunkOutcome> take(Clock::time_point deadline);
  // Chunks expected and not yet taken.
  std::size_t in_flight() const;
  bool input_exhausted() const;

 private:
  const bool ordered_;
  const bool raw_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::size_t, std::size_t> pending_items_;  // expected, not yet arrived
  std::map<std::size_t, ChunkOutcome> arrived_;       // arrived, not yet taken
  std::size_t next_index_ = 0;                        // ordered: next chunk to take
  std::size_t expected_ = 0;
  std::size_t taken_ = 0;
  bool input_done_ = false;
};

}  // namespace shoal::internal
