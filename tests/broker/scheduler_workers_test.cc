// Deterministic tests of the scheduling rules with a fake clock, worker side: credits,
// leases, lost workers, retries, time limits, heartbeats and reconnection.
#include "scheduler_fixture.h"

namespace shoal::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using shoal::v1::TaskResult;

TEST_F(SchedulerTest, RequeuesWhenWorkerMissesHeartbeats) {
  hello("a");
  submit({T("t1")});
  EXPECT_THAT(take_sent("a"), ElementsAre("t1"));
  hello("b");
  keep_alive("b", 3);  // a is silent
  out_.clear();
  tick_after(1);
  EXPECT_THAT(take_sent("b"), ElementsAre("t1"));
  EXPECT_EQ(sent_["t1"].attempt(), 1u);
  EXPECT_EQ(scheduler_->stats().retried(), 1u);
  EXPECT_EQ(scheduler_->stats().workers(), 1u);
}

// Time in which the broker read no frame (its process was stopped, or one round took
// that long) is not a worker's silence: its frames may be waiting unread.
TEST_F(SchedulerTest, TimeTheBrokerWasDeafIsNotAWorkersSilence) {
  hello("a");
  submit({T("t1")});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  clock_.advance_ms(7500);  // past liveness (3 x 1000 ms)...
  scheduler_->excuse_silence(7000);  // ...but the broker heard nothing for 7 s of it
  out_.clear();
  scheduler_->tick(out_);
  EXPECT_EQ(scheduler_->stats().workers(), 1u);
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
  report("a", "t1");
  ASSERT_EQ(results().size(), 1u);
  EXPECT_FALSE(results()[0].has_failure());
  tick_after(3001);  // silent for real now
  EXPECT_EQ(scheduler_->stats().workers(), 0u);
}

// A broker deaf for longer than liveness (stopped, or a long round) finds, when it reads
// again, its workers' old connections closed before their new ones' hellos: such a close
// is held for the worker's reconnect, which hands over what it still runs. (Its tasks
// were failed WORKER_LOST or spent a retry while they ran on.)
TEST_F(SchedulerTest, AConnectionClosedWhileTheBrokerWasDeafWaitsForItsReconnect) {
  hello("a");
  submit({T("t1").max_retries(0)});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  clock_.advance_ms(5000);
  scheduler_->excuse_silence(5000);
  out_.clear();
  scheduler_->worker_disconnected("a", out_);
  EXPECT_TRUE(results().empty());
  EXPECT_EQ(scheduler_->stats().running(), 1u);
  submit({T("t2")});
  EXPECT_TRUE(take_sent("a").empty());  // nothing new goes to a closed connection
  reconnect("a2", "a", {"t1"});
  EXPECT_TRUE(results().empty());
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
  EXPECT_EQ(scheduler_->stats().workers(), 1u);
  report("a2", "t1");
  ASSERT_EQ(results().size(), 1u);
  EXPECT_FALSE(results()[0].has_failure());
}

// A held close whose worker does not come back is a loss once liveness has passed.
TEST_F(SchedulerTest, AHeldCloseWithoutAReconnectIsALossAfterLiveness) {
  hello("a");
  submit({T("t1")});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  clock_.advance_ms(5000);
  scheduler_->excuse_silence(5000);
  scheduler_->worker_disconnected("a", out_);
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
  hello("b");
  keep_alive("b", 3);  // a is silent
  out_.clear();
  tick_after(1);
  EXPECT_EQ(scheduler_->stats().retried(), 1u);
  EXPECT_THAT(take_sent("b"), ElementsAre("t1"));
}

// Outside such a deafness a closed connection is a lost worker at once.
TEST_F(SchedulerTest, AConnectionClosedWhileTheBrokerListensIsALossAtOnce) {
  hello("a");
  submit({T("t1")});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  clock_.advance_ms(5000);
  scheduler_->excuse_silence(5000);
  keep_alive("a", 4);  // liveness after the deafness, the worker heard from
  hello("b");
  out_.clear();
  scheduler_->worker_disconnected("a", out_);
  EXPECT_EQ(scheduler_->stats().retried(), 1u);
  EXPECT_THAT(take_sent("b"), ElementsAre("t1"));
}

TEST_F(SchedulerTest, RetriesUpToMaxRetriesThenFailsWithWorkerLost) {
  submit({T("t1").max_retries(1)});
  hello("a");
  EXPECT_THAT(take_sent("a"), ElementsAre("t1"));
  bye("a");
  out_.clear();
  hello("b");
  EXPECT_THAT(take_sent("b"), ElementsAre("t1"));
  EXPECT_EQ(sent_["t1"].attempt(), 1u);
  out_.clear();
  scheduler_->worker_disconnected("b", out_);
  auto rs = results();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].failure().kind(), shoal::v1::ERROR_KIND_WORKER_LOST);
  EXPECT_THAT(rs[0].failure().message(), HasSubstr("w-b"));
  EXPECT_EQ(rs[0].attempts(), 2u);
}

