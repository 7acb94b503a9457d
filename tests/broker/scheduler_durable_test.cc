// The scheduler over a durable store: what a broker restarted on the same store (after a
// crash: only what was committed is kept) knows again, and the registration grace.
#include "scheduler_fixture.h"
#include "tests/testutil/temp_dir.h"

namespace shoal::broker {
namespace {

class SchedulerDurableTest : public SchedulerTest {
 protected:
  void SetUp() override { restart(); }
  void TearDown() override { close_store(); }  // before the directory goes

  // A crash and what a broker does at start (the first time: only the start).
  void restart() { restart_durable(dir_); }
  void commit() { ASSERT_TRUE(store_->commit().ok()); }

  testutil::TempDir temp_{"shoal-store"};
  const std::string dir_ = temp_.path();
};

TEST_F(SchedulerDurableTest, QueuedAndRunningTasksAreQueuedAgain) {
  hello("a");
  submit({T("t1").args("\x91\x01"), T("t2").args("\x91\x02"), T("t3").args("\x91\x03")});
  EXPECT_EQ(take_sent("a"), std::vector<std::string>{"t1"});
  commit();
  restart();
  EXPECT_EQ(scheduler_->stats().queued(), 3u);
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_QUEUED);
  hello("b", {"square"}, /*slots=*/3);
  EXPECT_EQ(take_sent("b"), (std::vector<std::string>{"t1", "t2", "t3"}));
  EXPECT_EQ(sent_["t2"].args(), "\x91\x02");
  EXPECT_EQ(sent_["t1"].attempt(), 0u);
}

TEST_F(SchedulerDurableTest, RestoredTasksKeepTheirPriorityOrder) {
  submit({T("low1"), T("low2"), T("high").priority(7), T("other").queue("q2")});
  commit();
  restart();
  hello("a", {"square"}, /*slots=*/4);
  EXPECT_EQ(take_sent("a"), (std::vector<std::string>{"high", "low1", "low2"}));
  hello("b", {"square"}, 1, {"q2"});
  EXPECT_EQ(take_sent("b"), std::vector<std::string>{"other"});
}

TEST_F(SchedulerDurableTest, EndedTasksKeepTheirResultForOneTtlFromTheRestart) {
  hello("a");
  submit({T("t1")});
  take_sent("a");
  report("a", "t1", "\x31");
  commit();
  clock_.advance_ms(50'000);  // most of its ttl (60 s) is over before the crash
  restart();
  auto r = get_result("t1");
  ASSERT_EQ(r.state(), shoal::v1::TASK_STATE_DONE);
  EXPECT_EQ(r.result().items(0).value(), "\x31");
  EXPECT_EQ(r.result().worker(), "w-a");
  EXPECT_EQ(scheduler_->stats().results_retained(), 1u);
  tick_after(59'000);
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_DONE);
  tick_after(2'000);  // one ttl after the restart: forgotten, and journalled so
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_UNKNOWN);
  commit();
  restart();
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_UNKNOWN);
}

TEST_F(SchedulerDurableTest, WhatWasNotCommittedIsLost) {
  submit({T("kept")});
  commit();
  submit({T("lost")});
  restart();
  EXPECT_EQ(get_result("kept").state(), shoal::v1::TASK_STATE_QUEUED);
  EXPECT_EQ(get_result("lost").state(), shoal::v1::TASK_STATE_UNKNOWN);
}

TEST_F(SchedulerDurableTest, ACancelledTaskStaysCancelled) {
  submit({T("t1"), T("t2")});
  EXPECT_TRUE(scheduler_->cancel("t1", /*even_if_unknown=*/false, out_).cancelled());
  commit();
  restart();
  auto r = get_result("t1");
  ASSERT_EQ(r.state(), shoal::v1::TASK_STATE_DONE);
  EXPECT_EQ(r.result().failure().kind(), shoal::v1::ERROR_KIND_CANCELLED);
  hello("a", {"square"}, 2);
  EXPECT_EQ(take_sent("a"), std::vector<std::string>{"t2"});
}

// A cancel that overtook its submission (even_if_unknown) is journaled: the submission
// arriving at a restarted broker does not run either, for one result ttl from the restart.
TEST_F(SchedulerDurableTest, ACancelOfAnUnknownIdStillBarsItAfterARestart) {
  EXPECT_TRUE(scheduler_->cancel("t1", /*even_if_unknown=*/true, out_).cancelled());
  commit();
  clock_.advance_ms(50'000);
  restart();
  ASSERT_TRUE(scheduler_->rewrite_store().ok());  // kept by a rewrite too
  restart();
  hello("a");
  submit({T("t1")});
  EXPECT_EQ(take_sent("a"), std::vector<std::string>{});
  auto rs = results();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].failure().kind(), shoal::v1::ERROR_KIND_CANCELLED);
  tick_after(60'001);  // one ttl after the restart: forgotten, and journalled so
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_UNKNOWN);
  commit();
  restart();
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_UNKNOWN);
}

