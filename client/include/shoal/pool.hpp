#pragma once
// Pool (API.md §3): run tasks in worker processes, locally or through a broker.
//
//   shoal::Pool pool(4);                                   // local: forked workers
//   auto f = pool.apply_async(square, 7);                  // Future<int>
//   std::vector<int> v = pool.map(square, items);          // input order
//   auto remote = shoal::Pool::connect("broker:50051");    // same API, many hosts
//
// Every member is thread-safe. A local pool forks its workers (through a zygote) when
// it is made, so they inherit the descriptors and globals that exist at that moment.
// Fork caveats: a local pool may be made in a process that already runs threads, but
// only the calling thread exists in the children: a task must not wait on a lock or a
// thread of the parent, and the initializer runs in each worker, not in the parent.
// A process forked from the pool's (fork(), shoal::Process) does not own its copy of the
// pool, as Python's Finalize runs in the creating process only: there ~Pool(), close(),
// terminate() and join() do nothing (a child that calls exit() or returns from main, and so
// destroys a static or local Pool, leaves the parent's pool working), and submitting to it
// throws PoolClosedError; futures pending at the fork never resolve in the child.
// Memory: making the first local pool raises glibc's mmap threshold to 32 MiB and its
// trim threshold to 256 MiB in the calling process (MiB-sized payloads then reuse heap
// pages instead of faulting in fresh ones); GLIBC_TUNABLES with malloc settings, or
// SHOAL_MALLOC_TUNING=0, leaves malloc alone. Replies of 1 MiB or more reuse buffers
// that consumed results gave back: up to 256 MiB of them stay allocated for that.

#include <algorithm>
#include <exception>
#include <iterator>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "shoal/errors.hpp"
#include "shoal/future.hpp"
#include "shoal/internal/backend.h"
#include "shoal/options.hpp"
#include "shoal/task.hpp"

namespace shoal {
namespace internal {

// What apply_async takes as a task rather than a name: an explicit result type (an
// arithmetic one, apply_async<bool>("name")) or any string (apply_async<std::string>(
// std::string(name))) names the by-name overload's R instead.
template <class F>
concept NotByName = !std::is_arithmetic_v<std::remove_cvref_t<F>> &&
                    !std::is_convertible_v<F, std::string_view>;

}  // namespace internal

class Pool {
 public:
  // A local fork/shared-memory pool of cpu_count() processes.
  Pool();
  // A local pool of `processes` processes (0: cpu_count()); < 0: std::invalid_argument.
  explicit Pool(int processes);
  // A local pool made as `options` says.
  explicit Pool(PoolOptions options);
  // A remote pool: tasks go to the broker at `address` ("HOST:PORT", the broker's
  // client address). Throws ConnectionError when nothing answers within
  // options.connect_timeout, std::invalid_argument when an option is out of range (a
  // connect_timeout not positive, a keepalive under 1 s).
  static Pool connect(const std::string& address, ConnectOptions options = {});

  Pool(Pool&&) noexcept;
  Pool& operator=(Pool&&) noexcept;
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  // close() then join(): nothing submitted is lost. A with() handle does neither, nor a
  // local pool's copy in a forked child (the parent's pool goes on).
  ~Pool();

  // A handle to the same pool whose submissions use `options`; std::invalid_argument for
  // a priority outside 0..9, a negative time_limit or max_retries below -1.
  Pool with(TaskOptions options) const;

