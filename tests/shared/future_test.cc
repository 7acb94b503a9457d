#include "shoal/future.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

namespace shoal {
namespace {

using internal::ErrorInfo;
using internal::ErrorKind;
using internal::FutureState;

std::string OkReply(int v) {
  std::string reply;
  internal::reply_ok<false>(reply, v);
  return reply;
}

Future<int> MakeFuture() {
  return Future<int>(std::make_shared<FutureState>(internal::next_task_seq(), false));
}

TEST(FutureTest, GetReturnsTheValueMoreThanOnce) {
  auto f = MakeFuture();
  EXPECT_FALSE(f.ready());
  f.state()->complete(0, OkReply(42));
  EXPECT_TRUE(f.ready());
  EXPECT_TRUE(f.successful());
  EXPECT_EQ(f.get(), 42);
  EXPECT_EQ(f.get(), 42);
  Future<int> copy = f;
  EXPECT_EQ(copy.get(), 42);
}

TEST(FutureTest, SuccessfulBeforeReadyIsLogicError) {
  auto f = MakeFuture();
  EXPECT_THROW(f.successful(), std::logic_error);
}

TEST(FutureTest, TimedGetThrowsTimeoutAndLaterSucceeds) {
  auto f = MakeFuture();
  EXPECT_THROW(f.get(std::chrono::milliseconds(5)), TimeoutError);
  std::thread t([s = f.state()] { s->complete(0, OkReply(7)); });
  EXPECT_EQ(f.get(std::chrono::seconds(10)), 7);
  t.join();
}

TEST(FutureTest, FailureIsRethrownAsItsKind) {
  auto f = MakeFuture();
  f.state()->fail(0, ErrorInfo{ErrorKind::kWorkerLost, "", "worker died: SIGKILL", ""});
  EXPECT_FALSE(f.successful());
  EXPECT_THROW(f.get(), WorkerLostError);
}

TEST(FutureTest, RemoteErrorCarriesTypeMessageAndWhere) {
  auto f = MakeFuture();
  std::string reply;
  internal::reply_failed(reply, ErrorInfo{ErrorKind::kRemote, "app::ParseFailure", "bad", "h:1"});
  f.state()->complete(0, reply);
  try {
    f.get();
    FAIL();
  } catch (const RemoteError& e) {
    EXPECT_EQ(e.type_name(), "app::ParseFailure");
    EXPECT_STREQ(e.what(), "bad");
    EXPECT_EQ(e.where(), "h:1");
  }
}

TEST(FutureTest, WrongResultTypeIsSerializationError) {
  Future<std::string> f(std::make_shared<FutureState>(1, false));
  f.state()->complete(0, OkReply(5));
  EXPECT_THROW(f.get(), SerializationError);
}

TEST(FutureTest, EveryWaitingThreadWakesWithTheValue) {
  auto f = MakeFuture();
  std::atomic<int> waiting{0};
  std::vector<int> got(4, 0);
  std::vector<std::thread> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.emplace_back([&, i] {
      waiting.fetch_add(1);
      got[i] = f.get();  // spins, then sleeps on the future until it resolves
    });
  }
  while (waiting.load() < 4) std::this_thread::yield();
  EXPECT_FALSE(f.wait_for(std::chrono::milliseconds(1)));
  f.state()->complete(0, OkReply(9));
  for (auto& t : waiters) t.join();
  EXPECT_EQ(got, (std::vector<int>(4, 9)));
}

TEST(FutureTest, IdIsTheSameFromEveryThread) {
  auto f = MakeFuture();
  std::vector<const std::string*> seen(4, nullptr);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&, i] { seen[i] = &f.id(); });
  for (auto& t : threads) t.join();
  for (const std::string* id : seen) EXPECT_EQ(id, &f.id());
  EXPECT_EQ(f.id(), internal::task_id_string(f.state()->seq()));
}

// Ids are 9 digits of this process, then the sequence in base 64 (the remote client maps
// results back by parsing the sequence); up to 2^36 they fit a string's own buffer.
TEST(FutureTest, IdIsProcessPrefixThenBase64Sequence) {
  const std::string zero = internal::task_id_string(0);
  ASSERT_EQ(zero.size(), 10u);
  const std::string prefix = zero.substr(0, 9);
  EXPECT_EQ(zero.find_first_not_of(internal::kTaskIdDigits), std::string::npos);
  EXPECT_EQ(zero.back(), '0');
  EXPECT_EQ(internal::task_id_string(64 * 10 + 37), prefix + "aB");
  EXPECT_EQ(internal::task_id_string((std::uint64_t{1} << 36) - 1), prefix + "______");
  EXPECT_LE(internal::task_id_string((std::uint64_t{1} << 36) - 1).size(), 15u);
  EXPECT_EQ(internal::task_id_string(~std::uint64_t{0}), prefix + "f__________");
}

