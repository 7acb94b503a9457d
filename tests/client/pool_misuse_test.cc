// The Pool used at its edges: bad task options, calls by name with the wrong number of
// arguments, and streams that outlive a close() or terminate().

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ranges>
#include <stdexcept>
#include <thread>
#include <vector>

#include "shoal/pool.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;

int plus(int a, int b) { return a + b; }
int twice(int x) { return 2 * x; }
int slow_twice(int x) {
  std::this_thread::sleep_for(20ms);
  return 2 * x;
}
int sleepy_twice(int x) {
  std::this_thread::sleep_for(2s);
  return 2 * x;
}
std::size_t sleepy_byte_count(Bytes b) {
  std::this_thread::sleep_for(2s);
  return b.size();
}
SHOAL_TASK_AS(plus, "pool_misuse_test.plus");

std::vector<int> iota_vec(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

TEST(PoolMisuseTest, WithRefusesOptionsOutsideTheirRange) {
  Pool pool(1);
  EXPECT_THROW(pool.with(TaskOptions{"", 10, 0ms, -1}), std::invalid_argument);
  EXPECT_THROW(pool.with(TaskOptions{"", -1, 0ms, -1}), std::invalid_argument);
  EXPECT_THROW(pool.with(TaskOptions{"", 0, -1ms, -1}), std::invalid_argument);
  EXPECT_THROW(pool.with(TaskOptions{"", 0, 0ms, -2}), std::invalid_argument);
  EXPECT_THROW(pool.with(TaskOptions{std::string(257, 'q'), 0, 0ms, -1}), std::invalid_argument);
  EXPECT_THROW(pool.with(TaskOptions{"q\xe9", 0, 0ms, -1}), std::invalid_argument);
  EXPECT_EQ(pool.with(TaskOptions{"", 9, 0ms, -1}).apply(twice, 4), 8);
  EXPECT_EQ(pool.with(TaskOptions{"", 0, 0ms, 0}).apply(twice, 5), 10);
}

// Whether a map fails on a closed pool does not depend on its input's length.
TEST(PoolMisuseTest, AnEmptyMapOnAClosedPoolIsPoolClosedError) {
  Pool pool(1);
  EXPECT_TRUE(pool.map(twice, std::vector<int>{}).empty());
  pool.close();
  EXPECT_THROW(pool.map(twice, std::vector<int>{}), PoolClosedError);
  EXPECT_THROW(pool.map(twice, std::vector<int>{1}), PoolClosedError);
  pool.join();
}

TEST(PoolMisuseTest, ACallByNameNeedsExactlyTheTasksArguments) {
  Pool pool(1);
  EXPECT_EQ(pool.apply_async<int>("pool_misuse_test.plus", 2, 3).get(), 5);
  try {
    pool.apply_async<int>("pool_misuse_test.plus", 2, 3, 99).get();
    FAIL() << "an extra argument was accepted";
  } catch (const SerializationError& e) {
    EXPECT_STREQ(e.what(), "the task takes 2 arguments, not 3");
  }
  EXPECT_THROW(pool.apply_async<int>("pool_misuse_test.plus", 2).get(), SerializationError);
}

TEST(PoolMisuseTest, AStreamEndsWithPoolClosedErrorOnceThePoolIsClosed) {
  Pool pool(2);
  const int window = static_cast<int>(internal::stream_window(2).max_items);
  int read = 0;
  auto counted = std::views::iota(0, window + 100) | std::views::transform([&read](int i) {
                   ++read;
                   return i;
                 });
  auto stream = pool.imap(twice, counted);  // submits what it reads ahead (≤ window)
  const int ahead = read;
  pool.close();
  int yielded = 0;
  int refused = 0;
  for (;;) {
    try {
      std::optional<int> v = stream.next(30s);  // never hangs
      if (!v) break;
      EXPECT_EQ(*v, 2 * yielded);
      ++yielded;
    } catch (const PoolClosedError&) {
      ++refused;
    }
  }
  EXPECT_EQ(yielded, ahead);  // what was submitted before close() ran
  EXPECT_GE(refused, 1);
  pool.join();
  // A stream opened after close() fails what it tried to submit (each item), then ends.
  auto late = pool.imap_unordered(twice, iota_vec(5));
  for (int i = 0; i < 5; ++i) EXPECT_THROW(late.next(30s), PoolClosedError);
  EXPECT_FALSE(late.next(30s).has_value());
}

// An input item that throws as the stream reads it (as Python 3.8+'s imap): every item
// before it arrives, the exception itself takes its place, and the stream ends. The
// exception escaped from some next() instead, the chunks read before it (counted, never
// submitted) were lost, and every later refill read the bad item again: the stream threw
// for ever and never ended.
TEST(PoolMisuseTest, AnInputItemThatThrowsEndsTheStreamInItsPlace) {
  Pool pool(2);
  const int window = static_cast<int>(internal::stream_window(2).max_items);
  // In the first read ahead and past it; in a chunk's middle and at its start.
  for (int bad : {3, 2 * window + 5}) {
    for (std::size_t chunksize : {std::size_t{1}, std::size_t{7}}) {
      for (bool ordered : {true, false}) {
        SCOPED_TRACE(::testing::Message() << "bad item " << bad << ", chunksize " << chunksize
                                          << (ordered ? ", imap" : ", imap_unordered"));
        auto input = std::views::iota(0, 3 * window) | std::views::transform([bad](int i) {
                       if (i == bad) throw std::out_of_range("bad input item");
                       return i;
                     });
        auto stream = ordered ? pool.imap(twice, input, chunksize)
                              : pool.imap_unordered(twice, input, chunksize);
        std::vector<int> got;
        int errors = 0;
        for (;;) {
          try {
            std::optional<int> v = stream.next(30s);  // never hangs
            if (!v) break;
            got.push_back(*v);
          } catch (const std::out_of_range& e) {
            EXPECT_STREQ(e.what(), "bad input item");
            if (ordered) {
              EXPECT_EQ(got.size(), static_cast<std::size_t>(bad));
            }
            if (++errors > 1) break;
          }
        }
        EXPECT_EQ(errors, 1);
        std::sort(got.begin(), got.end());
        std::vector<int> want;
        for (int i = 0; i < bad; ++i) want.push_back(2 * i);
        EXPECT_EQ(got, want);
      }
    }
  }
}

TEST(PoolMisuseTest, AStreamEndsOnceThePoolIsTerminated) {
  Pool pool(2);
  auto stream = pool.imap(slow_twice, iota_vec(100));
  pool.terminate();
  int errors = 0;
  for (;;) {
    try {
      if (!stream.next(30s)) break;
    } catch (const Error&) {  // CancelledError for what was in flight, then PoolClosedError
      ++errors;
    }
  }
  EXPECT_GE(errors, 1);
}

// How far a stream reads ahead (internal::StreamWindow): small items up to the item
// bound, big chunks at least 4 per process, big items up to the byte bound. The tasks
// sleep, so that no result arrives while the stream fills up (once one has, the stream
// returns to its consumer instead); terminate() then spares the wait for them.
TEST(PoolMisuseTest, AStreamReadsAheadByItsWindow) {
  const internal::StreamWindow window = internal::stream_window(2);
  ASSERT_EQ(window.min_chunks, 8u);
  ASSERT_EQ(window.max_items, 4096u);
  std::size_t read = 0;
  auto counted = [&read](int n) {
    return std::views::iota(0, n) | std::views::transform([&read](int i) {
             ++read;
             return i;
           });
  };
  {
    Pool pool(2);
    auto stream = pool.imap(sleepy_twice, counted(10'000), 1);
    EXPECT_EQ(read, window.max_items);  // read before the first next()
    pool.terminate();
  }
  read = 0;
  {
    Pool pool(2);
    auto stream = pool.imap(sleepy_twice, counted(100'000), 1000);
    EXPECT_EQ(read, 8'000u);  // 8 chunks, past the item bound
    pool.terminate();
  }
  std::size_t big = 0;
  auto payloads = std::views::iota(0, 100) | std::views::transform([&big](int) {
                    ++big;
                    return Bytes(std::size_t{1} << 20, std::byte{7});
                  });
  Pool pool(2);
  auto stream = pool.imap(sleepy_byte_count, payloads, 1);
  EXPECT_EQ(big, 16u);  // 1 MiB each: up to the 16 MiB bound
  pool.terminate();
}

// An input slow to read (2 ms an item) is not read a whole window ahead before the first
// result: what was read goes to the workers every millisecond, and the stream returns to
// its consumer once a result is there. (Read whole first, 2,000 items took 4 s.)
TEST(PoolMisuseTest, ASlowInputYieldsResultsBeforeTheWindowIsRead) {
  Pool pool(2);
  int read = 0;
  auto slow = std::views::iota(0, 2000) | std::views::transform([&read](int i) {
                std::this_thread::sleep_for(2ms);
                ++read;
                return i;
              });
  auto stream = pool.imap(twice, slow);
  EXPECT_LT(read, 2000);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(stream.next(), 2 * i);
  EXPECT_LT(read, 2000);
}

}  // namespace
}  // namespace shoal