// A worker chooses its name: the message a lost task's client reads quotes it on one
// line (a name with a newline and a terminal escape came through raw).
TEST_F(SchedulerTest, AWorkerLostMessageQuotesTheWorkersName) {
  submit({T("t1").max_retries(0)});
  hello_as("a", "w\nFAKE\x1b[2J", "first");
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  out_.clear();
  scheduler_->worker_disconnected("a", out_);
  auto rs = results();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_THAT(rs[0].failure().message(), HasSubstr("worker 'w\\nFAKE\\x1b[2J' lost"));
  EXPECT_EQ(rs[0].failure().message().find_first_of("\n\x1b"), std::string::npos);
}

TEST_F(SchedulerTest, DefaultMaxRetriesMeansThreeReRuns) {
  submit({T("t1")});
  for (int run = 0; run < 4; ++run) {
    std::string peer = "p" + std::to_string(run);
    out_.clear();
    hello(peer);
    ASSERT_THAT(take_sent(peer), ElementsAre("t1")) << "run " << run;
    EXPECT_EQ(sent_["t1"].attempt(), uint32_t(run));
    out_.clear();
    bye(peer);
  }
  auto rs = results();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].failure().kind(), shoal::v1::ERROR_KIND_WORKER_LOST);
  EXPECT_EQ(rs[0].attempts(), 4u);
  EXPECT_EQ(scheduler_->stats().retried(), 3u);
}

TEST_F(SchedulerTest, CrashReportedByWorkerIsRetriedAndKeepsItsMessage) {
  hello("a");
  submit({T("t1").max_retries(1)});
  take_sent("a");
  out_.clear();
  report("a", "t1", "", shoal::v1::ERROR_KIND_WORKER_LOST, true);
  EXPECT_TRUE(results().empty());
  EXPECT_THAT(take_sent("a"), ElementsAre("t1"));  // credit returned: runs again
  EXPECT_EQ(sent_["t1"].attempt(), 1u);
  out_.clear();
  report("a", "t1", "", shoal::v1::ERROR_KIND_WORKER_LOST, true);
  auto rs = results();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].failure().kind(), shoal::v1::ERROR_KIND_WORKER_LOST);
  EXPECT_THAT(rs[0].failure().message(), HasSubstr("SIGKILL"));
  EXPECT_EQ(rs[0].attempts(), 2u);
}

// A worker's report that its task's process died is named by the worker that sent it,
// like any result: what the worker wrote in `worker` is replaced.
TEST_F(SchedulerTest, AWorkerLostReportIsNamedByItsSender) {
  hello("a");
  submit({T("t1").max_retries(0)});
  take_sent("a");
  out_.clear();
  shoal::v1::WorkerMessage msg;
  msg.set_version(1);
  TaskResult* r = msg.mutable_results()->add_results();
  r->set_id("t1");
  r->set_lease(sent_["t1"].lease());
  r->set_worker("forged-name");
  r->mutable_failure()->set_kind(shoal::v1::ERROR_KIND_WORKER_LOST);
  scheduler_->worker_message("a", &msg, out_);
  auto rs = results();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].failure().kind(), shoal::v1::ERROR_KIND_WORKER_LOST);
  EXPECT_EQ(rs[0].worker(), "w-a");
  EXPECT_EQ(get_result("t1").result().worker(), "w-a");
}

// A retried task waited its turn already: it and the tasks of its name queued after it
// go before tasks submitted after it, whatever their names.
TEST_F(SchedulerTest, ARetriedTaskKeepsItsPlaceInTheQueue) {
  submit({T("a1").name("a"), T("a2").name("a"), T("b1").name("b"), T("b2").name("b"),
          T("b3").name("b")});
  hello("w1", {"a", "b"});
  ASSERT_THAT(take_sent("w1"), ElementsAre("a1"));
  out_.clear();
  bye("w1");  // a1 is lost: queued again
  hello("w2", {"a", "b"});
  std::vector<std::string> order;
  for (int i = 0; i < 5; ++i) {
    std::vector<std::string> ids = take_sent("w2");
    ASSERT_EQ(ids.size(), 1u);
    order.push_back(ids[0]);
    out_.clear();
    report("w2", ids[0]);
  }
  EXPECT_THAT(order, ElementsAre("a1", "a2", "b1", "b2", "b3"));
  EXPECT_EQ(sent_["a1"].attempt(), 1u);
}