// A child of fork() names its tasks apart from its parent's (and its siblings'): both
// counters go on from the same number, so the prefix must differ, or a broker would take
// the child's task for the parent's resubmission and answer it with the parent's result.
TEST(FutureTest, AForkedChildNamesItsTasksApart) {
  const std::string parent = internal::task_id_string(7);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string child = internal::task_id_string(7);
    ssize_t n = write(fds[1], child.data(), child.size());
    _exit(n == ssize_t(child.size()) ? 0 : 1);
  }
  close(fds[1]);
  char buffer[64];
  ssize_t n = read(fds[0], buffer, sizeof(buffer));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_GT(n, 0);
  const std::string child(buffer, std::size_t(n));
  EXPECT_EQ(child.size(), parent.size());
  EXPECT_NE(child.substr(0, internal::kTaskIdPrefixSize),
            parent.substr(0, internal::kTaskIdPrefixSize));
  EXPECT_EQ(internal::task_id_string(7), parent);  // the parent's own stays
  EXPECT_EQ(internal::task_id_prefix(), parent.substr(0, internal::kTaskIdPrefixSize));
}

TEST(FutureTest, ResolvesExactlyOnce) {
  auto f = MakeFuture();
  f.state()->complete(0, OkReply(1));
  f.state()->complete(0, OkReply(2));
  f.state()->fail(0, ErrorInfo{ErrorKind::kCancelled, "", "late", ""});
  EXPECT_EQ(f.get(), 1);
}

TEST(FutureTest, CallbackRunsOnceWhenDoneOrAtOnce) {
  auto f = MakeFuture();
  int calls = 0;
  f.add_done_callback([&](const Future<int>& g) {
    ++calls;
    EXPECT_EQ(g.get(), 3);
  });
  EXPECT_EQ(calls, 0);
  f.state()->complete(0, OkReply(3));
  EXPECT_EQ(calls, 1);
  std::thread::id where;
  f.add_done_callback([&](const Future<int>&) {
    ++calls;
    where = std::this_thread::get_id();
  });
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(where, std::this_thread::get_id());
}

TEST(FutureTest, IdsAreUnique) {
  auto a = MakeFuture();
  auto b = MakeFuture();
  EXPECT_NE(a.id(), b.id());
  EXPECT_EQ(a.id(), a.id());
}

TEST(FutureTest, WaitAllAndAsCompleted) {
  std::vector<Future<int>> fs{MakeFuture(), MakeFuture(), MakeFuture()};
  auto completed = as_completed(fs);
  fs[2].state()->complete(0, OkReply(2));
  fs[0].state()->complete(0, OkReply(0));
  std::thread t([s = fs[1].state()] { s->complete(0, OkReply(1)); });
  wait_all(fs);
  t.join();
  std::vector<int> order;
  for (const auto& f : completed) order.push_back(f.get());
  EXPECT_EQ(order, (std::vector<int>{2, 0, 1}));
}

TEST(MapResultTest, InputOrderAndFirstFailureByInputOrder) {
  auto state = std::make_shared<internal::MapState>(std::vector<std::size_t>{2, 1}, false);
  MapResult<int> m(state);
  EXPECT_FALSE(m.ready());
  state->complete(1, OkReply(30));
  std::string two = OkReply(10) + OkReply(20);
  state->complete(0, two);
  EXPECT_TRUE(m.ready());
  EXPECT_TRUE(m.successful());
  EXPECT_EQ(m.get(), (std::vector<int>{10, 20, 30}));

  auto failing = std::make_shared<internal::MapState>(std::vector<std::size_t>{1, 1}, false);
  std::string bad;
  internal::reply_failed(bad, ErrorInfo{ErrorKind::kRemote, "std::runtime_error", "first", ""});
  failing->fail(1, ErrorInfo{ErrorKind::kWorkerLost, "", "second", ""});
  failing->complete(0, bad);
  MapResult<int> mf(failing);
  EXPECT_FALSE(mf.successful());
  EXPECT_THROW(mf.get(), RemoteError);
}

TEST(ResultStreamTest, OrderedStreamYieldsInInputOrderAndSkipsPastFailures) {
  auto state = std::make_shared<internal::StreamState>(true, false);
  state->expect(0, 1);
  state->expect(1, 1);
  state->expect(2, 1);
  state->input_done();
  ResultStream<int> stream(state, [](internal::Clock::time_point) { return false; });
  state->complete(2, OkReply(3));
  std::string bad;
  internal::reply_failed(bad, ErrorInfo{ErrorKind::kRemote, "std::logic_error", "x", ""});
  state->complete(1, bad);
  state->complete(0, OkReply(1));
  EXPECT_EQ(stream.next(), 1);
  EXPECT_THROW(stream.next(), RemoteError);
  EXPECT_EQ(stream.next(), 3);
  EXPECT_EQ(stream.next(), std::nullopt);
}