  // Runs f(args...) in a worker and returns its result (throws its failure).
  template <class F, class... A>
  auto apply(F&& f, A&&... args);
  // Submits f(args...); args are converted to f's parameter types as a call would.
  // Remote pools need f registered (SHOAL_TASK), else NotRegisteredError.
  template <class F, class... A>
    requires internal::NotByName<F>
  auto apply_async(F&& f, A&&... args);
  // Submits the registered task `task` by name; the result is decoded as R. A name no
  // task (or, remotely, no worker of the queue) has fails the future with
  // NotRegisteredError, on either pool.
  template <class R, class... A>
  Future<R> apply_async(std::string_view task, A&&... args);
  // f over every item, results in input order. chunksize 0: about len/(4*processes),
  // processes of the queue the items go to, fewer when the first item's arguments are big
  // (a chunk's stay near 1 MiB); at most 1,000 while no worker serves the queue (remote).
  template <class F, class Range>
  auto map(F&& f, Range&& items, std::size_t chunksize = 0);
  template <class F, class Range>
  auto map_async(F&& f, Range&& items, std::size_t chunksize = 0);
  // f over items, lazily, results in input order (imap) or completion order
  // (imap_unordered). Read ahead: 4 × processes() chunks, or more while those running
  // hold under max(4,096, 64 × processes()) items and all (results not yet taken
  // included) under 16 MiB (internal::stream_window): a slow first item does not stop
  // the items behind it while the consumer waits for it. An lvalue
  // range must outlive the stream. Once the pool is closed or terminated the stream
  // submits no more: the chunks it could not submit fail with PoolClosedError and it ends
  // after them. When reading or converting an input item throws, the items read before it
  // still run, next() throws that exception in the item's place, and the stream ends.
  template <class F, class Range>
  auto imap(F&& f, Range&& items, std::size_t chunksize = 1);
  template <class F, class Range>
  auto imap_unordered(F&& f, Range&& items, std::size_t chunksize = 1);
  // As map, each item a tuple (or pair/array) of f's arguments.
  template <class F, class Range>
  auto starmap(F&& f, Range&& arg_tuples, std::size_t chunksize = 0);
  template <class F, class Range>
  auto starmap_async(F&& f, Range&& arg_tuples, std::size_t chunksize = 0);

  // No new work; later submissions throw PoolClosedError. Queued work still runs.
  void close();
  // Stops now: unfinished futures fail with CancelledError; workers are killed.
  void terminate();
  // Waits for the workers to exit; std::logic_error unless closed or terminated. In a
  // done-callback of this pool, a local pool collects the remaining results on that thread
  // meanwhile (running their callbacks there); a remote one throws shoal::Error when the
  // callback runs on one of the pool's own threads, which join() waits for.
  void join();
  // Local: worker processes; remote: slots of the connected workers that serve the
  // pool's queue (ConnectOptions::queue).
  int processes() const;

 private:
  Pool(std::shared_ptr<internal::Backend> backend, TaskOptions options, bool owner);
  internal::Backend& backend() const;

  template <bool kStar, class F, class Items>
  auto map_chunks(F&& f, const Items& items, std::size_t chunksize);
  template <class F, class Range>
  auto stream(F&& f, Range&& items, std::size_t chunksize, bool ordered);
  template <class Pointer, bool kRaw>
  internal::Submission make_submission(Pointer fn) const;
  // Python's count rule for an automatic chunksize: about n / (4 × processes()).
  std::size_t auto_chunksize(std::size_t n) const;