// Before: each of a lost worker's tasks was pushed to the front of its queue in turn, so
// they came back reversed (t3, t2, t1), and a worker lost later put its older task
// behind the retries of a worker lost before.
TEST_F(SchedulerTest, RetriedTasksComeBackInTheirOrder) {
  hello("a", {"square"}, 3);
  submit({T("t1"), T("t2"), T("t3"), T("t4"), T("t5")});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1", "t2", "t3"));
  out_.clear();
  bye("a");
  hello("b", {"square"}, 5);
  EXPECT_THAT(take_sent("b"), ElementsAre("t1", "t2", "t3", "t4", "t5"));
  out_.clear();
  bye("b");
  hello("c", {"square"});
  ASSERT_THAT(take_sent("c"), ElementsAre("t1"));
  hello("d", {"square"});
  ASSERT_THAT(take_sent("d"), ElementsAre("t2"));
  out_.clear();
  bye("c");  // t1 back first, then t2: t2 must still go before it
  bye("d");
  hello("e", {"square"}, 5);
  EXPECT_THAT(take_sent("e"), ElementsAre("t1", "t2", "t3", "t4", "t5"));
}

// Before: seqs were 32 bits; past 2^32 queued tasks (four hours at 300,000 tasks/s) a
// lane whose first task came before the wrap lost every comparison to the others, and
// its task starved while they had a backlog.
TEST_F(SchedulerTest, FifoAcrossTaskNamesHoldsPastThirtyTwoBitsOfSeqs) {
  scheduler_->set_next_seq_for_testing(UINT32_MAX);
  submit({T("old").name("cube")});
  submit({T("n1"), T("n2"), T("n3")});
  hello("a", {"square", "cube"}, 4);
  EXPECT_THAT(take_sent("a"), ElementsAre("old", "n1", "n2", "n3"));
}

// A queued task claimed back in a hello leaves its queue entry behind; queued again
// (its worker lost once more), it must be queued once, not twice.
TEST_F(SchedulerTest, ATaskClaimedBackAndRetriedIsQueuedOnce) {
  hello("a");
  submit({T("t1")});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  scheduler_->worker_disconnected("a", out_);  // t1 queued again
  reconnect("a2", "a", {"t1"});               // and claimed back from the queue
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_RUNNING);
  scheduler_->worker_disconnected("a2", out_);  // queued again
  out_.clear();
  hello("c", {"cube"});  // the queue's only worker cannot run it: it fails, once
  ASSERT_EQ(results().size(), 1u);
  EXPECT_EQ(results()[0].failure().kind(), shoal::v1::ERROR_KIND_NOT_REGISTERED);
  EXPECT_EQ(scheduler_->stats().completed(), 1u);
  EXPECT_EQ(scheduler_->list_queues().queues(0).depth(), 0u);
}

// Found by review: a hello that claimed back a queued retry renumbered it (so that the
// entry it left in its lane stayed stale), and lost again it went behind every task
// queued before the claim. A retry waited its turn already: it goes first.
TEST_F(SchedulerTest, ATaskClaimedBackAndLostAgainGoesAheadOfTasksQueuedMeanwhile) {
  hello("a");
  submit({T("t1")});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  submit({T("t2"), T("t3")});    // queued behind t1 (a has no credit)
  bye("a");                      // a lost: t1 back at the front (a retry)
  reconnect("a2", "a", {"t1"});  // the same worker still runs it: claimed back
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_RUNNING);
  bye("a2");  // lost again: t1 retried
  out_.clear();
  hello("b", {"square"}, 3);
  EXPECT_THAT(take_sent("b"), ElementsAre("t1", "t2", "t3"));
  EXPECT_EQ(scheduler_->list_queues().queues(0).depth(), 0u);
}

TEST_F(SchedulerTest, TimeLimitIsNeverRetried) {
  hello("a");
  submit({T("t1").max_retries(5).time_limit_ms(100)});
  take_sent("a");
  out_.clear();
  report("a", "t1", "", shoal::v1::ERROR_KIND_TIME_LIMIT, true);
  auto rs = results();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].failure().kind(), shoal::v1::ERROR_KIND_TIME_LIMIT);
  EXPECT_EQ(rs[0].attempts(), 1u);
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
}

TEST_F(SchedulerTest, RequeuesWhenLeaseExpires) {
  hello("a");
  submit({T("t1").time_limit_ms(1000)});
  EXPECT_THAT(take_sent("a"), ElementsAre("t1"));
  hello("b");
  out_.clear();
  clock_.advance_ms(5999);  // time limit + grace not yet passed
  heartbeat("a");
  heartbeat("b");
  scheduler_->tick(out_);
  EXPECT_THAT(take_sent("b"), ElementsAre());
  tick_after(2);
  EXPECT_THAT(take_sent("b"), ElementsAre("t1"));
  EXPECT_EQ(sent_["t1"].attempt(), 1u);
  // The first run's late result still resolves the task once; b's result is dropped.
  out_.clear();
  report("a", "t1", "\x01");
  report("b", "t1", "\x02");
  auto rs = results();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].items(0).value(), "\x01");
  EXPECT_EQ(scheduler_->stats().completed(), 1u);
}

