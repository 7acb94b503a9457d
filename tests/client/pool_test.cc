// The Pool API of API.md §3 on the local engine: every call, its results and its
// errors as a user sees them.

#include "shoal/pool.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <map>
#include <numeric>
#include <optional>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "tests/client/pool_test_util.h"
#include "tests/testutil/half_encodable.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;
using testing::SharedCell;
using testing::TestPipe;

int square(int x) { return x * x; }
int add(int a, int b) { return a + b; }
bool is_even(int x) { return x % 2 == 0; }

std::string greet(std::string name, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += "hello " + name + ";";
  return out;
}
std::string echo_string(std::string s) { return s; }
int my_pid() { return static_cast<int>(getpid()); }
std::vector<int> iota_vec(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}
int fail_on_three(int x) {
  if (x == 3) throw std::invalid_argument("three is not allowed");
  return x;
}
// -1 for 3 (which cannot be encoded), else `x`.
HalfEncodable half_encodable(int x) { return HalfEncodable{x == 3 ? -1 : x}; }
// Blocks until the test writes to the pipe whose read end is `fd`, then returns `v`.
int wait_for_go(int fd, int v) {
  char c;
  while (read(fd, &c, 1) < 0 && errno == EINTR) {
  }
  return v;
}
// As wait_for_go, then returns the pid of the worker process that ran it.
int pid_after_go(int fd) { return wait_for_go(fd, static_cast<int>(getpid())); }
// Set before a pool is made (its processes inherit them): item 0 of head_waits waits for
// a write to kHeadGate's pipe, the others count themselves in kHeadDone.
int g_head_gate = -1;
std::atomic<int>* g_head_done = nullptr;
int head_waits(int x) {
  if (x == 0) return wait_for_go(g_head_gate, x);
  g_head_done->fetch_add(1);
  return x;
}

// This process's task id prefix (what tasks it submitted to a broker would start with).
std::string task_id_prefix_here(int) { return std::string(internal::task_id_prefix()); }

// Adds one to a shared counter (made before the pool) at `address`.
void bump(std::uintptr_t address) { reinterpret_cast<std::atomic<int>*>(address)->fetch_add(1); }

// Arrives at a shared counter and waits (30 s at most) until three tasks have.
int rendezvous(std::uintptr_t address) {
  auto* arrived = reinterpret_cast<std::atomic<int>*>(address);
  arrived->fetch_add(1);
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (arrived->load() < 3) {
    if (std::chrono::steady_clock::now() > give_up) return -1;
    sched_yield();
  }
  return static_cast<int>(getpid());
}

SHOAL_TASK_AS(add, "pool_test.add");
SHOAL_TASK_AS(greet, "pool_test.greet");
SHOAL_TASK_AS(is_even, "pool_test.is_even");

TEST(PoolTest, ApplyRunsInAnotherProcess) {
  Pool pool(2);
  EXPECT_EQ(pool.apply(square, 7), 49);
  EXPECT_NE(pool.apply(my_pid), getpid());
  EXPECT_EQ(pool.apply(greet, "bob", 2), "hello bob;hello bob;");
}

TEST(PoolTest, ApplyAsyncByFunctionAndByName) {
  Pool pool(2);
  Future<int> a = pool.apply_async(add, 2, 3);
  Future<int> b = pool.apply_async<int>("pool_test.add", 40, 2);
  Future<std::string> c = pool.apply_async<std::string>("pool_test.greet", std::string("x"), 1);
  EXPECT_EQ(a.get(), 5);
  EXPECT_EQ(b.get(), 42);
  EXPECT_EQ(c.get(), "hello x;");
  EXPECT_FALSE(a.id().empty());
  EXPECT_NE(a.id(), b.id());
  // A bool result and a string literal argument (neither compiled: <bool> chose the
  // by-function overload, and a const char* has no encoding).
  EXPECT_EQ(pool.apply_async<std::string>("pool_test.greet", "y", 2).get(), "hello y;hello y;");
  EXPECT_TRUE(pool.apply_async<bool>("pool_test.is_even", 4).get());
  // A name in a temporary string with a string result (chose the by-function overload
  // and did not compile), and in a string_view.
  EXPECT_EQ(pool.apply_async<std::string>(std::string("pool_test.greet"), "z", 1).get(),
            "hello z;");
  EXPECT_EQ(pool.apply_async<int>(std::string_view("pool_test.add"), 1, 2).get(), 3);
  // An unknown name fails through its future, as on a remote pool (it threw here).
  Future<int> unknown = pool.apply_async<int>("pool_test.no_such_task", 1);
  EXPECT_THROW(unknown.get(), NotRegisteredError);
  EXPECT_TRUE(unknown.ready());
  EXPECT_FALSE(unknown.successful());
}

