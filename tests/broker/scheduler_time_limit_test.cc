// The time-limit backstop of prefetched tasks. A worker runs the tasks it holds in the
// order it received them, at most `slots` at once (worker.proto), so a task held behind
// others starts only when enough of those ahead of it have ended: the broker counts its
// limit from the moment its worker's results say a process is free for it.
#include "scheduler_fixture.h"

namespace shoal::broker {
namespace {

using ::testing::ElementsAre;

class SchedulerTimeLimitTest : public SchedulerTest {
 protected:
  // A hello from `peer` with `slots` processes and `prefetch` tasks per process.
  void prefetching_hello(const std::string& peer, uint32_t slots, uint32_t prefetch) {
    hello(peer, {"square"}, slots, {}, prefetch);
  }
  // Lets `seconds` pass (heartbeats from `peer`), ticks, and says whether a result
  // came out (a task taken for lost with no retries left).
  bool lost_after(const std::string& peer, int seconds) {
    keep_alive(peer, seconds);
    out_.clear();
    scheduler_->tick(out_);
    return !results().empty();
  }
};

// Found by review (after db845e4): the backstop allowed one period per round of tasks the
// worker held, but a task queued behind one with no time limit waits as long as that one
// runs: a one-process worker with --prefetch 2 running a 60 s task without a limit took
// the 1 s task behind it for lost at 12 s (and, with retries left, ran it twice).
TEST_F(SchedulerTimeLimitTest, ATaskBehindOneWithNoLimitWaitsForItsEnd) {
  prefetching_hello("a", 1, 2);
  submit({T("long").max_retries(0), T("short").max_retries(0).time_limit_ms(1000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("long", "short"));
  EXPECT_FALSE(lost_after("a", 60)) << results()[0].ShortDebugString();
  out_.clear();
  report("a", "long");  // t = 60 s: "short" starts now and has till 66 s
  ASSERT_EQ(results().size(), 1u);
  EXPECT_FALSE(lost_after("a", 5));
  ASSERT_TRUE(lost_after("a", 2));  // 67 s: the backstop still holds, from its start
  EXPECT_EQ(results()[0].failure().kind(), shoal::v1::ERROR_KIND_WORKER_LOST);
  EXPECT_EQ(results()[0].id(), "short");
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
}

// Behind a task with a longer limit, likewise: rounds of the short task's own limit do not
// cover it.
TEST_F(SchedulerTimeLimitTest, ATaskBehindALongerLimitWaitsForIt) {
  prefetching_hello("a", 1, 3);
  submit({T("slow").max_retries(0).time_limit_ms(60'000),
          T("s1").max_retries(0).time_limit_ms(1000), T("s2").max_retries(0).time_limit_ms(1000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("slow", "s1", "s2"));
  EXPECT_FALSE(lost_after("a", 50));
  out_.clear();
  report("a", "slow");  // t = 50 s
  EXPECT_FALSE(lost_after("a", 3));
  out_.clear();
  report("a", "s1");  // t = 53 s: s2 starts
  EXPECT_FALSE(lost_after("a", 5));
  ASSERT_TRUE(lost_after("a", 2));  // 60 s: s2 is past 1 s + 5 s of grace
  EXPECT_EQ(results()[0].id(), "s2");
  // The first task still has its own backstop from its sending.
  submit({T("hung").max_retries(0).time_limit_ms(1000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("hung"));
  EXPECT_FALSE(lost_after("a", 5));
  ASSERT_TRUE(lost_after("a", 1));
  EXPECT_EQ(results()[0].id(), "hung");
}

// With several processes, any result frees one for the oldest task waiting; a waiting
// task's own early result (a worker refusing a name it lacks) frees none.
TEST_F(SchedulerTimeLimitTest, AnyResultStartsTheOldestWaitingTask) {
  prefetching_hello("a", 2, 2);
  submit({T("u1").max_retries(0), T("u2").max_retries(0),
          T("w1").max_retries(0).time_limit_ms(1000), T("w2").max_retries(0).time_limit_ms(1000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("u1", "u2", "w1", "w2"));
  out_.clear();
  report("a", "w2");  // ended without a process: u1 and u2 still run, w1 waits
  EXPECT_FALSE(lost_after("a", 30));
  out_.clear();
  report("a", "u2");  // t = 30 s: w1 starts
  EXPECT_FALSE(lost_after("a", 5));
  ASSERT_TRUE(lost_after("a", 2));
  EXPECT_EQ(results()[0].id(), "w1");
}

// A worker that reconnects keeps what it had started and what waited, in that order: a
// waiting task does not start counting because its worker's connection changed.
TEST_F(SchedulerTimeLimitTest, AReconnectKeepsTheTasksThatWait) {
  prefetching_hello("a", 1, 2);
  submit({T("long").max_retries(0), T("short").max_retries(0).time_limit_ms(1000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("long", "short"));
  keep_alive("a", 10);
  reconnect("a2", "a", {"short", "long"});
  EXPECT_FALSE(lost_after("a2", 30));
  out_.clear();
  report("a2", "long");  // t = 40 s
  EXPECT_FALSE(lost_after("a2", 5));
  ASSERT_TRUE(lost_after("a2", 2));
  EXPECT_EQ(results()[0].id(), "short");
}

// A lost worker's tasks go back to their queue, the waiting ones without having their
// limits armed on the way (they never started).
TEST_F(SchedulerTimeLimitTest, ALostWorkersWaitingTasksGoBackWithoutArmingTheirLimits) {
  prefetching_hello("a", 1, 3);
  submit({T("u"), T("w1").time_limit_ms(1000), T("w2").time_limit_ms(1000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("u", "w1", "w2"));
  out_.clear();
  scheduler_->worker_disconnected("a", out_);
  EXPECT_EQ(scheduler_->stats().retried(), 3u);
  EXPECT_EQ(scheduler_->stats().queued(), 3u);
  EXPECT_EQ(scheduler_->lease_timers(), 0u);
}

}  // namespace
}  // namespace shoal::broker