// Each lease with a time limit arms a timer; tasks that end long before their limit (a
// day) must not leave their timers behind, or memory grows with every task run.
TEST_F(SchedulerTest, TimersOfEndedLeasesDoNotPileUp) {
  hello("a", {"square"}, 2);
  submit({T("long").time_limit_ms(86'400'000)});  // runs throughout
  for (int i = 0; i < 10'000; ++i) {
    out_.clear();
    std::string id = "t" + std::to_string(i);
    submit({T(id).time_limit_ms(86'400'000)});
    ASSERT_THAT(take_sent("a"), ElementsAre(id));
    report("a", id);
    clock_.advance_ms(1);
  }
  EXPECT_LE(scheduler_->lease_timers(), 100u);
  // The running task's timer is still there: its lease still ends at its time limit.
  hello("b");
  for (int i = 0; i < 86'405; ++i) {
    clock_.advance_ms(1000);
    heartbeat("a");
    heartbeat("b");
  }
  out_.clear();
  scheduler_->tick(out_);
  EXPECT_THAT(take_sent("b"), ElementsAre("long"));
}

// Before: a GetResult answered when its task ended left its wait timer behind for up to
// 10 minutes, so memory grew with the rate of such calls.
TEST_F(SchedulerTest, TimersOfAnsweredGetResultCallsDoNotPileUp) {
  hello("a", {"square"}, 2);
  submit({T("long")});  // runs throughout
  scheduler_->get_result("long", 600'000, 1, out_);
  for (int i = 0; i < 10'000; ++i) {
    out_.clear();
    std::string id = "t" + std::to_string(i);
    submit({T(id)});
    ASSERT_THAT(take_sent("a"), ElementsAre(id));
    scheduler_->get_result(id, 600'000, 2 + i, out_);
    report("a", id);
    ASSERT_EQ(out_.replies.size(), 1u);
    clock_.advance_ms(1);
    heartbeat("a");
  }
  EXPECT_LE(scheduler_->waiter_timers(), 100u);
  // The call still waiting is answered at the end of its wait all the same.
  out_.clear();
  clock_.advance_ms(600'000 - 10'000);
  heartbeat("a");
  scheduler_->tick(out_);
  ASSERT_EQ(out_.replies.size(), 1u);
  EXPECT_EQ(out_.replies[0].token, 1u);
  EXPECT_EQ(out_.replies[0].response.state(), shoal::v1::TASK_STATE_RUNNING);
}

TEST_F(SchedulerTest, AChunksLeaseLastsItsTimeLimitPerItem) {
  hello("a");
  submit({T("t1").items(4).time_limit_ms(1000)});  // each item may take up to 1 s
  EXPECT_THAT(take_sent("a"), ElementsAre("t1"));
  hello("b");
  out_.clear();
  clock_.advance_ms(4000 + 4999);  // 4 items' limits + grace not yet passed
  heartbeat("a");
  heartbeat("b");
  scheduler_->tick(out_);
  EXPECT_THAT(take_sent("b"), ElementsAre());
  tick_after(2);
  EXPECT_THAT(take_sent("b"), ElementsAre("t1"));
}

// Found by review: a worker holding more tasks than processes (--prefetch > 1) runs
// them in rounds, but every one's backstop ran from its sending: the fourth 3 s task of a
// one-process worker with prefetch 4 and a 5 s limit was taken for lost at 10 s (and, with
// retries left, run twice). Each now has as many periods as rounds of tasks were held.
TEST_F(SchedulerTest, APrefetchedTaskHasItsTimeLimitForEachRoundAheadOfIt) {
  hello("a", {"square"}, /*slots=*/1, /*queues=*/{}, /*prefetch=*/4);
  submit({T("t1").max_retries(0).time_limit_ms(5000), T("t2").max_retries(0).time_limit_ms(5000),
          T("t3").max_retries(0).time_limit_ms(5000), T("t4").max_retries(0).time_limit_ms(5000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1", "t2", "t3", "t4"));
  for (const char* id : {"t1", "t2", "t3"}) {  // 3 s each, one after the other
    keep_alive("a", 3);
    out_.clear();
    report("a", id);
    ASSERT_EQ(results().size(), 1u) << id;
    EXPECT_FALSE(results()[0].has_failure()) << id;
  }
  keep_alive("a", 2);  // t = 11 s: t4 started at 9 s and has till 14 s
  out_.clear();
  scheduler_->tick(out_);
  EXPECT_TRUE(results().empty()) << results()[0].ShortDebugString();
  keep_alive("a", 1);
  out_.clear();
  report("a", "t4");
  ASSERT_EQ(results().size(), 1u);
  EXPECT_FALSE(results()[0].has_failure());
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
  // A task held alone still has one period: lost 10 s after it was sent.
  submit({T("t5").max_retries(0).time_limit_ms(5000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("t5"));
  keep_alive("a", 9);
  out_.clear();
  scheduler_->tick(out_);
  EXPECT_TRUE(results().empty());
  keep_alive("a", 1);
  out_.clear();
  scheduler_->tick(out_);
  ASSERT_EQ(results().size(), 1u);
  EXPECT_EQ(results()[0].failure().kind(), shoal::v1::ERROR_KIND_WORKER_LOST);
}

TEST_F(SchedulerTest, QueuedTasksFailWhenOnlyIncapableWorkersArrive) {
  submit({T("c1").name("cube"), T("s1")});
  EXPECT_TRUE(results().empty());
  hello("a", {"square"});
  auto rs = results();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].id(), "c1");
  EXPECT_EQ(rs[0].failure().kind(), shoal::v1::ERROR_KIND_NOT_REGISTERED);
  EXPECT_THAT(take_sent("a"), ElementsAre("s1"));
}

TEST_F(SchedulerTest, WorkerOnlyGetsTasksItHasWhileOthersWait) {
  hello("sq", {"square"});
  hello("cu", {"cube"});
  out_.clear();
  submit({T("s1"), T("c1").name("cube"), T("s2")});
  EXPECT_THAT(take_sent("sq"), ElementsAre("s1"));
  EXPECT_THAT(take_sent("cu"), ElementsAre("c1"));
  out_.clear();
  report("sq", "s1");
  EXPECT_THAT(take_sent("sq"), ElementsAre("s2"));
}

TEST_F(SchedulerTest, LostWorkerComingBackResolvesOnceAndIsAskedToReconnect) {
  hello("a");
  submit({T("t1")});
  take_sent("a");
  hello("b");
  keep_alive("b", 4);
  scheduler_->tick(out_);  // a is lost; t1 goes to b
  EXPECT_THAT(take_sent("b"), ElementsAre("t1"));
  out_.clear();
  report("a", "t1", "\x0a");  // a comes back with its result
  EXPECT_THAT(frames("a"), ElementsAre("reconnect"));
  ASSERT_EQ(results().size(), 1u);
  out_.clear();
  report("b", "t1", "\x0b");  // duplicate: dropped
  EXPECT_TRUE(results().empty());
  EXPECT_EQ(get_result("t1").result().items(0).value(), "\x0a");
  EXPECT_EQ(scheduler_->stats().completed(), 1u);
  EXPECT_EQ(scheduler_->stats().running(), 0u);
}

TEST_F(SchedulerTest, ChunkIsOneSchedulingUnit) {
  hello("a");
  submit({T("chunk").items(100), T("t2")});
  EXPECT_THAT(take_sent("a"), ElementsAre("chunk"));
  EXPECT_EQ(sent_["chunk"].items(), 100u);
}

// SIGTERM: the worker finishes what it holds, so the broker must not run those tasks
// elsewhere meanwhile (they would run twice) nor send it more; what it still holds when
// it finally leaves is retried.
TEST_F(SchedulerTest, DrainingWorkerKeepsItsTasksGetsNothingNewAndLeavesTheRestToRetry) {
  hello("a", {"square"}, 2);
  submit({T("t1"), T("t2"), T("t3")});
  EXPECT_THAT(take_sent("a"), ElementsAre("t1", "t2"));
  out_.clear();
  bye("a", /*draining=*/true);
  EXPECT_TRUE(out_.to_workers.empty());
  hello("b");
  EXPECT_THAT(take_sent("b"), ElementsAre("t3"));  // t1 and t2 stay with a
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
  EXPECT_EQ(scheduler_->stats().running(), 3u);
  out_.clear();
  report("a", "t1");  // its result is taken; the credit it grants is not
  ASSERT_EQ(results().size(), 1u);
  EXPECT_EQ(results()[0].id(), "t1");
  EXPECT_FALSE(results()[0].has_failure());
  submit({T("t4")});
  EXPECT_TRUE(take_sent("a").empty());
  auto workers = scheduler_->list_workers();
  ASSERT_EQ(workers.workers_size(), 2);
  EXPECT_EQ(workers.workers(0).name(), "w-a");
  EXPECT_TRUE(workers.workers(0).draining());
  EXPECT_EQ(workers.workers(0).credit(), 0u);
  EXPECT_EQ(workers.workers(0).running(), 1u);
  EXPECT_FALSE(workers.workers(1).draining());
  for (int i = 0; i < 4; ++i) {  // longer than liveness: its heartbeats keep its lease
    clock_.advance_ms(1000);
    heartbeat("a");
    heartbeat("b");
    scheduler_->tick(out_);
  }
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
  EXPECT_EQ(get_result("t2").state(), shoal::v1::TASK_STATE_RUNNING);
  out_.clear();
  bye("a");  // it leaves without t2's result
  EXPECT_EQ(scheduler_->stats().retried(), 1u);
  EXPECT_EQ(scheduler_->stats().workers(), 1u);
  report("b", "t3");
  EXPECT_THAT(take_sent("b"), ElementsAre("t2"));  // at the front, before t4
  EXPECT_EQ(sent_["t2"].attempt(), 1u);
}

// A draining worker hands back what it has not started: queued again at once, ahead of
// the others, with no attempt spent; an entry not under the task's current lease to that
// worker (a stale lease, another worker's task, an unknown id) changes nothing.
TEST_F(SchedulerTest, ATaskADrainingWorkerHandsBackRunsElsewhereWithNoAttemptSpent) {
  hello("a", {"square"}, 3);
  submit({T("t1"), T("t2"), T("t3"), T("t4")});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1", "t2", "t3"));
  out_.clear();
  hello("b", {"square"}, 1);
  ASSERT_THAT(take_sent("b"), ElementsAre("t4"));
  bye("a", /*draining=*/true);
  out_.clear();
  shoal::v1::WorkerMessage msg;
  msg.set_version(1);
  auto add = [&](const std::string& id, uint64_t lease) {
    auto* r = msg.mutable_results()->add_returned();
    r->set_id(id);
    r->set_lease(lease);
  };
  add("t3", sent_["t3"].lease());
  add("t2", sent_["t2"].lease() + 1);  // not its lease
  add("t4", sent_["t4"].lease());      // b's
  add("nope", 5);
  scheduler_->worker_message("a", &msg, out_);
  EXPECT_EQ(scheduler_->stats().running(), 3u);  // t1, t2 on a; t4 on b
  EXPECT_EQ(scheduler_->stats().queued(), 1u);
  EXPECT_EQ(get_result("t3").state(), shoal::v1::TASK_STATE_QUEUED);
  out_.clear();
  submit({T("t5")});
  report("b", "t4");
  EXPECT_THAT(take_sent("b"), ElementsAre("t3"));  // at the front, before t5
  EXPECT_EQ(sent_["t3"].attempt(), 0u);
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
  report("a", "t1");
  report("a", "t2");
  out_.clear();
  bye("a");
  EXPECT_EQ(scheduler_->stats().retried(), 0u);  // it held nothing more
}

// A draining worker that dies (falls silent) loses its tasks like any other.
TEST_F(SchedulerTest, DrainingWorkerThatFallsSilentIsLost) {
  hello("a");
  submit({T("t1")});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  bye("a", /*draining=*/true);
  out_.clear();
  hello("b");
  EXPECT_TRUE(take_sent("b").empty());
  for (int i = 0; i < 4; ++i) {
    clock_.advance_ms(1000);
    heartbeat("b");
    scheduler_->tick(out_);
  }
  EXPECT_THAT(take_sent("b"), ElementsAre("t1"));
  EXPECT_EQ(scheduler_->stats().retried(), 1u);
  EXPECT_EQ(scheduler_->stats().workers(), 1u);
}

// A name is an identity: a second process under a live worker's name is refused, and
// the live one keeps its connection and its tasks (they used to alternate, each hello
// knocking the other off, and a task ran in both).
TEST_F(SchedulerTest, HelloUnderALiveWorkersNameFromAnotherProcessIsRefused) {
  hello_as("a", "w", "first", /*pid=*/10);
  submit({T("t1"), T("t2")});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  out_.clear();
  hello_as("b", "w", "second", /*pid=*/20);
  ASSERT_THAT(frames("b"), ElementsAre("refused"));
  const shoal::v1::Refused& refused = out_.to_workers[0].message.refused();
  EXPECT_THAT(refused.reason(), HasSubstr("'w' belongs to a live worker ('h':10)"));
  EXPECT_EQ(refused.retry_ms(), 4000u);  // liveness 3 x 1000 ms, and one heartbeat more
  EXPECT_TRUE(take_sent("b").empty());
  auto workers = scheduler_->list_workers();
  ASSERT_EQ(workers.workers_size(), 1);
  EXPECT_EQ(workers.workers(0).pid(), 10u);
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_RUNNING);
  out_.clear();
  report("a", "t1");  // the live one serves on
  EXPECT_THAT(take_sent("a"), ElementsAre("t2"));
  out_.clear();
  heartbeat("b");  // the refused connection is nobody
  EXPECT_THAT(frames("b"), ElementsAre("reconnect"));
}

// Workers before WorkerHello.instance are told apart by host and pid.
TEST_F(SchedulerTest, WithoutInstanceHostAndPidTellProcessesApart) {
  hello_as("a", "w", "", /*pid=*/10);
  out_.clear();
  hello_as("b", "w", "", /*pid=*/20);
  EXPECT_THAT(frames("b"), ElementsAre("refused"));
  out_.clear();
  hello_as("c", "w", "", /*pid=*/10);  // the same process, reconnected
  EXPECT_THAT(frames("c"), ElementsAre("welcome"));
  ASSERT_EQ(scheduler_->list_workers().workers_size(), 1);
}

// The same process on a new connection (it reconnected before the broker saw the old
// one close) replaces its old connection and keeps what it still runs.
TEST_F(SchedulerTest, SameProcessOnANewConnectionReplacesItsOldOne) {
  hello_as("a", "w", "first");
  submit({T("t1")});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  out_.clear();
  shoal::v1::WorkerMessage msg;
  msg.set_version(1);
  auto* h = msg.mutable_hello();
  h->set_name("w");
  h->add_tasks("square");
  h->set_slots(1);
  h->set_host("h");
  h->set_pid(1);
  h->set_instance("first");
  h->add_running("t1");
  scheduler_->worker_message("a2", &msg, out_);
  EXPECT_THAT(frames("a2"), ElementsAre("welcome"));
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
  report("a2", "t1");
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_DONE);
}

// A worker restarted after a crash takes its name back once the broker knows the old
// process is gone: at once if its connection closed, after liveness if it fell silent.
TEST_F(SchedulerTest, NameIsFreeAgainOnceItsHolderIsGone) {
  hello_as("a", "w", "first");
  scheduler_->worker_disconnected("a", out_);
  out_.clear();
  hello_as("b", "w", "second");
  EXPECT_THAT(frames("b"), ElementsAre("welcome"));
  out_.clear();
  clock_.advance_ms(2000);
  hello_as("c", "w", "third");  // b is silent, but not yet for liveness x heartbeat
  EXPECT_THAT(frames("c"), ElementsAre("refused"));
  out_.clear();
  tick_after(1001);  // b is lost
  hello_as("c", "w", "third");
  EXPECT_THAT(frames("c"), ElementsAre("welcome"));
  EXPECT_EQ(scheduler_->list_workers().workers(0).pid(), 1u);
  EXPECT_EQ(scheduler_->stats().workers(), 1u);
}

// A worker must know the largest result the broker takes: a larger frame would close
// its connection.
TEST_F(SchedulerTest, WelcomeTellsTheWorkerTheBrokersMessageLimit) {
  hello("a");
  ASSERT_THAT(frames("a"), ElementsAre("welcome"));
  EXPECT_EQ(out_.to_workers[0].message.welcome().max_message_bytes(), 1024u);
}

TEST_F(SchedulerTest, UnknownWorkerIsAskedToReconnect) {
  heartbeat("ghost");
  EXPECT_THAT(frames("ghost"), ElementsAre("reconnect"));
}

TEST_F(SchedulerTest, SendsHeartbeatsToIdleWorkersAndShutdownToAll) {
  hello("a");
  hello("b");
  out_.clear();
  clock_.advance_ms(1000);
  heartbeat("a");
  heartbeat("b");
  scheduler_->tick(out_);
  EXPECT_THAT(frames("a"), ElementsAre("heartbeat"));
  out_.clear();
  scheduler_->shutdown("bye", out_);
  EXPECT_THAT(frames("a"), ElementsAre("shutdown"));
  EXPECT_THAT(frames("b"), ElementsAre("shutdown"));
}

TEST_F(SchedulerTest, CreditsNeverExceedSlotsTimesPrefetch) {
  hello("a", {"square"}, 2);
  std::vector<TaskSpec> specs;
  for (int i = 0; i < 10; ++i) specs.push_back(T("t" + std::to_string(i)));
  submit(specs);
  EXPECT_EQ(take_sent("a").size(), 2u);
  out_.clear();
  shoal::v1::WorkerMessage msg;  // a buggy grant of 100
  msg.set_version(1);
  msg.mutable_credit()->set_credit(100);
  scheduler_->worker_message("a", &msg, out_);
  EXPECT_TRUE(take_sent("a").empty());
  auto workers = scheduler_->list_workers();
  ASSERT_EQ(workers.workers_size(), 1);
  EXPECT_EQ(workers.workers(0).running(), 2u);
  EXPECT_EQ(workers.workers(0).credit(), 0u);
  auto queues = scheduler_->list_queues();
  ASSERT_EQ(queues.queues_size(), 1);
  EXPECT_EQ(queues.queues(0).depth(), 8u);
  EXPECT_EQ(queues.queues(0).in_flight(), 2u);
}

TEST_F(SchedulerTest, ReconnectingWorkerKeepsTasksItStillRuns) {
  hello("a");
  submit({T("t1")});
  take_sent("a");
  out_.clear();
  reconnect("a2", "a", {"t1"});  // new connection, same worker, still running t1
  EXPECT_TRUE(take_sent("a2").empty());
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_RUNNING);
  report("a2", "t1");
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_DONE);
}

// A task claimed back from the queue in a hello gets its time limit again, counted from
// the hello: a stuck one is still taken away.
TEST_F(SchedulerTest, TaskClaimedBackInAHelloKeepsATimeLimit) {
  hello("a");
  submit({T("t1").time_limit_ms(1000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  scheduler_->worker_disconnected("a", out_);  // re-queued for its second attempt
  reconnect("a2", "a", {"t1"});                // back to its first: a runs that copy
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
  for (int s = 0; s < 6; ++s) {  // time limit + grace, heartbeating
    clock_.advance_ms(1000);
    heartbeat("a2");
    scheduler_->tick(out_);
  }
  EXPECT_EQ(scheduler_->stats().retried(), 1u);  // the backstop's
  EXPECT_EQ(scheduler_->stats().running(), 0u);
}

// A worker that reconnects before the broker saw its old connection go keeps what it
// still runs: no retry used, no WORKER_LOST, and the time limit still counts.
TEST_F(SchedulerTest, ReplacedConnectionHandsTheTasksItStillRunsOver) {
  hello("a");
  submit({T("t1").max_retries(0).time_limit_ms(10'000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  out_.clear();
  reconnect("a2", "a", {"t1"});  // the old connection is still known
  EXPECT_TRUE(results().empty());
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
  EXPECT_EQ(scheduler_->stats().running(), 1u);
  for (int s = 0; s < 15; ++s) {  // time limit + grace of the first lease, heartbeating
    clock_.advance_ms(1000);
    heartbeat("a2");
    scheduler_->tick(out_);
  }
  ASSERT_EQ(results().size(), 1u);
  EXPECT_THAT(results()[0].failure().message(), HasSubstr("time limit"));
}

// A task whose retries a lost worker used up ends once, and leaves the running count
// once (its lease was ended twice, wrapping stats().running() around).
TEST_F(SchedulerTest, TaskFailedByLostWorkerLeavesNothingRunning) {
  hello("a");
  submit({T("t1").max_retries(0)});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  out_.clear();
  scheduler_->worker_disconnected("a", out_);
  ASSERT_EQ(results().size(), 1u);
  EXPECT_EQ(results()[0].failure().kind(), shoal::v1::ERROR_KIND_WORKER_LOST);
  auto stats = scheduler_->stats();
  EXPECT_EQ(stats.running(), 0u);
  EXPECT_EQ(stats.completed(), 1u);
  EXPECT_EQ(scheduler_->list_queues().queues(0).in_flight(), 0u);
}

// A worker that says hello again under its name while the broker still knows its old
// connection keeps its tasks, even in a queue whose other workers lack their name: for
// a moment no connection of it is registered, which is no reason to fail them.
TEST_F(SchedulerTest, ReconnectingWorkerDoesNotFailItsTasksAsUnregistered) {
  hello("sq", {"square"});
  hello("cu", {"cube"});
  submit({T("s1"), T("s2")});
  ASSERT_THAT(take_sent("sq"), ElementsAre("s1"));
  out_.clear();
  reconnect("sq2", "sq", {"s1"});  // a new connection, still running s1
  EXPECT_TRUE(results().empty());
  EXPECT_EQ(get_result("s1").state(), shoal::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(get_result("s2").state(), shoal::v1::TASK_STATE_QUEUED);
  out_.clear();
  report("sq2", "s1");
  EXPECT_THAT(take_sent("sq2"), ElementsAre("s2"));
}

// Within one round (one Actions list), a worker that leaves frees its ref and the next
// worker takes it: the newcomer's tasks must go to its own connection, not in the
// leaver's batch to the leaver's.
TEST_F(SchedulerTest, TasksOfAWorkerTakingTheRefOfOneGoneInTheSameRoundGoToIt) {
  hello("a");
  submit({T("t1"), T("t2")});  // t1 leased to a, not yet sent
  bye("a");                    // t1 back in the queue; a's ref is free
  hello("b");                  // takes a's ref, and t1
  EXPECT_THAT(take_sent("b"), ElementsAre("t1"));
  EXPECT_EQ(sent_["t1"].attempt(), 1u);
  EXPECT_EQ(scheduler_->list_workers().workers(0).running(), 1u);
}

// The same for a worker that reconnects (same name, new connection) in the round in
// which its old connection was given a task.
TEST_F(SchedulerTest, TasksOfAReconnectInTheSameRoundGoToTheNewConnection) {
  hello_as("old", "w", "first");
  submit({T("t1"), T("t2")});  // t1 leased to the old connection, not yet sent
  hello_as("new", "w", "first");
  EXPECT_THAT(frames("new"), ElementsAre("welcome", "tasks"));
  EXPECT_THAT(take_sent("new"), ElementsAre("t1"));
}

}  // namespace
}  // namespace shoal::broker
