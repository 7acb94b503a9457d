// Cancel with even_if_unknown (service.proto): a cancel that reaches the broker before
// the submission it cancels, which the Session stream and the Cancel call allow, keeps
// the task from running; without the field an unknown id is left alone as before.
#include "scheduler_fixture.h"

namespace shoal::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr bool kEvenIfUnknown = true;

// The ids of the Accepted message of the current actions.
std::vector<std::string> accepted_ids(const Actions& out) {
  for (const SessionSend& send : out.to_sessions) {
    if (send.message.has_accepted()) {
      return {send.message.accepted().ids().begin(), send.message.accepted().ids().end()};
    }
  }
  return {};
}

TEST_F(SchedulerTest, ACancelBeforeItsSubmissionEndsItCancelledWhenItArrives) {
  hello("a");
  out_.clear();
  auto cancel = scheduler_->cancel("t1", kEvenIfUnknown, out_);
  EXPECT_TRUE(cancel.cancelled());
  EXPECT_EQ(cancel.state(), shoal::v1::TASK_STATE_UNKNOWN);
  EXPECT_TRUE(out_.to_sessions.empty());  // nobody submitted it yet
  EXPECT_THAT(take_sent("a"), ElementsAre());

  submit({T("t1"), T("t2")});  // the submission written before the cancel arrives now
  EXPECT_THAT(accepted_ids(out_), ElementsAre("t1", "t2"));
  auto rs = results();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].id(), "t1");
  EXPECT_EQ(rs[0].failure().kind(), shoal::v1::ERROR_KIND_CANCELLED);
  EXPECT_THAT(rs[0].failure().message(), HasSubstr("before the broker received it"));
  EXPECT_EQ(rs[0].attempts(), 0u);
  EXPECT_THAT(take_sent("a"), ElementsAre("t2"));  // t1 never goes to a worker
  out_.clear();
  report("a", "t2");
  EXPECT_THAT(take_sent("a"), ElementsAre());  // the worker has credit, and nothing to run

  // Submitted again (a client's resend after a reconnect): the same result, no run.
  out_.clear();
  submit({T("t1")});
  EXPECT_THAT(accepted_ids(out_), ElementsAre("t1"));
  ASSERT_EQ(results().size(), 1u);
  EXPECT_EQ(results()[0].failure().kind(), shoal::v1::ERROR_KIND_CANCELLED);
  EXPECT_THAT(take_sent("a"), ElementsAre());
  // Counted as a task submitted and ended (failed), so the counters still add up.
  auto stats = scheduler_->stats();
  EXPECT_EQ(stats.submitted(), 2u);
  EXPECT_EQ(stats.completed(), 2u);
  EXPECT_EQ(stats.failed(), 1u);
  EXPECT_EQ(stats.queued(), 0u);
  EXPECT_EQ(stats.running(), 0u);
}

TEST_F(SchedulerTest, WithoutEvenIfUnknownACancelBeforeItsSubmissionIsLost) {
  hello("a");
  out_.clear();
  auto cancel = scheduler_->cancel("t1", /*even_if_unknown=*/false, out_);
  EXPECT_FALSE(cancel.cancelled());
  EXPECT_EQ(cancel.state(), shoal::v1::TASK_STATE_UNKNOWN);
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_UNKNOWN);  // nothing remembered
  submit({T("t1")});
  EXPECT_THAT(take_sent("a"), ElementsAre("t1"));  // it runs
  EXPECT_EQ(scheduler_->stats().submitted(), 1u);
}

TEST_F(SchedulerTest, EvenIfUnknownChangesNothingForAKnownTask) {
  hello("a");
  submit({T("runs"), T("queued"), T("done")});
  EXPECT_THAT(take_sent("a"), ElementsAre("runs"));
  auto running = scheduler_->cancel("runs", kEvenIfUnknown, out_);
  EXPECT_FALSE(running.cancelled());
  EXPECT_EQ(running.state(), shoal::v1::TASK_STATE_RUNNING);
  auto queued = scheduler_->cancel("queued", kEvenIfUnknown, out_);
  EXPECT_TRUE(queued.cancelled());
  EXPECT_EQ(queued.state(), shoal::v1::TASK_STATE_QUEUED);
  out_.clear();
  report("a", "runs");
  EXPECT_THAT(take_sent("a"), ElementsAre("done"));
  report("a", "done");
  auto done = scheduler_->cancel("done", kEvenIfUnknown, out_);
  EXPECT_FALSE(done.cancelled());
  EXPECT_EQ(done.state(), shoal::v1::TASK_STATE_DONE);
  EXPECT_EQ(get_result("done").result().items(0).value(), "\x31");  // its result stands
  // A cancel remembered already is done: a second one finds it so.
  EXPECT_TRUE(scheduler_->cancel("early", kEvenIfUnknown, out_).cancelled());
  auto again = scheduler_->cancel("early", kEvenIfUnknown, out_);
  EXPECT_FALSE(again.cancelled());
  EXPECT_EQ(again.state(), shoal::v1::TASK_STATE_DONE);
}