TEST(PoolTest, ArgumentsConvertLikeACall) {
  Pool pool(1);
  // A double converts to the int parameter, a const char* to std::string.
  EXPECT_EQ(pool.apply(square, 3.9), 9);
  EXPECT_EQ(pool.apply([](std::vector<int> v) { return std::accumulate(v.begin(), v.end(), 0); },
                       iota_vec(101)),
            5050);
}

// An automatic chunk of big items keeps near the byte target: one MiB-sized item per
// task, a few of 300 kB, and small items as many as the count rule gives. A map whose
// first item was measured (and reused for the first chunk) returns every item once.
TEST(PoolTest, AutomaticChunksOfBigItemsStayNearTheByteTarget) {
  using internal::cap_chunk_by_bytes;
  EXPECT_EQ(cap_chunk_by_bytes(25, (1 << 20) + 9, 1 << 20), 1u);
  EXPECT_EQ(cap_chunk_by_bytes(25, 300'000, 1 << 20), 3u);
  EXPECT_EQ(cap_chunk_by_bytes(25, 10, 1 << 20), 25u);
  EXPECT_EQ(cap_chunk_by_bytes(25, 0, 1 << 20), 25u);
  EXPECT_EQ(cap_chunk_by_bytes(25, 90'000, 25'000), 1u);
  Pool pool(2);
  std::vector<std::string> big(40, std::string(300'000, 'b'));
  big[7] = "short";  // only the first item is measured; the rest may differ
  EXPECT_EQ(pool.map(echo_string, big), big);
}

TEST(PoolTest, MapKeepsInputOrderForEveryChunkSize) {
  Pool pool(2);
  std::vector<int> xs = iota_vec(10'000);
  std::vector<int> want(xs.size());
  std::transform(xs.begin(), xs.end(), want.begin(), square);
  EXPECT_EQ(pool.map(square, xs), want);  // chunksize 0: automatic
  EXPECT_EQ(pool.map(square, xs, 1), want);
  EXPECT_EQ(pool.map(square, xs, 333), want);
  EXPECT_EQ(pool.map(square, xs, 100'000), want);  // one chunk
  EXPECT_TRUE(pool.map(square, std::vector<int>{}).empty());
  std::set<int> s{3, 1, 2};  // not random access: materialised first
  EXPECT_EQ(pool.map(square, s), (std::vector<int>{1, 4, 9}));
}

TEST(PoolTest, MapAsyncResult) {
  Pool pool(2);
  MapResult<int> r = pool.map_async(square, iota_vec(1000), 7);
  r.wait();
  EXPECT_TRUE(r.ready());
  EXPECT_TRUE(r.successful());
  std::vector<int> out = r.get();
  ASSERT_EQ(out.size(), 1000u);
  EXPECT_EQ(out[999], 999 * 999);
}

TEST(PoolTest, MapThrowsTheFirstFailureByInputOrder) {
  Pool pool(2);
  MapResult<int> r = pool.map_async(fail_on_three, iota_vec(10), 1);
  r.wait();
  EXPECT_FALSE(r.successful());
  try {
    r.get();
    FAIL() << "no exception";
  } catch (const RemoteError& e) {
    EXPECT_EQ(e.type_name(), "std::invalid_argument");
    EXPECT_STREQ(e.what(), "three is not allowed");
  }
}

TEST(PoolTest, StarmapAndStarmapAsync) {
  Pool pool(2);
  std::vector<std::tuple<int, int>> args;
  for (int i = 0; i < 100; ++i) args.emplace_back(i, 1000 * i);
  std::vector<int> out = pool.starmap(add, args);
  ASSERT_EQ(out.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(out[static_cast<std::size_t>(i)], 1001 * i);
  std::vector<std::pair<int, int>> pairs{{1, 2}, {3, 4}};
  EXPECT_EQ(pool.starmap_async(add, pairs, 1).get(), (std::vector<int>{3, 7}));
}

TEST(PoolTest, ImapIsOrderedAndLazyOverAnEndlessInput) {
  Pool pool(2);
  auto stream = pool.imap(square, std::views::iota(0), 3);  // never ends
  for (int i = 0; i < 2000; ++i) {
    std::optional<int> v = stream.next();
    ASSERT_TRUE(v.has_value());
    ASSERT_EQ(*v, i * i);
  }
  std::vector<int> finite;
  for (int v : pool.imap(square, iota_vec(50))) finite.push_back(v);
  EXPECT_EQ(finite.size(), 50u);
  EXPECT_EQ(finite[49], 49 * 49);
}

// An ordered stream waiting for a slow first item goes on running the items behind it
// (it stopped once a window of 4,096 finished around the head).
TEST(PoolTest, ImapGoesOnBehindASlowHead) {
  TestPipe go;
  SharedCell<std::atomic<int>> done;
  g_head_gate = go.read_fd();
  g_head_done = done.get();
  Pool pool(2);
  constexpr int kItems = 12000;
  auto stream = pool.imap(head_waits, iota_vec(kItems));
  std::vector<int> got;
  std::thread consumer([&] {
    while (auto v = stream.next(std::chrono::seconds(120))) got.push_back(*v);
  });
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (done.get()->load() < kItems - 1 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(done.get()->load(), kItems - 1) << "the items behind a waiting head stopped";
  go.write_int(1);
  consumer.join();
  ASSERT_EQ(got.size(), std::size_t{kItems});
  for (int i = 0; i < kItems; ++i) ASSERT_EQ(got[std::size_t(i)], i);
}

TEST(PoolTest, ImapUnorderedYieldsEveryResultOnce) {
  Pool pool(2);
  std::multiset<int> got;
  for (int v : pool.imap_unordered(square, iota_vec(500), 4)) got.insert(v);
  std::multiset<int> want;
  for (int i = 0; i < 500; ++i) want.insert(i * i);
  EXPECT_EQ(got, want);
  auto endless = pool.imap_unordered(square, std::views::iota(0));
  std::set<int> first;
  for (int i = 0; i < 300; ++i) first.insert(*endless.next());
  EXPECT_EQ(first.size(), 300u);
}

TEST(PoolTest, ImapFailedItemThrowsAndTheStreamGoesOn) {
  Pool pool(2);
  auto stream = pool.imap(fail_on_three, iota_vec(6));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(*stream.next(), i);
  EXPECT_THROW(stream.next(), RemoteError);
  EXPECT_EQ(*stream.next(), 4);
  EXPECT_EQ(*stream.next(), 5);
  EXPECT_FALSE(stream.next().has_value());
}

TEST(PoolTest, TaskExceptionBecomesRemoteError) {
  Pool pool(1);
  int worker = pool.apply(my_pid);
  Future<int> f = pool.apply_async(fail_on_three, 3);
  try {
    f.get();
    FAIL() << "no exception";
  } catch (const RemoteError& e) {
    EXPECT_EQ(e.type_name(), "std::invalid_argument");
    EXPECT_STREQ(e.what(), "three is not allowed");
    EXPECT_THAT(e.where(), HasSubstr(":" + std::to_string(worker)));
  }
  EXPECT_FALSE(f.successful());
  EXPECT_EQ(pool.apply(square, 5), 25);  // the worker survived
}

// A result whose encoding throws half-way is a SerializationError with the thrower's
// message, and spoils nothing after it. The half-written bytes stayed in the reply before
// the failure: apply() returned a wrong value as a success, and in a chunk the items after
// it were misread ("bad reply status byte").
TEST(PoolTest, AResultThatCannotBeEncodedIsASerializationError) {
  Pool pool(1);
  try {
    HalfEncodable wrong = pool.apply(half_encodable, 3);
    FAIL() << "apply() returned v=" << wrong.v << " as a success";
  } catch (const SerializationError& e) {
    EXPECT_THAT(e.what(), HasSubstr("HalfEncodable"));
    EXPECT_THAT(e.what(), HasSubstr("a negative value cannot be encoded"));
  }
  // One chunk of six items, the fourth unencodable.
  auto stream = pool.imap(half_encodable, iota_vec(6), 6);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(stream.next()->v, i);
  EXPECT_THROW(stream.next(), SerializationError);
  EXPECT_EQ(stream.next()->v, 4);
  EXPECT_EQ(stream.next()->v, 5);
  EXPECT_FALSE(stream.next().has_value());
  EXPECT_THROW(pool.map(half_encodable, iota_vec(6), 6), SerializationError);
  auto fine = pool.map(half_encodable, std::vector<int>{0, 1, 2, 4}, 4);
  ASSERT_EQ(fine.size(), 4u);
  EXPECT_EQ(fine[3].v, 4);
  EXPECT_EQ(fine[3].tag, "t");
}

TEST(PoolTest, VoidTaskGivesFutureVoid) {
  SharedCell<std::atomic<int>> counter;
  Pool pool(2);
  Future<void> f = pool.apply_async(bump, reinterpret_cast<std::uintptr_t>(counter.get()));
  static_assert(std::is_same_v<decltype(f.get()), void>);
  f.get();
  EXPECT_TRUE(f.successful());
  EXPECT_EQ(counter->load(), 1);
}

TEST(PoolTest, TimedGetThrowsTimeoutAndTheResultStillArrives) {
  TestPipe go;
  Pool pool(1);
  Future<int> f = pool.apply_async(wait_for_go, go.read_fd(), 5);
  EXPECT_THROW(f.get(std::chrono::milliseconds(20)), TimeoutError);
  EXPECT_FALSE(f.wait_for(std::chrono::milliseconds(1)));
  go.write_int(1);
  EXPECT_EQ(f.get(std::chrono::seconds(30)), 5);
}

// A done-callback runs on the pool's result thread, never inside a thread waiting in
// get() that collected the result itself (which may hold a lock the callback takes: it
// deadlocked). The task waits for a go, so the callback is added before it ends.
TEST(PoolTest, DoneCallbacksRunOnTheResultThreadNotInAWaiter) {
  TestPipe go;
  Pool pool(1);
  int in_waiter = 0;
  for (int i = 0; i < 300; ++i) {
    Future<int> f = pool.apply_async(wait_for_go, go.read_fd(), i);
    std::atomic<bool> called{false};
    std::thread::id ran_on;
    f.add_done_callback([&](const Future<int>&) {
      ran_on = std::this_thread::get_id();
      called = true;
    });
    ASSERT_EQ(write(go.write_fd(), "x", 1), 1);
    ASSERT_EQ(f.get(), i);  // spins, collecting what arrives meanwhile
    while (!called.load()) std::this_thread::yield();
    in_waiter += ran_on == std::this_thread::get_id();
  }
  EXPECT_EQ(in_waiter, 0) << "callbacks ran inside the thread waiting in get()";
}

TEST(PoolTest, DoneCallbackRunsOnceWithTheFuture) {
  Pool pool(2);
  std::atomic<int> seen{0};
  std::atomic<int> calls{0};
  Future<int> f = pool.apply_async(square, 9);
  f.add_done_callback([&](const Future<int>& g) {
    seen = g.get();
    ++calls;
  });
  f.wait();
  f.add_done_callback([&](const Future<int>&) { ++calls; });  // already done: runs now
  pool.close();
  pool.join();  // the result thread has run every callback by now
  EXPECT_EQ(seen.load(), 81);
  EXPECT_EQ(calls.load(), 2);
}

// Polls `pred` (a few ms apart) for up to 10 s: a bounded wait, so that a hang fails the
// test instead of timing it out.
bool within_10s(const std::function<bool()>& pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// join() in a done-callback, which runs on the thread that collects the pool's replies,
// collects the rest itself. (It slept, waiting for replies that only it would collect:
// for ever unless another thread happened to wait on a future.)
TEST(PoolTest, JoinInADoneCallbackCollectsTheRemainingResultsItself) {
  TestPipe go_f, go_g;
  Pool pool(1);
  Future<int> f = pool.apply_async(wait_for_go, go_f.read_fd(), 1);
  Future<int> g = pool.apply_async(wait_for_go, go_g.read_fd(), 2);  // runs after f
  std::atomic<bool> called{false}, joined{false};
  f.add_done_callback([&](const Future<int>&) {
    called = true;
    pool.close();
    pool.join();
    joined = true;
  });
  go_f.write_int(1);
  ASSERT_TRUE(within_10s([&] { return called.load(); }));
  go_g.write_int(1);  // g's reply comes once the callback's join() waits
  bool returned = within_10s([&] { return joined.load(); });
  if (!returned) g.wait();  // collects g's reply, which lets the callback's join() return
  EXPECT_TRUE(returned) << "join() in a done-callback waited for a reply only it collects";
  EXPECT_TRUE(g.ready());
  EXPECT_EQ(g.get(), 2);
  EXPECT_EQ(f.get(), 1);
}

// A done-callback may wait for more work of its pool (chaining): it runs on the thread
// that collects the pool's replies, which then collects them itself while it waits, and
// runs the callbacks of what it collects (which may wait in turn). It slept for ever
// instead, and the pool with it (here the callback's get() timed out after 30 s).
TEST(PoolTest, ADoneCallbackMayWaitForMoreWorkOfItsPool) {
  TestPipe go;
  Pool pool(2);
  Future<int> first = pool.apply_async(wait_for_go, go.read_fd(), 3);
  std::promise<std::vector<int>> got;
  std::promise<int> nested;
  first.add_done_callback([&](const Future<int>& f) {
    std::vector<int> values;
    try {
      values.push_back(pool.apply_async(square, f.get()).get(std::chrono::seconds(30)));
      for (int v : pool.map_async(square, iota_vec(3)).get(std::chrono::seconds(30))) {
        values.push_back(v);
      }
      auto stream = pool.imap(square, std::vector<int>{4, 5});
      while (std::optional<int> v = stream.next(std::chrono::seconds(30))) values.push_back(*v);
      // A callback of a future this callback waits for, which waits in turn.
      Future<int> inner = pool.apply_async(square, 6);
      inner.add_done_callback([&](const Future<int>& g) {
        try {
          nested.set_value(pool.apply_async(add, g.get(), 1).get(std::chrono::seconds(30)));
        } catch (const std::exception& e) {
          ADD_FAILURE() << "in the nested done-callback: " << e.what();
          nested.set_value(-1);
        }
      });
      values.push_back(inner.get(std::chrono::seconds(30)));
      values.push_back(pool.apply_async(square, 7).get(std::chrono::seconds(30)));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "in the done-callback: " << e.what();
    }
    got.set_value(values);
  });
  go.write_int(1);
  std::future<std::vector<int>> done = got.get_future();  // no pool future: nobody polls
  ASSERT_EQ(done.wait_for(std::chrono::seconds(300)), std::future_status::ready);
  EXPECT_EQ(done.get(), (std::vector<int>{9, 0, 1, 4, 16, 25, 36, 49}));
  std::future<int> nested_done = nested.get_future();
  ASSERT_EQ(nested_done.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(nested_done.get(), 37);
}

// terminate() while a done-callback waits for a result on the pool's result thread, which
// terminate() waits for: the wait ends with CancelledError, and terminate() returns.
TEST(PoolTest, TerminateEndsTheWaitOfADoneCallback) {
  TestPipe go, never;
  Pool pool(1);
  Future<int> first = pool.apply_async(wait_for_go, go.read_fd(), 1);
  std::promise<void> waiting;
  std::promise<std::string> outcome;
  first.add_done_callback([&](const Future<int>&) {
    Future<int> hung = pool.apply_async(wait_for_go, never.read_fd(), 2);
    waiting.set_value();
    try {
      hung.get(std::chrono::seconds(30));
      outcome.set_value("a result");
    } catch (const CancelledError&) {
      outcome.set_value("CancelledError");
    } catch (const std::exception& e) {
      outcome.set_value(e.what());
    }
  });
  go.write_int(1);
  ASSERT_EQ(waiting.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  pool.terminate();
  std::future<std::string> result = outcome.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_EQ(result.get(), "CancelledError");
}

// Ends the test binary, failing, unless `done` is ready within a minute: a deadlock that
// hangs a pool's teardown would hang the rest of the binary too.
void exit_unless_ready_in_60s(std::future<void>& done, const char* what) {
  if (done.wait_for(std::chrono::seconds(60)) == std::future_status::ready) return;
  ADD_FAILURE() << what;
  std::fflush(stdout);
  std::_Exit(1);
}

// terminate() in another thread while a done-callback waits in join(): both return, and the
// unfinished work fails with CancelledError. (They deadlocked: terminate() waited for the
// result thread to end while holding the teardown's lock, which the callback's join() waited
// for.)
TEST(PoolTest, TerminateWhileADoneCallbackJoins) {
  TestPipe go, never;
  Pool pool(1);
  Future<int> first = pool.apply_async(wait_for_go, go.read_fd(), 1);
  Future<int> hung = pool.apply_async(wait_for_go, never.read_fd(), 2);  // runs after first
  std::promise<void> joining, joined, terminated;
  first.add_done_callback([&](const Future<int>&) {
    pool.close();
    joining.set_value();
    pool.join();
    joined.set_value();
  });
  go.write_int(1);
  ASSERT_EQ(joining.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  std::thread terminator([&] {
    pool.terminate();
    terminated.set_value();
  });
  std::future<void> terminate_returned = terminated.get_future();
  std::future<void> join_returned = joined.get_future();
  exit_unless_ready_in_60s(terminate_returned, "terminate() did not return");
  exit_unless_ready_in_60s(join_returned, "join() in the done-callback did not return");
  terminator.join();
  EXPECT_THROW(hung.get(), CancelledError);
  EXPECT_EQ(first.get(), 1);
}

// join() in another thread while a done-callback waits in join(): both return once the work
// is done. (The same deadlock, when the other thread's join() took the teardown first: here
// the callback of the last job holds the result thread until that join() has stopped the
// pool's processes.)
TEST(PoolTest, JoinInAnotherThreadWhileADoneCallbackJoins) {
  TestPipe go_f, go_g;
  Pool pool(1);
  Future<int> f = pool.apply_async(wait_for_go, go_f.read_fd(), 1);
  Future<int> g = pool.apply_async(pid_after_go, go_g.read_fd());  // runs after f
  std::promise<void> joining, joined, other_joined;
  std::atomic<bool> worker_exited{false};
  f.add_done_callback([&](const Future<int>&) {
    pool.close();
    joining.set_value();
    pool.join();
    joined.set_value();
  });
  g.add_done_callback([&](const Future<int>& done) {
    // Runs on the result thread inside the join() above, once the other thread's join() may
    // tear the pool down (nothing is left to do): it returns when that has begun.
    worker_exited = testing::wait_for_exit(done.get(), std::chrono::seconds(30));
  });
  go_f.write_int(1);
  ASSERT_EQ(joining.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  std::thread joiner([&] {
    pool.join();
    other_joined.set_value();
  });
  go_g.write_int(1);  // the last job ends: both join()s may return
  std::future<void> other_returned = other_joined.get_future();
  std::future<void> join_returned = joined.get_future();
  exit_unless_ready_in_60s(other_returned, "join() in another thread did not return");
  exit_unless_ready_in_60s(join_returned, "join() in the done-callback did not return");
  joiner.join();
  EXPECT_TRUE(worker_exited.load());
  EXPECT_EQ(f.get(), 1);
}

// terminate() in a done-callback while join() in another thread tears the pool down (an
// error callback stopping the pool as main joins): both return. (They deadlocked: the
// callback's terminate() waited for the teardown lock that join() held while it waited for
// the result thread to end. Found by review: hung every run.)
TEST(PoolTest, TerminateInADoneCallbackWhileAnotherThreadJoins) {
  TestPipe go;
  Pool pool(1);
  Future<int> f = pool.apply_async(pid_after_go, go.read_fd());
  std::promise<void> terminated, joined;
  f.add_done_callback([&](const Future<int>& done) {
    // The worker exits only once the other thread's join() holds the teardown lock.
    testing::wait_for_exit(done.get(), std::chrono::seconds(30));
    pool.terminate();
    terminated.set_value();
  });
  pool.close();
  std::thread joiner([&] {
    pool.join();
    joined.set_value();
  });
  go.write_int(1);
  std::future<void> terminate_returned = terminated.get_future();
  std::future<void> join_returned = joined.get_future();
  exit_unless_ready_in_60s(terminate_returned, "terminate() in the done-callback did not return");
  exit_unless_ready_in_60s(join_returned, "join() in another thread did not return");
  joiner.join();
}

// join() in other threads racing terminate() while a job never ends: all return. (A join()
// that took the teardown after terminate() began sent an orderly quit without the shutdown
// flag, which the zygote waited on for ever, holding up terminate() too. Found by review:
// hung in the first round.)
TEST(PoolTest, JoinsRacingTerminateAllReturn) {
  for (int round = 0; round < 50; ++round) {
    TestPipe never;
    auto pool = std::make_unique<Pool>(1);
    Future<int> hung = pool->apply_async(wait_for_go, never.read_fd(), 1);
    pool->close();
    std::atomic<int> joining{0};
    std::vector<std::thread> joiners;
    for (int k = 0; k < 4; ++k) {
      joiners.emplace_back([&] {
        ++joining;
        (void)pool->join();
      });
    }
    while (joining.load() < 4) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // they wait for the work
    std::promise<void> all_returned;
    std::thread terminator([&] {
      pool->terminate();
      for (std::thread& j : joiners) j.join();
      all_returned.set_value();
    });
    std::future<void> returned = all_returned.get_future();
    exit_unless_ready_in_60s(returned, "terminate() or a join() racing it did not return");
    terminator.join();
    EXPECT_THROW(hung.get(), CancelledError) << "round " << round;
  }
}

// The last handle of a pool dropped in one of its done-callbacks: ~Pool() waits for the
// rest of the work (collecting it on that thread) and the engine is torn down on another
// thread, since its teardown joins the callback's thread. (It hung; once rescued, the
// process aborted: std::terminate, the engine's thread destroyed unjoined.)
TEST(PoolTest, TheLastHandleDroppedInADoneCallback) {
  TestPipe go_f, go_g;
  std::optional<Pool> pool;
  pool.emplace(1);
  Future<int> f = pool->apply_async(wait_for_go, go_f.read_fd(), 1);
  Future<int> g = pool->apply_async(wait_for_go, go_g.read_fd(), 2);
  std::atomic<bool> called{false}, dropped{false};
  f.add_done_callback([&](const Future<int>&) {
    called = true;
    pool.reset();
    dropped = true;
  });
  go_f.write_int(1);
  ASSERT_TRUE(within_10s([&] { return called.load(); }));
  go_g.write_int(1);  // g's reply comes once ~Pool() waits
  bool returned = within_10s([&] { return dropped.load(); });
  if (!returned) g.wait();
  EXPECT_TRUE(returned) << "dropping the pool in a done-callback did not return";
  EXPECT_EQ(g.get(), 2);
  EXPECT_EQ(f.get(), 1);
}

TEST(PoolTest, CancelBeforeStartNeverRuns) {
  SharedCell<std::atomic<int>> counter;
  TestPipe go;
  Pool pool(1);
  Future<int> blocker = pool.apply_async(wait_for_go, go.read_fd(), 1);
  Future<void> queued = pool.apply_async(bump, reinterpret_cast<std::uintptr_t>(counter.get()));
  EXPECT_TRUE(queued.cancel());
  EXPECT_THROW(queued.get(), CancelledError);
  EXPECT_FALSE(queued.cancel());
  go.write_int(1);
  EXPECT_EQ(blocker.get(), 1);
  EXPECT_FALSE(blocker.cancel());  // finished
  pool.close();
  pool.join();
  EXPECT_EQ(counter->load(), 0);  // the cancelled task never ran
}

TEST(PoolTest, CancelOfARunningTaskFails) {
  TestPipe started;
  TestPipe go;
  Pool pool(1);
  Future<int> f = pool.apply_async(
      [](int started_fd, int go_fd) {
        int one = 1;
        if (write(started_fd, &one, sizeof(one)) < 0) return -1;
        return wait_for_go(go_fd, 7);
      },
      started.write_fd(), go.read_fd());
  EXPECT_EQ(started.read_int(), 1);
  EXPECT_FALSE(f.cancel());
  go.write_int(1);
  EXPECT_EQ(f.get(), 7);
}

TEST(PoolTest, SubmitAfterCloseThrowsPoolClosedError) {
  Pool pool(1);
  pool.close();
  EXPECT_THROW(pool.apply_async(square, 1), PoolClosedError);
  EXPECT_THROW(pool.map(square, iota_vec(3)), PoolClosedError);
  pool.join();
}

TEST(PoolTest, JoinBeforeCloseIsALogicError) {
  Pool pool(1);
  EXPECT_THROW(pool.join(), std::logic_error);
  EXPECT_EQ(pool.apply(square, 2), 4);  // still usable
}

TEST(PoolTest, CloseLetsQueuedWorkFinish) {
  SharedCell<std::atomic<int>> counter;
  Pool pool(2);
  std::vector<Future<void>> fs;
  for (int i = 0; i < 200; ++i) {
    fs.push_back(pool.apply_async(bump, reinterpret_cast<std::uintptr_t>(counter.get())));
  }
  pool.close();
  pool.join();
  EXPECT_EQ(counter->load(), 200);
  for (auto& f : fs) EXPECT_TRUE(f.ready());
}

TEST(PoolTest, DestructorClosesAndJoins) {
  SharedCell<std::atomic<int>> counter;
  std::vector<Future<void>> fs;
  {
    Pool pool(2);
    for (int i = 0; i < 100; ++i) {
      fs.push_back(pool.apply_async(bump, reinterpret_cast<std::uintptr_t>(counter.get())));
    }
  }
  EXPECT_EQ(counter->load(), 100);
  for (auto& f : fs) EXPECT_NO_THROW(f.get());
}

TEST(PoolTest, FutureOutlivesItsPool) {
  Future<int> f = [] {
    Pool pool(1);
    return pool.apply_async(square, 12);
  }();
  EXPECT_EQ(f.get(), 144);
  EXPECT_EQ(f.get(), 144);
}

TEST(PoolTest, WithHandleUsesOptionsAndDoesNotClose) {
  Pool pool(2);
  {
    Pool handle = pool.with(TaskOptions{"", 0, std::chrono::milliseconds(10'000), 2});
    EXPECT_EQ(handle.apply(square, 6), 36);
    EXPECT_EQ(handle.map(square, iota_vec(4)), (std::vector<int>{0, 1, 4, 9}));
  }
  EXPECT_EQ(pool.apply(square, 3), 9);  // destroying the handle closed nothing
}

TEST(PoolTest, ProcessesCount) {
  EXPECT_THROW(Pool(-1), std::invalid_argument);
  Pool automatic(0);
  EXPECT_EQ(automatic.processes(), static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  SharedCell<std::atomic<int>> arrived;  // before the pool: its workers inherit it
  Pool three(3);
  EXPECT_EQ(three.processes(), 3);
  // Three tasks that wait for each other can only finish on three processes at once.
  std::vector<int> pids =
      three.map(rendezvous,
                std::vector<std::uintptr_t>(3, reinterpret_cast<std::uintptr_t>(arrived.get())), 1);
  EXPECT_EQ(std::set<int>(pids.begin(), pids.end()).size(), 3u);
  EXPECT_EQ(std::count(pids.begin(), pids.end(), -1), 0);
}

int g_initialized = 0;

TEST(PoolTest, InitializerRunsInEachWorkerNotInTheCaller) {
  PoolOptions options;
  options.processes = 2;
  options.initializer = [] { g_initialized = 42; };
  Pool pool(options);
  std::vector<int> seen = pool.map([](int) { return g_initialized; }, iota_vec(20), 1);
  EXPECT_EQ(seen, std::vector<int>(20, 42));
  EXPECT_EQ(g_initialized, 0);
}

TEST(PoolTest, MaxTasksPerChildReplacesTheProcess) {
  PoolOptions options;
  options.processes = 1;
  options.max_tasks_per_child = 2;
  Pool pool(options);
  std::map<int, int> tasks_per_pid;
  for (int i = 0; i < 7; ++i) ++tasks_per_pid[pool.apply(my_pid)];
  EXPECT_EQ(tasks_per_pid.size(), 4u);  // 2 + 2 + 2 + 1
  for (auto& [pid, n] : tasks_per_pid) EXPECT_LE(n, 2) << "pid " << pid;
}

// Each worker process names its tasks apart: its siblings, its replacements and the pool's
// own process must not share a prefix (a task submitting to a broker got another's
// result). Workers come from the zygote by _Fork, which runs no atfork handler.
TEST(PoolTest, EveryWorkerProcessHasItsOwnTaskIdPrefix) {
  const std::string parent(internal::task_id_prefix());  // made before the pool
  PoolOptions options;
  options.processes = 2;
  options.max_tasks_per_child = 1;
  Pool pool(options);
  std::vector<std::string> prefixes = pool.map(task_id_prefix_here, iota_vec(6), 1);
  std::set<std::string> distinct(prefixes.begin(), prefixes.end());
  EXPECT_EQ(distinct.size(), 6u) << "worker processes shared a task id prefix";
  EXPECT_FALSE(distinct.contains(parent));
}

// join() waits for the futures a cancel resolves, not for their done-callbacks, which may
// wait for what join()'s caller holds (they deadlocked it).
TEST(PoolTest, JoinDoesNotWaitForTheCallbacksOfACancelInAnotherThread) {
  TestPipe go;
  Pool pool(1);
  Future<int> running = pool.apply_async(wait_for_go, go.read_fd(), 1);
  Future<int> queued = pool.apply_async(square, 3);
  // `released` stands for a lock join()'s caller holds until join() returns, which the
  // callback waits for (10 s at most).
  std::atomic<bool> joined{false}, released{false}, entered{false}, saw_joined{false};
  queued.add_done_callback([&](const Future<int>&) {
    entered = true;
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!released.load() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    saw_joined = joined.load();
  });
  pool.close();
  std::thread canceller([&] { EXPECT_TRUE(queued.cancel()); });
  for (int i = 0; i < 10000 && !entered.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(entered.load());
  ASSERT_EQ(write(go.write_fd(), "x", 1), 1);
  pool.join();
  joined = true;
  released = true;
  canceller.join();
  EXPECT_TRUE(saw_joined.load()) << "join() waited for a callback that waited for its caller";
  EXPECT_EQ(running.get(), 1);
}

TEST(PoolTest, TaskMayRunAPoolOfItsOwn) {
  Pool pool(2);
  auto nested = [](int n) {
    Pool inner(2);
    std::vector<int> squares = inner.map(square, iota_vec(n));
    return std::accumulate(squares.begin(), squares.end(), 0);
  };
  EXPECT_EQ(pool.map(nested, std::vector<int>{3, 4}, 1), (std::vector<int>{5, 14}));
}

TEST(PoolTest, ManyThreadsSubmitConcurrently) {
  Pool pool(2);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<Future<int>> fs;
      for (int i = 0; i < 5000; ++i) fs.push_back(pool.apply_async(add, t, i));
      for (int i = 0; i < 5000; ++i) {
        if (fs[static_cast<std::size_t>(i)].get() != t + i) ++wrong;
      }
      if (pool.map(square, iota_vec(100), 3)[99] != 99 * 99) ++wrong;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace shoal