// The read-ahead window: min_chunks always; beyond, the items of chunks not yet back,
// the bytes of all (arguments until their chunk is back, then its reply or error and 256
// bytes of bookkeeping until taken) and the number of chunks back and waiting bound it.
TEST(ResultStreamTest, TheWindowCountsChunksItemsBytesAndWaitingChunks) {
  auto state = std::make_shared<internal::StreamState>(
      true, false,
      internal::StreamWindow{
          .min_chunks = 2, .max_items = 6, .max_bytes = 1000, .max_waiting_chunks = 2});
  EXPECT_TRUE(state->has_room());
  state->expect(0, 3, 10);
  state->expect(1, 3, 10);  // 2 chunks, 6 items running: at the item bound
  EXPECT_FALSE(state->has_room());
  const std::string reply = OkReply(1);
  ASSERT_LT(reply.size(), 20u);
  state->complete(1, reply);  // back behind chunk 0: it counts by bytes, not items
  EXPECT_TRUE(state->has_room());  // 3 items running
  state->expect(2, 1, 60);
  EXPECT_TRUE(state->has_room());  // 4 items; 10 + (256 + reply) + 60 bytes
  state->expect(3, 1, 700);
  EXPECT_FALSE(state->has_room());  // 5 items, but over 1000 bytes
  state->fail(3, ErrorInfo{ErrorKind::kWorkerLost, "", "lost", ""});
  EXPECT_FALSE(state->has_room());  // under 1000 bytes, but 2 chunks back and waiting
  state->complete(0, reply);
  ASSERT_TRUE(state->take(internal::Clock::time_point::max()).has_value());  // chunk 0
  ASSERT_TRUE(state->take(internal::Clock::time_point::max()).has_value());  // chunk 1
  EXPECT_TRUE(state->has_room());  // chunk 3 waits alone; chunk 2 runs
  state->input_done();
  EXPECT_FALSE(state->has_room());  // nothing more to read
}

// A stream of small chunks refills only once a quarter of its window is free.
TEST(ResultStreamTest, TheWindowRefillsInBatches) {
  auto state = std::make_shared<internal::StreamState>(
      true, false, internal::StreamWindow{.min_chunks = 1, .max_items = 8, .max_bytes = 100000});
  for (std::size_t i = 0; i < 8; ++i) state->expect(i, 1, 1);
  EXPECT_FALSE(state->has_room());
  state->complete(0, OkReply(0));
  EXPECT_TRUE(state->has_room());       // 7 items running
  EXPECT_FALSE(state->wants_refill());  // but not yet a quarter free
  state->complete(1, OkReply(1));
  EXPECT_TRUE(state->wants_refill());  // 6 of 8
}

// A consumer waiting for the head of an ordered stream is told when the window has room
// for a refill; once per refill that added chunks, so a feeder with nothing to add does
// not make it spin.
TEST(ResultStreamTest, TakeAsksForARefillWhileTheHeadIsSlow) {
  auto state = std::make_shared<internal::StreamState>(
      true, false, internal::StreamWindow{.min_chunks = 1, .max_items = 8, .max_bytes = 100000});
  for (std::size_t i = 0; i < 8; ++i) state->expect(i, 1, 1);
  state->complete(1, OkReply(1));
  bool refill = false;
  EXPECT_THROW(state->take(internal::Clock::now() + std::chrono::milliseconds(5), &refill),
               TimeoutError);  // 7 of 8 running: no quarter free yet
  state->complete(2, OkReply(2));
  EXPECT_FALSE(state->take(internal::Clock::time_point::max(), &refill).has_value());
  EXPECT_TRUE(refill);  // the head (0) is not back, and a quarter of the window is free
  EXPECT_THROW(state->take(internal::Clock::now() + std::chrono::milliseconds(5), &refill),
               TimeoutError);  // nothing was added since: it waits
  EXPECT_FALSE(refill);
  state->expect(8, 1, 1);  // the feeder added one
  state->complete(3, OkReply(3));
  EXPECT_FALSE(state->take(internal::Clock::time_point::max(), &refill).has_value());
  EXPECT_TRUE(refill);
  state->complete(0, OkReply(0));
  auto head = state->take(internal::Clock::time_point::max(), &refill);
  ASSERT_TRUE(head.has_value());
  EXPECT_FALSE(refill);
}

TEST(ResultStreamTest, TimedNextThrowsTimeout) {
  auto state = std::make_shared<internal::StreamState>(false, false);
  state->expect(0, 1);
  ResultStream<int> stream(state, [](internal::Clock::time_point) { return false; });
  EXPECT_THROW(stream.next(std::chrono::milliseconds(5)), TimeoutError);
  state->complete(0, OkReply(9));
  state->input_done();
  EXPECT_EQ(stream.next(std::chrono::seconds(1)), 9);
  EXPECT_EQ(stream.next(std::chrono::seconds(1)), std::nullopt);
}

}  // namespace
}  // namespace shoal