TEST_F(SchedulerTest, ARememberedCancelIsAResultForWatchAndGetResult) {
  scheduler_->cancel("t1", kEvenIfUnknown, out_);
  auto r = get_result("t1");
  ASSERT_EQ(r.state(), shoal::v1::TASK_STATE_DONE);
  EXPECT_EQ(r.result().id(), "t1");
  EXPECT_EQ(r.result().failure().kind(), shoal::v1::ERROR_KIND_CANCELLED);
  out_.clear();
  google::protobuf::RepeatedPtrField<std::string> ids;
  *ids.Add() = "t1";
  scheduler_->watch(kSession, ids, out_);
  ASSERT_EQ(results().size(), 1u);
  EXPECT_EQ(results()[0].failure().kind(), shoal::v1::ERROR_KIND_CANCELLED);
}

// Memory stays bounded: a remembered cancel is a delivered result, dropped one result
// ttl after the cancel; the id is then unknown again, and a submission of it runs.
TEST_F(SchedulerTest, ARememberedCancelIsForgottenOneResultTtlAfterTheCancel) {
  scheduler_->cancel("t1", kEvenIfUnknown, out_);
  EXPECT_EQ(scheduler_->stats().results_retained(), 1u);
  tick_after(59'999);  // the ttl is 60 s
  hello("a");
  submit({T("t1")});
  EXPECT_THAT(take_sent("a"), ElementsAre());
  ASSERT_EQ(results().size(), 1u);
  EXPECT_EQ(results()[0].failure().kind(), shoal::v1::ERROR_KIND_CANCELLED);
  out_.clear();
  tick_after(1);  // its retention ran from the cancel, not from this delivery
  EXPECT_EQ(scheduler_->stats().results_retained(), 0u);
  EXPECT_EQ(store_->size(), 0u);
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_UNKNOWN);
  submit({T("t1")});
  EXPECT_THAT(take_sent("a"), ElementsAre("t1"));
}

TEST_F(SchedulerTest, RememberedCancelsGiveWayUnderTheResultMemoryCapOldestFirst) {
  SchedulerOptions options = options_;
  options.max_retained_bytes = 4096;  // a remembered cancel takes some 250 bytes
  reset(options);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(scheduler_->cancel("c" + std::to_string(i), kEvenIfUnknown, out_).cancelled());
  }
  EXPECT_LE(scheduler_->stats().results_retained(), 20u);
  EXPECT_EQ(store_->size(), scheduler_->stats().results_retained());
  EXPECT_EQ(get_result("c0").state(), shoal::v1::TASK_STATE_UNKNOWN);
  EXPECT_EQ(get_result("c999").state(), shoal::v1::TASK_STATE_DONE);
  // Their empty task name is interned once, and forgotten with them.
  tick_after(60'000);
  EXPECT_EQ(store_->size(), 0u);
  for (int i = 0; i < 3000; ++i) {  // enough new names for a sweep of unused ones
    submit({T("n" + std::to_string(i)).name("f" + std::to_string(i))});
    scheduler_->cancel("n" + std::to_string(i), /*even_if_unknown=*/false, out_);
  }
  tick_after(60'001);
  EXPECT_EQ(scheduler_->interned_names(), 1u);  // "default"
}

// Item 4 of the broker's leftovers: results over --result-memory-mb evicted the oldest
// retained records first, remembered cancels among them, so a burst of big results
// right after a Cancel let the submission it cancelled run after all. A remembered
// cancel now gives way only to newer remembered cancels (the test above).
TEST_F(SchedulerTest, ARememberedCancelOutlivesResultsOverTheMemoryCap) {
  SchedulerOptions options = options_;
  options.max_retained_bytes = 4096;  // four results of 1000 bytes
  reset(options);
  hello("a");
  ASSERT_TRUE(scheduler_->cancel("c1", kEvenIfUnknown, out_).cancelled());
  for (int i = 0; i < 20; ++i) {
    const std::string id = "r" + std::to_string(i);
    submit({T(id)});
    ASSERT_THAT(take_sent("a"), ElementsAre(id));
    report("a", id, std::string(1000, 'x'));
    out_.clear();
  }
  EXPECT_EQ(get_result("r0").state(), shoal::v1::TASK_STATE_UNKNOWN);  // results give way
  EXPECT_LE(scheduler_->stats().results_retained(), 5u);
  submit({T("c1")});  // the submission the cancel overtook
  EXPECT_THAT(take_sent("a"), ElementsAre()) << "c1 ran though it was cancelled";
  ASSERT_EQ(results().size(), 1u);
  EXPECT_EQ(results()[0].failure().kind(), shoal::v1::ERROR_KIND_CANCELLED);
  // Kept for the result ttl from the cancel, then forgotten as before.
  out_.clear();
  tick_after(60'000);
  EXPECT_EQ(get_result("c1").state(), shoal::v1::TASK_STATE_UNKNOWN);
}

TEST_F(SchedulerTest, EvenIfUnknownOfAnEmptyIdRemembersNothing) {
  auto cancel = scheduler_->cancel("", kEvenIfUnknown, out_);
  EXPECT_FALSE(cancel.cancelled());
  EXPECT_EQ(cancel.state(), shoal::v1::TASK_STATE_UNKNOWN);
  EXPECT_EQ(store_->size(), 0u);
}

}  // namespace
}  // namespace shoal::broker