TEST_F(SchedulerDurableTest, RetriesUsedAreNotGivenAgain) {
  hello("a");
  submit({T("t1").max_retries(1)});
  take_sent("a");
  scheduler_->worker_disconnected("a", out_);  // its one retry is used
  commit();
  restart();
  ASSERT_TRUE(scheduler_->rewrite_store().ok());  // kept by a rewrite too
  restart();
  hello("b");
  EXPECT_EQ(take_sent("b"), std::vector<std::string>{"t1"});
  EXPECT_EQ(sent_["t1"].attempt(), 1u);
  scheduler_->worker_disconnected("b", out_);
  auto r = get_result("t1");
  ASSERT_EQ(r.state(), shoal::v1::TASK_STATE_DONE);
  EXPECT_EQ(r.result().failure().kind(), shoal::v1::ERROR_KIND_WORKER_LOST);
}

// A task that could not be sent used no retry, in the journal too.
TEST_F(SchedulerDurableTest, AnUndeliveredTaskKeepsItsRetriesAcrossARestart) {
  hello("a");
  submit({T("t1").max_retries(0)});
  ASSERT_EQ(take_sent("a"), std::vector<std::string>{"t1"});
  ASSERT_EQ(undeliverable("a"), 1u);
  commit();
  restart();
  hello("b");
  EXPECT_EQ(take_sent("b"), std::vector<std::string>{"t1"});
  EXPECT_EQ(sent_["t1"].attempt(), 0u);
  report("b", "t1");
  auto r = get_result("t1");
  ASSERT_EQ(r.state(), shoal::v1::TASK_STATE_DONE);
  EXPECT_FALSE(r.result().has_failure());
}

TEST_F(SchedulerDurableTest, AResubmittedIdAfterARestartIsTheSameTask) {
  hello("a");
  submit({T("t1")});
  take_sent("a");
  report("a", "t1", "\x31");
  commit();
  restart();
  out_.clear();
  submit({T("t1")});  // the client resubmits what it had not seen answered
  auto rs = results();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].items(0).value(), "\x31");
  EXPECT_EQ(scheduler_->stats().submitted(), 0u);  // nothing ran twice
}