  std::shared_ptr<internal::Backend> backend_;
  // backend_->progress() and backend_->local(), asked once: every submission uses them.
  std::weak_ptr<internal::ProgressSource> progress_;
  bool local_ = false;
  TaskOptions options_;
  bool owner_ = false;
};

// ---- implementation ------------------------------------------------------------------

namespace internal {

template <class F>
using TaskPointer = typename Traits<F>::pointer;

// How a call by name sends argument A: by value, and a C string (a literal) as a
// std::string (a pointer has no encoding).
template <class A>
using ByNameArg =
    std::conditional_t<std::is_same_v<std::decay_t<A>, const char*> ||
                           std::is_same_v<std::decay_t<A>, char*>,
                       std::string, std::decay_t<A>>;

// Whether the local raw (memcpy) mode applies to F's arguments and result.
template <class F>
constexpr bool kRawTask =
    kRawCodable<typename Traits<F>::result, typename Traits<F>::args>;

// Converts call arguments to F's decayed parameter types, as a direct call would.
template <class F, class... A>
typename Traits<F>::args convert_args(A&&... args) {
  using Args = typename Traits<F>::args;
  static_assert(std::tuple_size_v<Args> == sizeof...(A),
                "shoal: wrong number of arguments for this task");
  return Args(std::forward<A>(args)...);
}

template <class F, class Tuple>
typename Traits<F>::args convert_tuple(const Tuple& t) {
  return std::apply([](const auto&... a) { return convert_args<F>(a...); }, t);
}

// An automatic map chunk's most bytes of arguments: enough that per-task costs are small
// beside copying them, few enough that big items keep flowing (and stay in memory once).
inline constexpr std::size_t kAutoChunkBytes = std::size_t{1} << 20;
// An automatic map chunk's most items while no worker serves its queue (remote).
inline constexpr std::size_t kChunkItemsWithoutWorkers = 1000;

// The most bytes of arguments an automatic chunk for `backend` takes: kAutoChunkBytes, or
// a quarter of its max_task_bytes() when less (room for results bigger than arguments).
std::size_t auto_chunk_bytes(const Backend& backend);

// `chunksize` lowered so that a chunk of items of `item_bytes` each holds at most
// `target_bytes` (but never fewer than one item).
inline std::size_t cap_chunk_by_bytes(std::size_t chunksize, std::size_t item_bytes,
                                      std::size_t target_bytes) {
  if (item_bytes == 0) return chunksize;
  return std::min(chunksize, std::max<std::size_t>(1, target_bytes / item_bytes));
}

// The read-ahead of a stream on a pool of `processes` processes: at least 4 chunks per
// process, and up to max(4,096, 64 per process) items while under 16 MiB.
inline StreamWindow stream_window(int processes) {
  StreamWindow window;
  auto per = static_cast<std::size_t>(std::max(1, processes));
  window.min_chunks = 4 * per;
  window.max_items = std::max(window.max_items, 64 * per);
  return window;
}

template <class Range>
auto materialize(Range&& r) {
  if constexpr (std::ranges::sized_range<Range> && std::ranges::random_access_range<Range>) {
    return std::ranges::ref_view(r);
  } else {
    using V = std::ranges::range_value_t<Range>;
    return std::vector<V>(std::ranges::begin(r), std::ranges::end(r));
  }
}

}  // namespace internal

template <class Pointer, bool kRaw>
internal::Submission Pool::make_submission(Pointer fn) const {
  backend();  // a moved-from pool has no backend
  internal::Submission s;
  s.seq = internal::next_task_seq();
  s.fn = reinterpret_cast<std::uintptr_t>(fn);
  s.options = options_;
  if (local_) {
    s.raw = kRaw;
    s.invoke = &internal::invoke_items<kRaw, Pointer>;  // no registry lookup: the hot path
  } else {
    const auto* entry = internal::find_task(s.fn);
    if (!entry) {
      throw NotRegisteredError("function " + type_name<Pointer>() +
                               " is not registered; a remote pool runs tasks by name "
                               "(use SHOAL_TASK or shoal::register_task)");
    }
    s.name = entry->name;
    s.invoke = entry->invoke;
  }
  return s;
}

template <class F, class... A>
auto Pool::apply(F&& f, A&&... args) {
  return apply_async(std::forward<F>(f), std::forward<A>(args)...).get();
}

template <class F, class... A>
  requires internal::NotByName<F>
auto Pool::apply_async(F&& f, A&&... args) {
  internal::check_task<F>();
  using R = typename internal::Traits<F>::result;
  using Pointer = internal::TaskPointer<F>;
  constexpr bool kRaw = internal::kRawTask<F>;
  internal::Submission s = make_submission<Pointer, kRaw>(f);
  auto args_tuple = internal::convert_args<F>(std::forward<A>(args)...);
  if (s.raw) {
    internal::encode_args<kRaw>(s.args, args_tuple);
  } else {
    internal::encode_args<false>(s.args, args_tuple);
  }
  auto state = std::make_shared<internal::FutureState>(s.seq, s.raw);
  state->canceller = backend_;
  state->progress = progress_;
  s.sink = state;
  backend_->submit_one(s);
  return Future<R>(std::move(state));
}

template <class R, class... A>
Future<R> Pool::apply_async(std::string_view task, A&&... args) {
  backend();  // a moved-from pool has no backend
  internal::Submission s;
  s.seq = internal::next_task_seq();
  s.name = std::string(task);
  s.options = options_;
  auto state = std::make_shared<internal::FutureState>(s.seq, false);
  state->canceller = backend_;
  state->progress = progress_;
  if (local_) {
    const auto* entry = internal::find_task(task);
    if (!entry) {  // as a remote pool reports it: through the future
      state->fail(0, {internal::ErrorKind::kNotRegistered, "",
                      "no task is registered as '" + s.name + "'", ""});
      return Future<R>(std::move(state));
    }
    s.invoke = entry->invoke;
    s.fn = entry->fn;
  }
  encode_to(s.args, std::make_tuple(internal::ByNameArg<A>(std::forward<A>(args))...));
  s.sink = state;
  backend_->submit_one(s);
  return Future<R>(std::move(state));
}

template <bool kStar, class F, class Items>
auto Pool::map_chunks(F&& f, const Items& items, std::size_t chunksize) {
  internal::check_task<F>();
  using R = typename internal::Traits<F>::result;
  static_assert(!std::is_void_v<R>, "shoal: map needs a task that returns a value");
  using Pointer = internal::TaskPointer<F>;
  constexpr bool kRaw = internal::kRawTask<F>;
  const std::size_t n = std::ranges::size(items);
  internal::Submission proto = make_submission<Pointer, kRaw>(f);
  const bool raw = proto.raw;
  auto encode_item = [&](std::string& out, const auto& item) {
    auto args = [&] {
      if constexpr (kStar) {
        return internal::convert_tuple<F>(item);
      } else {
        static_assert(std::tuple_size_v<typename internal::Traits<F>::args> == 1,
                      "shoal: map needs a one-argument task; use starmap");
        return internal::convert_args<F>(item);
      }
    }();
    if (raw) {
      internal::encode_args<kRaw>(out, args);
    } else {
      internal::encode_args<false>(out, args);
    }
  };
  // An automatic chunk also keeps to auto_chunk_bytes of arguments, judged by the first
  // item's: MiB-sized items go one per task (25 would make a 25 MiB message, soon past
  // the broker's --max-message-bytes, and slow to pipeline).
  std::string first;  // item 0's arguments when measured, for the first chunk
  bool measured = false;
  if (chunksize == 0) {
    chunksize = auto_chunksize(n);
    if (chunksize > 1) {
      encode_item(first, *std::ranges::begin(items));
      measured = true;
      chunksize = internal::cap_chunk_by_bytes(chunksize, first.size(),
                                               internal::auto_chunk_bytes(backend()));
    }
  }
  std::vector<std::size_t> sizes;
  for (std::size_t at = 0; at < n; at += chunksize) sizes.push_back(std::min(chunksize, n - at));
  auto state = std::make_shared<internal::MapState>(sizes, proto.raw);
  state->progress = progress_;
  constexpr std::size_t kFlushBytes = std::size_t{4} << 20;
  constexpr std::size_t kFlushChunks = 4096;
  constexpr std::size_t kMaxReserve = std::size_t{256} << 20;
  std::vector<internal::Submission> batch;
  batch.reserve(std::min(sizes.size(), kFlushChunks));
  std::size_t pending_bytes = 0;
  auto it = std::ranges::begin(items);
  for (std::size_t c = 0; c < sizes.size(); ++c) {
    internal::Submission s = proto;
    if (c > 0) s.seq = internal::next_task_seq();
    s.items = sizes[c];
    s.sink = state;
    s.index = c;
    for (std::size_t i = 0; i < sizes[c]; ++i, ++it) {
      if (c == 0 && i == 0 && measured) {
        s.args = std::move(first);
      } else {
        encode_item(s.args, *it);
      }
      // Size the chunk from its first item: doubling a MiB-sized buffer copies it again
      // and again, and past malloc's mmap threshold faults in fresh pages.
      if (i == 0 && sizes[c] > 1) {
        const std::size_t guess = s.args.size() * sizes[c] + s.args.size() / 16 + 64;
        s.args.reserve(std::min(guess, kMaxReserve));
      }
    }
    pending_bytes += s.args.size();
    batch.push_back(std::move(s));
    // Hand chunks over as they are encoded, so workers start while the rest is encoded;
    // small chunks still go in batches (one hand-off for many).
    if (pending_bytes >= kFlushBytes || batch.size() >= kFlushChunks) {
      backend().submit(batch);
      batch.clear();
      pending_bytes = 0;
    }
  }
  // An empty input submits an empty batch: on a closed pool it fails as any map does.
  if (!batch.empty() || sizes.empty()) backend().submit(batch);
  return MapResult<R>(std::move(state));
}

template <class F, class Range>
auto Pool::map_async(F&& f, Range&& items, std::size_t chunksize) {
  return map_chunks<false>(std::forward<F>(f),
                           internal::materialize(std::forward<Range>(items)), chunksize);
}

template <class F, class Range>
auto Pool::map(F&& f, Range&& items, std::size_t chunksize) {
  return map_async(std::forward<F>(f), std::forward<Range>(items), chunksize).get();
}

template <class F, class Range>
auto Pool::starmap_async(F&& f, Range&& arg_tuples, std::size_t chunksize) {
  return map_chunks<true>(std::forward<F>(f),
                          internal::materialize(std::forward<Range>(arg_tuples)), chunksize);
}

template <class F, class Range>
auto Pool::starmap(F&& f, Range&& arg_tuples, std::size_t chunksize) {
  return starmap_async(std::forward<F>(f), std::forward<Range>(arg_tuples), chunksize).get();
}

template <class F, class Range>
auto Pool::stream(F&& f, Range&& items, std::size_t chunksize, bool ordered) {
  internal::check_task<F>();
  using R = typename internal::Traits<F>::result;
  static_assert(!std::is_void_v<R>, "shoal: imap needs a task that returns a value");
  using Pointer = internal::TaskPointer<F>;
  constexpr bool kRaw = internal::kRawTask<F>;
  if (chunksize == 0) chunksize = 1;
  internal::Submission proto = make_submission<Pointer, kRaw>(f);
  auto state = std::make_shared<internal::StreamState>(
      ordered, proto.raw, internal::stream_window(backend().processes_hint(options_.queue)));
  state->progress = progress_;
  // The feeder owns the input (or a view of an lvalue), its position, and the chunks read
  // that the pool had no room for yet.
  using Stored = std::conditional_t<std::is_lvalue_reference_v<Range>,
                                    std::ranges::ref_view<std::remove_reference_t<Range>>,
                                    std::remove_cvref_t<Range>>;
  struct Input {
    Stored range;
    std::ranges::iterator_t<Stored> it;
    std::size_t next_chunk = 0;
    std::vector<internal::Submission> batch;
    std::vector<std::size_t> chunks;  // their indices: submit() empties the batch
  };
  auto input = std::make_shared<Input>(Input{Stored(std::forward<Range>(items)), {}, 0, {}, {}});
  input->it = std::ranges::begin(input->range);
  std::weak_ptr<internal::Backend> weak = backend_;
  auto feeder = [input, state, proto, chunksize, weak](internal::Clock::time_point deadline) {
    auto backend = weak.lock();
    std::vector<internal::Submission>& batch = input->batch;
    std::vector<std::size_t>& chunks = input->chunks;
    enum class Flushed { kAll, kHeld, kRefused };
    // Submits the batch: kHeld when the pool had no room for it by `deadline` (it is
    // submitted first at the next call); kRefused once the pool refused it (closed or
    // terminated): its chunks fail, and the stream ends after them (the rest of the input
    // is never read).
    auto flush = [&]() -> Flushed {
      if (batch.empty()) return Flushed::kAll;
      std::string refused;
      if (!backend) {
        refused = "the pool is gone";
      } else {
        try {
          if (!backend->submit_until(batch, deadline)) return Flushed::kHeld;
        } catch (const Error& e) {
          refused = e.what();
        }
      }
      if (refused.empty()) {
        batch.clear();
        chunks.clear();
        return Flushed::kAll;
      }
      for (std::size_t index : chunks) {
        state->fail(index, {internal::ErrorKind::kPoolClosed, "",
                            refused + "; the rest of this stream was not submitted", ""});
      }
      batch.clear();
      chunks.clear();
      state->input_done();
      return Flushed::kRefused;
    };
    // What the pool had no room for at the last call goes first.
    if (Flushed first = flush(); first != Flushed::kAll) return first == Flushed::kHeld;
    auto flushed = internal::Clock::now();
    while (state->has_room()) {  // expect() below counts each chunk in flight
      if (input->it == std::ranges::end(input->range)) break;
      internal::Submission s = proto;
      s.seq = internal::next_task_seq();
      s.sink = state;
      s.index = input->next_chunk++;
      s.items = 0;
      std::exception_ptr bad;  // reading, converting or encoding an item threw
      while (s.items < chunksize && input->it != std::ranges::end(input->range)) {
        const std::size_t size = s.args.size();
        bool read = false;
        try {
          auto args = internal::convert_args<F>(*input->it);
          if (proto.raw) {
            internal::encode_args<kRaw>(s.args, args);
          } else {
            internal::encode_args<false>(s.args, args);
          }
          read = true;
          ++s.items;
          ++input->it;
        } catch (...) {
          if (!read) s.args.resize(size);  // a half-encoded item
          bad = std::current_exception();
          break;
        }
      }
      const std::size_t index = s.index;
      const bool any = s.items > 0;
      if (any) {
        state->expect(s.index, s.items, s.args.size());
        chunks.push_back(s.index);
        batch.push_back(std::move(s));
      }
      if (bad) {
        // As Python's imap: what was read before goes, the error takes the next item's
        // place (a chunk of its own: the stream reads no further) and the stream ends.
        state->fail_input(any ? input->next_chunk++ : index, bad);
        const Flushed flushed_bad = flush();
        if (flushed_bad != Flushed::kRefused) state->input_done();
        return flushed_bad == Flushed::kHeld;
      }
      // An input slow to read: what was read goes to the workers every millisecond, and
      // the consumer gets its results as soon as there are some, not a window later.
      if (internal::Clock::now() - flushed >= std::chrono::milliseconds(1)) {
        if (Flushed f = flush(); f != Flushed::kAll) return f == Flushed::kHeld;
        flushed = internal::Clock::now();
        if (state->has_ready()) break;
      }
    }
    const Flushed last = flush();
    if (last == Flushed::kRefused) return false;
    if (input->it == std::ranges::end(input->range)) state->input_done();
    return last == Flushed::kHeld;
  };
  feeder(internal::Clock::time_point::max());  // start work before the first next()
  return ResultStream<R>(std::move(state), std::move(feeder));
}

template <class F, class Range>
auto Pool::imap(F&& f, Range&& items, std::size_t chunksize) {
  return stream(std::forward<F>(f), std::forward<Range>(items), chunksize, true);
}

template <class F, class Range>
auto Pool::imap_unordered(F&& f, Range&& items, std::size_t chunksize) {
  return stream(std::forward<F>(f), std::forward<Range>(items), chunksize, false);
}

}  // namespace shoal
