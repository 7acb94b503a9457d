// A worker the broker took for lost that says hello again later than the hold window
// (excuse_silence): its tasks were re-queued, a retry each, and those it still runs that
// no other worker has started since go back to it as the copies it runs, their retries
// given back (WorkerHello.running in worker.proto).
#include "scheduler_fixture.h"

namespace shoal::broker {
namespace {

using ::testing::ElementsAre;

// Item 3 of the broker's leftovers: a worker declared lost (silent past liveness, outside
// the hold window of excuse_silence) that comes back saying it still runs t1, re-queued
// and not yet started elsewhere, gets t1 back as the copy it runs: the retry its loss
// charged is given back (t1 ran once), as it would be had the hello come in time.
TEST_F(SchedulerTest, ALostWorkersHelloTakesBackAQueuedTaskWithoutARetry) {
  hello("a");
  submit({T("t1").max_retries(1)});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  tick_after(3001);  // a silent past liveness: lost, t1 re-queued (its one retry spent)
  ASSERT_EQ(scheduler_->stats().workers(), 0u);
  ASSERT_EQ(scheduler_->stats().retried(), 1u);
  out_.clear();
  reconnect("a2", "a", {"t1"});
  EXPECT_TRUE(take_sent("a2").empty());  // taken back, not sent again
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
  // Its retry is still there: a loss of a2 now re-queues t1 instead of failing it.
  tick_after(3001);
  EXPECT_TRUE(results().empty());
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_QUEUED);
  reconnect("a3", "a", {"t1"});
  report("a3", "t1");
  report("a3", "t1");  // a duplicate (a re-sent result) is dropped
  ASSERT_EQ(results().size(), 1u);
  EXPECT_EQ(results()[0].attempts(), 1u);
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
}

// Only a task no other worker has started since: one that ran elsewhere keeps the retry
// its loss charged (the hello's copy becomes a phantom), and so does one whose attempt
// the time-limit backstop took for lost (that attempt did not end in time).
TEST_F(SchedulerTest, AHelloGivesBackNoRetryOfATaskStartedElsewhereOrTimedOut) {
  hello("a");
  submit({T("t1")});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  tick_after(3001);  // a lost: t1 re-queued
  hello("b");
  ASSERT_THAT(take_sent("b"), ElementsAre("t1"));  // started elsewhere
  out_.clear();
  reconnect("a2", "a", {"t1"});
  EXPECT_EQ(scheduler_->stats().retried(), 1u);
  report("b", "t1");
  ASSERT_EQ(results().size(), 1u);
  EXPECT_EQ(results()[0].attempts(), 2u);

  reset(options_);
  sent_.clear();
  out_.clear();
  hello("c");
  submit({T("t2").time_limit_ms(1000)});
  ASSERT_THAT(take_sent("c"), ElementsAre("t2"));
  out_.clear();
  keep_alive("c", 6);
  scheduler_->tick(out_);  // t2 taken for lost, re-queued (c has no credit)
  ASSERT_EQ(scheduler_->stats().retried(), 1u);
  ASSERT_EQ(get_result("t2").state(), shoal::v1::TASK_STATE_QUEUED);
  reconnect("c2", "c", {"t2"});
  EXPECT_EQ(get_result("t2").state(), shoal::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(scheduler_->stats().retried(), 1u);
}

}  // namespace
}  // namespace shoal::broker
