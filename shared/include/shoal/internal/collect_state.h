#pragma once
// Shared state of MapResult (all chunks of one map) and ResultStream (imap's chunks,
// delivered in input order or as they complete).

#include <cstdint>
#include <deque>
#include <exception>
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
  // A stream's input threw while this (one-item) chunk was read: rethrown as it was.
  std::exception_ptr input_error;
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

// How far a stream reads ahead of its consumer. A chunk counts from its submission until
// the consumer takes it. At least `min_chunks` are in flight; more while the items of
// those not yet back stay under `max_items`, the bytes of all (arguments sent, replies not
// yet taken) under `max_bytes`, and those back and waiting for the consumer under
// `max_waiting_chunks`. So small items keep the workers busy across a broker's round trip,
// a slow chunk at the head of an ordered stream does not stop the work behind it, and an
// endless input streams in bounded memory.
struct StreamWindow {
  std::size_t min_chunks = 8;
  std::size_t max_items = 4096;
  std::size_t max_bytes = std::size_t{16} << 20;
  std::size_t max_waiting_chunks = 65536;
};

// Collects the chunks of an imap/imap_unordered. The consumer pulls; the feeder submits
// more input while has_room().
class StreamState : public Sink {
 public:
  StreamState(bool ordered, bool raw, StreamWindow window = {})
      : ordered_(ordered), raw_(raw), window_(window) {}

  void complete(std::size_t index, std::string reply) override;
  void fail(std::size_t index, const ErrorInfo& error) override;

  bool raw() const { return raw_; }

  // Called by the feeder before it submits chunk `index` of `items` items whose
  // arguments take `bytes`.
  void expect(std::size_t index, std::size_t items, std::size_t bytes = 0);
  // Marks the input exhausted: no chunk beyond those expected.
  void input_done();
  // Called by the feeder when reading or converting the input threw: chunk `index`, one
  // item, arrives at once holding `error`, which the consumer rethrows in that item's place.
  // The feeder then submits what it read before and calls input_done().
  void fail_input(std::size_t index, std::exception_ptr error);
  // Takes the next chunk to consume (in input order if ordered), waiting until
  // `deadline`. nullopt: the stream is exhausted, or (only when `refill` is given) the
  // window has room for a refill while none is ready to take: *refill is then true, and
  // the caller feeds the stream and calls again. Throws TimeoutError on timeout.
  std::optional<ChunkOutcome> take(Clock::time_point deadline, bool* refill = nullptr);
  // True while the input goes on and the window (above) has room for another chunk.
  bool has_room() const;
  // True if take() would return a chunk at once.
  bool has_ready() const;
  // As has_room(), but past min_chunks only once a quarter of the window is free, so a
  // stream of small chunks refills in batches rather than a chunk per result.
  bool wants_refill() const;

  // Where take() collects results itself when it runs on the thread that alone delivers
  // them (a done-callback on a local pool's result thread), or nothing.
  std::weak_ptr<ProgressSource> progress;

 private:
  struct Pending {
    std::size_t items;
    std::size_t bytes;
  };

  // With mu_ held: the input goes on, and the window is under min_chunks or has room for
  // `items` more items and `bytes` more bytes.
  bool room_for(std::size_t items, std::size_t bytes) const;
  // With mu_ held: wants_refill().
  bool refill_due() const { return room_for(window_.max_items / 4, window_.max_bytes / 4); }

  const bool ordered_;
  const bool raw_;
  const StreamWindow window_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::size_t, Pending> pending_;       // expected, not yet arrived
  std::map<std::size_t, ChunkOutcome> arrived_;  // arrived, not yet taken
  std::size_t next_index_ = 0;                   // ordered: next chunk to take
  std::size_t expected_ = 0;
  std::size_t taken_ = 0;
  std::size_t items_running_ = 0;    // of chunks expected and not yet back
  // Their arguments until they arrive, then what they hold (replies or errors, and 256
  // bytes each for their bookkeeping).
  std::size_t bytes_in_flight_ = 0;
  bool input_done_ = false;
  std::atomic<std::uint64_t> changes_{0};   // chunks arrived, input ended: take() looks again
  std::size_t refill_asked_at_ = SIZE_MAX;  // expected_ when take() last asked for a refill
};

}  // namespace shoal::internal