// Found by fuzzing (tests/fuzz/broker_journal_fuzz.cc): a journal holding a task that
// submit() would have refused (from another version, or damaged past its CRCs) queued it
// as it was: a priority over 9 indexed past the queue's ten lanes, a queue name over 256
// bytes waited for a worker no gateway lets in. Such a task ends INVALID instead.
TEST_F(SchedulerDurableTest, AJournaledTaskSubmitWouldRefuseEndsInvalid) {
  close_store();
  {
    JournalReplay replay;
    auto journal = TaskJournal::open(dir_, &replay);
    ASSERT_TRUE(journal.ok()) << journal.status();
    auto add = [&](const std::string& id, uint32_t priority, const std::string& queue) {
      shoal::v1::Task t;
      t.set_id(id);
      t.set_name("square");
      t.set_priority(priority);
      t.set_queue(queue);
      (*journal)->pending().add(JournalKind::kAccepted, t);
    };
    add("high", 12, "");
    add("long-queue", 0, std::string(257, 'q'));
    add("ok", 9, "");
    ASSERT_TRUE((*journal)->commit().ok());
  }
  for (int start = 0; start < 2; ++start) {  // and the same after the journal's rewrite
    restart();
    for (const char* id : {"high", "long-queue"}) {
      shoal::v1::GetResultResponse r = get_result(id);
      ASSERT_EQ(r.state(), shoal::v1::TASK_STATE_DONE) << id;
      EXPECT_EQ(r.result().failure().kind(), shoal::v1::ERROR_KIND_INVALID) << id;
    }
    EXPECT_EQ(get_result("high").result().failure().message(),
              "restored from the journal: task 'high': priority 12 is outside 0..9");
    EXPECT_EQ(get_result("ok").state(), shoal::v1::TASK_STATE_QUEUED);
  }
  hello("a", {"square"}, /*slots=*/3);
  EXPECT_EQ(take_sent("a"), std::vector<std::string>{"ok"});
}

// Found by review: restored tasks were leased to the first worker to say hello after a
// restart, though one of them may still run on a worker that had not said hello yet (its
// later hello then made its copy a phantom: the task ran twice). During the registration
// grace a restored task waits for a hello to claim it; it runs as any queued task after.
TEST_F(SchedulerDurableTest, DuringTheGraceARestoredTaskWaitsForItsWorkerToClaimIt) {
  options_.registration_grace_ms = 3000;
  hello("a");
  submit({T("t1")});
  ASSERT_EQ(take_sent("a"), std::vector<std::string>{"t1"});
  commit();
  restart();
  hello("b");
  EXPECT_EQ(take_sent("b"), std::vector<std::string>{});
  reconnect("a", "a", {"t1"});  // a still runs it
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_RUNNING);
  tick_after(3001);
  EXPECT_EQ(take_sent("b"), std::vector<std::string>{});
  EXPECT_EQ(take_sent("a"), std::vector<std::string>{});
  report("a", "t1", "\x31");
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_DONE);
}

TEST_F(SchedulerDurableTest, ARestoredTaskNobodyClaimsRunsWhenTheGraceEnds) {
  options_.registration_grace_ms = 3000;
  hello("a");
  submit({T("t1"), T("t2")});
  ASSERT_EQ(take_sent("a"), std::vector<std::string>{"t1"});
  commit();
  restart();
  hello("b");
  submit({T("t3")});  // a new task need not wait
  EXPECT_EQ(take_sent("b"), std::vector<std::string>{"t3"});
  out_.clear();
  report("b", "t3");
  tick_after(2000);
  EXPECT_EQ(take_sent("b"), std::vector<std::string>{});
  heartbeat("b");  // alive
  tick_after(1001);  // the grace is over: nobody claimed them
  EXPECT_EQ(take_sent("b"), std::vector<std::string>{"t1"});
  out_.clear();
  report("b", "t1");
  EXPECT_EQ(take_sent("b"), std::vector<std::string>{"t2"});
}

TEST_F(SchedulerTest, DuringTheRegistrationGraceUnrunnableTasksWait) {
  SchedulerOptions options = options_;
  options.registration_grace_ms = 3000;
  reset(options);
  hello("a", {"square"});
  submit({T("c1").name("cube")});
  EXPECT_TRUE(results().empty());  // the worker with `cube` may be on its way
  hello("b", {"cube"});
  EXPECT_EQ(take_sent("b"), std::vector<std::string>{"c1"});
  submit({T("c2").name("halve")});
  tick_after(2000);
  EXPECT_TRUE(results().empty());
  tick_after(1001);  // the grace is over: nobody has `halve`
  auto rs = results();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].id(), "c2");
  EXPECT_EQ(rs[0].failure().kind(), shoal::v1::ERROR_KIND_NOT_REGISTERED);
}

}  // namespace
}  // namespace shoal::broker
