// Deterministic tests of tasks the broker could not send: a worker connection that is
// gone refuses its frames (ZMQ_ROUTER_MANDATORY), and the scheduler takes the tasks back
// without counting a run (Scheduler::undeliverable).
#include "scheduler_fixture.h"

namespace shoal::broker {
namespace {

using ::testing::ElementsAre;
using shoal::v1::TaskResult;

// A hello from connection `peer` of worker `name` (one process: same instance, host and
// pid on every connection) with `slots` slots, all free but for the tasks in `running`.
void hello_running(Scheduler& scheduler, Actions& out, const std::string& peer,
                   const std::string& name, std::vector<std::string> running, uint32_t slots) {
  shoal::v1::WorkerMessage msg;
  msg.set_version(1);
  auto* h = msg.mutable_hello();
  h->set_name(name);
  h->add_tasks("square");
  h->set_slots(slots);
  h->set_prefetch(1);
  h->set_credit(slots - uint32_t(running.size()));
  h->set_instance("i1");
  for (auto& id : running) h->add_running(id);
  scheduler.worker_message(peer, &msg, out);
}

TEST_F(SchedulerTest, UndeliveredTasksGoBackToTheFrontOfTheirQueueWithoutARetry) {
  hello("a", {"square"}, /*slots=*/2);
  submit({T("t1").max_retries(0), T("t2").max_retries(0), T("t3").max_retries(0)});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1", "t2"));
  EXPECT_EQ(undeliverable("a"), 2u);
  EXPECT_TRUE(results().empty());  // never failed for it
  shoal::v1::Stats st = scheduler_->stats();
  EXPECT_EQ(st.retried(), 0u);
  EXPECT_EQ(st.queued(), 3u);
  EXPECT_EQ(st.running(), 0u);
  EXPECT_EQ(st.workers(), 0u);  // its connection is gone: taken as closed
  hello("b", {"square"}, /*slots=*/3);
  EXPECT_THAT(take_sent("b"), ElementsAre("t1", "t2", "t3"));  // in their order
  EXPECT_EQ(sent_["t1"].attempt(), 0u);
  EXPECT_EQ(sent_["t2"].attempt(), 0u);
  EXPECT_NE(sent_["t1"].lease(), 0u);
  report("b", "t1");
  report("b", "t2");
  auto rs = results();
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_FALSE(rs[0].has_failure());
  EXPECT_EQ(rs[0].attempts(), 1u);
  EXPECT_FALSE(rs[1].has_failure());
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
}

// What an undeliverable peer held before this round did reach it: as when its close is
// read, that is a loss (outside the hold after a deafness), a retry spent.
TEST_F(SchedulerTest, AnUndeliverablePeerIsTakenAsClosed) {
  hello("a");
  submit({T("t1")});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  out_.clear();  // sent
  hello("b");
  clock_.advance_ms(1000);
  scheduler_->tick(out_);  // heartbeats...
  ASSERT_THAT(frames("a"), ElementsAre("heartbeat"));
  EXPECT_EQ(undeliverable("a"), 0u);  // ...of which a's cannot be sent
  EXPECT_EQ(scheduler_->stats().workers(), 1u);
  EXPECT_EQ(scheduler_->stats().retried(), 1u);
  EXPECT_THAT(take_sent("b"), ElementsAre("t1"));
  EXPECT_EQ(sent_["t1"].attempt(), 1u);
}

// Within liveness after the broker was deaf, the peer is held like a closed connection:
// the worker's reconnect takes over what it runs.
TEST_F(SchedulerTest, AnUndeliverablePeerAfterADeafnessWaitsForItsReconnect) {
  hello("a");
  submit({T("t1").max_retries(0)});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  out_.clear();
  clock_.advance_ms(5000);
  scheduler_->excuse_silence(5000);
  scheduler_->tick(out_);
  ASSERT_THAT(frames("a"), ElementsAre("heartbeat"));
  undeliverable("a");
  EXPECT_EQ(scheduler_->stats().running(), 1u);
  reconnect("a2", "a", {"t1"});
  report("a2", "t1");
  auto rs = results();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_FALSE(rs[0].has_failure());
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
}

// docs/DESIGN.md: after a stall the broker reads several hellos of one worker at once,
// the earlier ones from connections closed since that a later connection's descriptor
// hides. Each registered the worker and was given the queued task (max_retries 0); the
// next hello, not naming it, took it for lost: it failed WORKER_LOST without having run.
// The loop sends each round's frames before a hello: the task comes back from each dead
// connection, and runs once on the live one.
TEST_F(SchedulerTest, ATaskSentOnAStaleHellosConnectionRunsOnceOnTheLiveOne) {
  hello_running(*scheduler_, out_, "c0", "w", {}, /*slots=*/2);
  submit({T("t1")});
  ASSERT_THAT(take_sent("c0"), ElementsAre("t1"));
  out_.clear();
  clock_.advance_ms(5000);  // the broker stalls; the worker reconnects (c1, c2, c3)
  scheduler_->excuse_silence(5000);
  scheduler_->worker_disconnected("c0", out_);  // read first: held for the reconnect
  submit({T("t2").max_retries(0)});             // posted meanwhile
  EXPECT_TRUE(take_sent("c0").empty());
  for (const std::string peer : {"c1", "c2"}) {  // closed since: no frame reaches them
    hello_running(*scheduler_, out_, peer, "w", {"t1"}, 2);
    ASSERT_THAT(take_sent(peer), ElementsAre("t2"));
    EXPECT_EQ(sent_["t2"].attempt(), 0u);
    undeliverable(peer);  // as the loop does before the next hello
    EXPECT_TRUE(results().empty());
  }
  hello_running(*scheduler_, out_, "c3", "w", {"t1"}, 2);
  ASSERT_THAT(take_sent("c3"), ElementsAre("t2"));
  EXPECT_EQ(sent_["t2"].attempt(), 0u);
  report("c3", "t1");
  report("c3", "t2");
  auto rs = results();
  ASSERT_EQ(rs.size(), 2u);
  for (const TaskResult& r : rs) {
    EXPECT_FALSE(r.has_failure()) << r.ShortDebugString();
    EXPECT_EQ(r.attempts(), 1u) << r.id();
  }
  EXPECT_EQ(scheduler_->stats().retried(), 0u);
  EXPECT_EQ(scheduler_->stats().workers(), 1u);
}

// Its time limit ran from the lease that never left: the next lease's must not end then.
TEST_F(SchedulerTest, AnUndeliveredTasksTimeLimitStartsAgainWithItsNextLease) {
  hello("a");
  submit({T("t1").time_limit_ms(1000).max_retries(0)});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  undeliverable("a");
  clock_.advance_ms(10'000);  // past the first lease's limit + grace (6 s)
  hello("b");
  ASSERT_THAT(take_sent("b"), ElementsAre("t1"));
  keep_alive("b", 5);
  tick_after(999);  // 5999 ms into its new lease
  EXPECT_TRUE(results().empty());
  EXPECT_EQ(scheduler_->stats().running(), 1u);
  report("b", "t1");
  ASSERT_EQ(results().size(), 1u);
  EXPECT_FALSE(results()[0].has_failure());
}

// A batch whose tasks moved on before the failure was read (a result, a loss, a new
// lease) gives back only what is still that peer's lease.
TEST_F(SchedulerTest, OnlyTasksStillLeasedToThePeerGoBack) {
  hello("a", {"square"}, /*slots=*/2);
  submit({T("t1"), T("t2")});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1", "t2"));
  UndeliveredSend failed{"a", {sent_["t1"].lease(), sent_["t2"].lease()}};
  report("a", "t1");  // as if it had arrived after all
  out_.clear();
  EXPECT_EQ(scheduler_->undeliverable({failed}, out_), 1u);
  EXPECT_EQ(scheduler_->stats().completed(), 1u);
  EXPECT_EQ(scheduler_->stats().queued(), 1u);
  EXPECT_EQ(scheduler_->undeliverable({failed}, out_), 0u);  // reported twice
  EXPECT_EQ(scheduler_->stats().queued(), 1u);
}

}  // namespace
}  // namespace shoal::broker
