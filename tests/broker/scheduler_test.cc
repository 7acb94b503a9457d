// Deterministic tests of the scheduling rules (API.md §8 "Remote semantics") with a
// fake clock, client side: submission, priorities, cancellation, retention, delivery.
#include <set>

#include "scheduler_fixture.h"

namespace shoal::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using shoal::v1::TaskResult;

TEST_F(SchedulerTest, DispatchesAcceptedTaskToWorkerWithCredit) {
  hello("a");
  EXPECT_THAT(frames("a"), ElementsAre("welcome"));
  EXPECT_EQ(out_.to_workers[0].message.welcome().heartbeat_ms(), 1000u);
  out_.clear();
  submit({T("t1")});
  ASSERT_TRUE(out_.to_sessions[0].message.has_accepted());
  EXPECT_THAT(out_.to_sessions[0].message.accepted().ids(), ElementsAre("t1"));
  EXPECT_THAT(take_sent("a"), ElementsAre("t1"));
  EXPECT_EQ(sent_["t1"].name(), "square");
  EXPECT_EQ(sent_["t1"].args(), "\x91\x07");
  EXPECT_EQ(sent_["t1"].attempt(), 0u);
  EXPECT_EQ(sent_["t1"].queue(), "default");
  out_.clear();
  report("a", "t1", "\x31");
  auto rs = results();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].id(), "t1");
  EXPECT_EQ(rs[0].items(0).value(), "\x31");
  EXPECT_EQ(rs[0].attempts(), 1u);
  EXPECT_EQ(rs[0].worker(), "w-a");
  auto stats = scheduler_->stats();
  EXPECT_EQ(stats.submitted(), 1u);
  EXPECT_EQ(stats.completed(), 1u);
  EXPECT_EQ(stats.failed(), 0u);
}

TEST_F(SchedulerTest, HigherPriorityFirstAndFifoWithinPriority) {
  submit({T("low"), T("mid1").priority(5), T("mid2").priority(5),
          T("top").priority(9), T("low2")});
  hello("a");
  std::vector<std::string> order = take_sent("a");
  for (int i = 0; i < 4; ++i) {
    out_.clear();
    report("a", order.back());
    for (auto& id : take_sent("a")) order.push_back(id);
  }
  EXPECT_THAT(order, ElementsAre("top", "mid1", "mid2", "low", "low2"));
}

// Found by review: a worker serving several queues spent all its credit on the first
// queue of its hello while that one had tasks, so a task of its second queue waited
// behind every task of the first, whatever its priority. Its queues now take turns: one
// task from each in turn, from where its last turn stopped.
TEST_F(SchedulerTest, AWorkerOfSeveralQueuesTakesFromThemInTurn) {
  hello("a", {"square"}, 1, {"q1", "q2"});
  submit({T("x0").queue("q1"), T("x1").queue("q1"), T("x2").queue("q1"), T("x3").queue("q1")});
  submit({T("y0").queue("q2").priority(9), T("y1").queue("q2")});
  std::vector<std::string> order;
  for (int i = 0; i < 6; ++i) {
    std::vector<std::string> ids = take_sent("a");
    ASSERT_EQ(ids.size(), 1u);
    order.push_back(ids[0]);
    out_.clear();
    report("a", ids[0]);
  }
  EXPECT_THAT(order, ElementsAre("x0", "y0", "x1", "y1", "x2", "x3"));

  // Credit for several tasks at once is shared the same way.
  reset(options_);
  out_.clear();
  submit({T("x0").queue("q1"), T("x1").queue("q1"), T("x2").queue("q1"), T("y0").queue("q2")});
  hello("b", {"square"}, 1, {"q1", "q2"}, /*prefetch=*/3);
  EXPECT_THAT(take_sent("b"), ElementsAre("x0", "y0", "x1"));
}

TEST_F(SchedulerTest, BusyWorkerHoldsNoneSoQueuedTaskCanBeCancelled) {
  hello("a");  // one slot, prefetch 1
  submit({T("t1"), T("t2")});
  EXPECT_THAT(take_sent("a"), ElementsAre("t1"));
  out_.clear();
  auto cancel = scheduler_->cancel("t2", /*even_if_unknown=*/false, out_);
  EXPECT_TRUE(cancel.cancelled());
  EXPECT_EQ(cancel.state(), shoal::v1::TASK_STATE_QUEUED);
  auto rs = results();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].failure().kind(), shoal::v1::ERROR_KIND_CANCELLED);
  out_.clear();
  report("a", "t1");
  EXPECT_THAT(take_sent("a"), ElementsAre());  // t2 never runs
  EXPECT_EQ(get_result("t2").result().failure().kind(), shoal::v1::ERROR_KIND_CANCELLED);
  EXPECT_EQ(scheduler_->stats().queued(), 0u);
}

TEST_F(SchedulerTest, CancelLeavesRunningDoneAndUnknownTasksAlone) {
  hello("a");
  submit({T("t1")});
  auto running = scheduler_->cancel("t1", /*even_if_unknown=*/false, out_);
  EXPECT_FALSE(running.cancelled());
  EXPECT_EQ(running.state(), shoal::v1::TASK_STATE_RUNNING);
  report("a", "t1");
  auto done = scheduler_->cancel("t1", /*even_if_unknown=*/false, out_);
  EXPECT_FALSE(done.cancelled());
  EXPECT_EQ(done.state(), shoal::v1::TASK_STATE_DONE);
  auto unknown = scheduler_->cancel("nope", /*even_if_unknown=*/false, out_);
  EXPECT_FALSE(unknown.cancelled());
  EXPECT_EQ(unknown.state(), shoal::v1::TASK_STATE_UNKNOWN);
}

TEST_F(SchedulerTest, UnregisteredTaskFailsAtOnceNamingIt) {
  hello("a", {"square"});
  out_.clear();
  submit({T("t1").name("cube")});
  EXPECT_THAT(out_.to_sessions[0].message.accepted().ids(), ElementsAre("t1"));
  auto rs = results();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].failure().kind(), shoal::v1::ERROR_KIND_NOT_REGISTERED);
  EXPECT_THAT(rs[0].failure().message(), HasSubstr("'cube'"));
  EXPECT_THAT(take_sent("a"), ElementsAre());
}

TEST_F(SchedulerTest, TaskWaitsForFirstWorkerOfItsQueue) {
  submit({T("t1").queue("gpu")});
  tick_after(100'000);
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_QUEUED);
  hello("a", {"square"}, 1, {"cpu"});
  EXPECT_THAT(take_sent("a"), ElementsAre());  // other queue
  hello("g", {"square"}, 1, {"gpu"});
  EXPECT_THAT(take_sent("g"), ElementsAre("t1"));
  EXPECT_EQ(sent_["t1"].queue(), "gpu");
}

TEST_F(SchedulerTest, ResultKeptForTtlFromItsDelivery) {
  hello("a");
  submit({T("t1")});
  report("a", "t1");  // delivered to the session: ttl starts now
  tick_after(30'000);
  auto first = get_result("t1");  // a second delivery does not start it again
  EXPECT_EQ(first.state(), shoal::v1::TASK_STATE_DONE);
  EXPECT_EQ(first.result().items(0).value(), "\x31");
  // Kept without id and worker name (the record has both): both come back.
  EXPECT_EQ(first.result().id(), "t1");
  EXPECT_EQ(first.result().worker(), "w-a");
  EXPECT_EQ(first.result().attempts(), 1u);
  tick_after(29'999);
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_DONE);
  tick_after(2);
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_UNKNOWN);
  EXPECT_EQ(scheduler_->stats().results_retained(), 0u);
}

// Before: a result whose session had closed (a client killed with tasks outstanding) was
// kept until some client asked for it, so for good: memory nothing bounded.
TEST_F(SchedulerTest, AResultNobodyTookIsKeptForTtlFromItsEnd) {
  hello("a");
  submit({T("t1")});
  scheduler_->close_session(kSession);  // the client went away
  report("a", "t1");
  tick_after(59'999);  // a client that comes back within the ttl gets it
  scheduler_->open_session(kSession + 1);
  Actions watched;
  google::protobuf::RepeatedPtrField<std::string> ids;
  ids.Add("t1");
  scheduler_->watch(kSession + 1, ids, watched);
  ASSERT_EQ(watched.to_sessions.size(), 1u);
  ASSERT_EQ(watched.to_sessions[0].message.results().results_size(), 1);
  EXPECT_EQ(watched.to_sessions[0].message.results().results(0).id(), "t1");
  tick_after(2);  // its ttl ran from its end, not from the Watch
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_UNKNOWN);
  EXPECT_EQ(scheduler_->stats().results_retained(), 0u);
}

// Before: results nobody took counted against --result-memory-mb but could not be
// evicted; once they filled it, each delivery dropped every other delivered result, a
// remembered cancel among them (its task then ran when it arrived).
TEST_F(SchedulerTest, ResultsNobodyTookDoNotPinTheMemoryCap) {
  SchedulerOptions options = options_;
  options.max_retained_bytes = 4096;
  reset(options);
  hello("a", {"square"}, 4);
  scheduler_->open_session(kSession + 1);
  for (int i = 0; i < 40; ++i) {
    submit({T("orphan" + std::to_string(i)).args(std::string(100, 'x'))}, kSession + 1);
  }
  scheduler_->close_session(kSession + 1);
  // Each report's credit sends the next task: one round of actions per report.
  auto run_sent = [&](const std::string& value) {
    for (std::vector<std::string> sent = take_sent("a"); !sent.empty(); sent = take_sent("a")) {
      out_.clear();
      for (const std::string& id : sent) report("a", id, value);
    }
  };
  run_sent(std::string(200, 'v'));
  EXPECT_EQ(scheduler_->stats().completed(), 40u);
  EXPECT_LT(scheduler_->stats().results_retained(), 40u);  // the oldest went
  Actions cancelled;
  EXPECT_TRUE(scheduler_->cancel("late", /*even_if_unknown=*/true, cancelled).cancelled());
  submit({T("t1")});
  run_sent("\x31");
  submit({T("t2")});
  run_sent("\x31");
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_DONE);
  EXPECT_EQ(get_result("late").state(), shoal::v1::TASK_STATE_DONE);
  out_.clear();
  submit({T("late")});
  EXPECT_THAT(take_sent("a"), ElementsAre());  // remembered: it never runs
}

TEST_F(SchedulerTest, DeliveredResultsBeyondTheMemoryCapAreDroppedOldestFirst) {
  SchedulerOptions options = options_;
  options.max_retained_bytes = 3500;  // a 1000-byte result counts about 1170
  reset(options);
  hello("a", {"square"}, 4);
  submit({T("t1"), T("t2"), T("t3"), T("t4")});
  for (const char* id : {"t1", "t2", "t3", "t4"}) report("a", id, std::string(1000, 'x'));
  EXPECT_EQ(scheduler_->stats().results_retained(), 2u);
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_UNKNOWN);
  EXPECT_EQ(get_result("t2").state(), shoal::v1::TASK_STATE_UNKNOWN);
  EXPECT_EQ(get_result("t3").state(), shoal::v1::TASK_STATE_DONE);
  EXPECT_EQ(get_result("t4").result().items(0).value(), std::string(1000, 'x'));
}

// A result names its task by id; the lease handle only saves the lookup. A lease that
// names another task, or no record at all, is ignored and the id still decides.
TEST_F(SchedulerTest, ResultLeaseOnlySpeedsTheLookupTheIdDecides) {
  hello("a", {"square"}, 3);
  submit({T("t1"), T("t2"), T("t3")});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1", "t2", "t3"));
  ASSERT_NE(sent_["t1"].lease(), 0u);
  ASSERT_NE(sent_["t1"].lease(), sent_["t2"].lease());
  auto send = [&](const std::string& id, uint64_t lease) {
    shoal::v1::WorkerMessage msg;
    msg.set_version(1);
    shoal::v1::TaskResult* r = msg.mutable_results()->add_results();
    r->set_id(id);
    r->set_lease(lease);
    r->set_values("\x91\x31");
    scheduler_->worker_message("a", &msg, out_);
  };
  send("t1", sent_["t2"].lease());  // t2's handle on t1's result
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_DONE);
  EXPECT_EQ(get_result("t2").state(), shoal::v1::TASK_STATE_RUNNING);
  send("t2", ~uint64_t{0});  // names no record
  EXPECT_EQ(get_result("t2").state(), shoal::v1::TASK_STATE_DONE);
  send("t3", sent_["t3"].lease());
  EXPECT_EQ(get_result("t3").state(), shoal::v1::TASK_STATE_DONE);
  EXPECT_EQ(scheduler_->stats().completed(), 3u);
}

// A result is named by the worker that sent it, whatever its `worker` field says; from
// a worker other than the holder, that name is kept in the result's encoding.
TEST_F(SchedulerTest, AResultIsNamedByItsSenderAndKeepsANameItCannotRebuild) {
  hello("a");
  submit({T("t1"), T("t2")});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  shoal::v1::WorkerMessage msg;
  msg.set_version(1);
  shoal::v1::TaskResult* r = msg.mutable_results()->add_results();
  r->set_id("t1");
  r->set_worker("someone-else");
  r->set_values("\x91\x31");
  msg.mutable_results()->set_credit(1);
  scheduler_->worker_message("a", &msg, out_);
  EXPECT_EQ(get_result("t1").result().worker(), "w-a");
  EXPECT_EQ(get_result("t1").result().values(), "\x91\x31");
  // t2 goes to a; a falls silent and t2 goes to b; a comes back (a new hello) and
  // reports it late, with its lease: it resolves t2, named after a, not the holder b.
  ASSERT_THAT(take_sent("a"), ElementsAre("t1", "t2"));  // this round's frames: t2 now
  out_.clear();
  hello("b");
  for (int i = 0; i < 4; ++i) {
    clock_.advance_ms(1000);
    heartbeat("b");
  }
  scheduler_->tick(out_);
  ASSERT_THAT(take_sent("b"), ElementsAre("t2"));
  hello("a");
  report("a", "t2");
  EXPECT_EQ(get_result("t2").result().worker(), "w-a");
}

// Only a worker once given a task can end it: another worker's result for it, without
// its lease, is ignored, whether the task is queued or leased to someone else.
TEST_F(SchedulerTest, AWorkerCannotEndATaskItWasNeverSent) {
  hello("a", {"square"}, 1, {"q"});
  hello("f", {"square"}, 1, {"other"});  // serves another queue
  submit({T("held").queue("q"), T("queued").queue("q")});
  ASSERT_THAT(take_sent("a"), ElementsAre("held"));
  out_.clear();
  for (std::string id : {"held", "queued"}) {
    for (uint64_t lease : {uint64_t{0}, uint64_t{1}, uint64_t{1} << 63}) {
      shoal::v1::WorkerMessage msg;
      msg.set_version(1);
      shoal::v1::TaskResult* r = msg.mutable_results()->add_results();
      r->set_id(id);
      r->set_lease(lease);
      r->set_values("\x91\xcd\x02\x9a");  // 666
      scheduler_->worker_message("f", &msg, out_);
    }
  }
  EXPECT_TRUE(results().empty());
  EXPECT_EQ(get_result("held").state(), shoal::v1::TASK_STATE_RUNNING);
  EXPECT_EQ(get_result("queued").state(), shoal::v1::TASK_STATE_QUEUED);
  report("a", "held");  // the holder's own result still counts
  ASSERT_EQ(results().size(), 1u);
  EXPECT_EQ(results()[0].items(0).value(), "\x31");
  EXPECT_EQ(results()[0].worker(), "w-a");
}

TEST_F(SchedulerTest, AWatchFromASecondLiveSessionDoesNotTakeTheResultAway) {
  submit({T("t1"), T("t2")});  // no worker yet: queued
  scheduler_->open_session(2);
  scheduler_->open_session(3);
  google::protobuf::RepeatedPtrField<std::string> ids;
  *ids.Add() = "t1";
  *ids.Add() = "t2";
  scheduler_->watch(2, ids, out_);
  scheduler_->watch(2, ids, out_);  // twice: still one copy each
  scheduler_->watch(3, ids, out_);
  EXPECT_EQ(scheduler_->stats().sessions(), 3u);
  scheduler_->close_session(3);  // a watcher that left gets nothing; others still do
  EXPECT_EQ(scheduler_->stats().sessions(), 2u);
  hello("a", {"square"}, 2);
  take_sent("a");
  out_.clear();
  report("a", "t1");
  report("a", "t2");
  for (SessionId s : {kSession, SessionId{2}}) {
    auto rs = results(s);
    ASSERT_EQ(rs.size(), 2u) << "session " << s;
    EXPECT_EQ(rs[0].id(), "t1");
    EXPECT_EQ(rs[1].id(), "t2");
    EXPECT_EQ(rs[0].values(), rs[1].values());
  }
  EXPECT_TRUE(results(3).empty());
}

// Found by review: a watcher's entry stayed after its session closed, so a task that
// waits long collected one per session that ever watched it (and each new watch scanned
// them all). Closing a session drops what it watched.
TEST_F(SchedulerTest, AClosedWatcherLeavesNoEntryBehind) {
  submit({T("t1")});  // no worker: it waits
  google::protobuf::RepeatedPtrField<std::string> ids;
  *ids.Add() = "t1";
  for (SessionId s = 2; s < 1002; ++s) {
    scheduler_->open_session(s);
    scheduler_->watch(s, ids, out_);
    scheduler_->watch(s, ids, out_);  // twice: one entry
    EXPECT_EQ(scheduler_->watcher_entries(), 1u);
    scheduler_->close_session(s);
    EXPECT_EQ(scheduler_->watcher_entries(), 0u);
  }
  scheduler_->open_session(2000);
  scheduler_->watch(2000, ids, out_);
  hello("a");
  take_sent("a");
  out_.clear();
  report("a", "t1");
  EXPECT_EQ(results(kSession).size(), 1u);
  EXPECT_EQ(results(2000).size(), 1u);
  EXPECT_EQ(scheduler_->watcher_entries(), 0u);
}

// A session watching a task another live session submitted, which resubmits it once
// that session is gone, waits for it once: one result, and a half-close ends it then.
TEST_F(SchedulerTest, AWatcherThatTakesATaskOverGetsItsResultOnce) {
  scheduler_->open_session(2);
  scheduler_->open_session(3);
  submit({T("t1")}, 2);
  google::protobuf::RepeatedPtrField<std::string> ids;
  *ids.Add() = "t1";
  scheduler_->watch(3, ids, out_);
  scheduler_->close_session(2);
  submit({T("t1")}, 3);  // the submitter is gone: 3 takes the task over
  scheduler_->half_close_session(3, out_);
  out_.clear();
  hello("a");
  take_sent("a");
  report("a", "t1");
  EXPECT_EQ(results(3).size(), 1u);
  EXPECT_THAT(out_.sessions_to_close, ElementsAre(3u));
}

// Each session that waits counts the task as pending: a half-closed watcher is closed
// only once the tasks it watched ended, and the submitter keeps its own count.
TEST_F(SchedulerTest, AHalfClosedWatcherClosesWhenItsWatchedTasksEnd) {
  submit({T("t1")});
  scheduler_->open_session(2);
  google::protobuf::RepeatedPtrField<std::string> ids;
  *ids.Add() = "t1";
  scheduler_->watch(2, ids, out_);
  scheduler_->half_close_session(2, out_);
  EXPECT_TRUE(out_.sessions_to_close.empty());
  hello("a");
  out_.clear();
  report("a", "t1");
  EXPECT_THAT(out_.sessions_to_close, ElementsAre(SessionId{2}));
  EXPECT_EQ(results(kSession).size(), 1u);
}

TEST_F(SchedulerTest, WatchResendsKnownResultsAndNamesUnknownIds) {
  hello("a");
  submit({T("t1"), T("t2")});
  scheduler_->close_session(kSession);
  report("a", "t1");
  out_.clear();
  scheduler_->open_session(2);
  google::protobuf::RepeatedPtrField<std::string> ids;
  *ids.Add() = "t1";
  *ids.Add() = "t2";
  *ids.Add() = "lost";
  scheduler_->watch(2, ids, out_);
  auto rs = results(2);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].id(), "t1");
  bool saw_unknown = false;
  for (auto& send : out_.to_sessions) {
    if (send.message.has_unknown()) {
      saw_unknown = true;
      EXPECT_THAT(send.message.unknown().ids(), ElementsAre("lost"));
    }
  }
  EXPECT_TRUE(saw_unknown);
  out_.clear();
  report("a", "t2");  // pending one arrives on the watching session
  ASSERT_EQ(results(2).size(), 1u);
  EXPECT_EQ(results(2)[0].id(), "t2");
}

TEST_F(SchedulerTest, ResubmittingKnownIdIsNoOp) {
  hello("a");
  submit({T("t1")});
  submit({T("t1")});
  EXPECT_THAT(take_sent("a"), ElementsAre("t1"));
  EXPECT_THAT(out_.to_sessions.back().message.accepted().ids(), ElementsAre("t1"));
  EXPECT_EQ(scheduler_->stats().submitted(), 1u);
  report("a", "t1");
  out_.clear();
  submit({T("t1")});  // after it ended: accepted again and its result re-sent
  EXPECT_EQ(results().size(), 1u);
  EXPECT_EQ(scheduler_->stats().submitted(), 1u);
}

TEST_F(SchedulerTest, RejectsWithResourceExhaustedWhenFull) {
  SchedulerOptions options = options_;
  options.max_queued = 2;
  reset(options);
  submit({T("t1"), T("t2"), T("t3")});
  ASSERT_EQ(out_.to_sessions.size(), 2u);
  EXPECT_THAT(out_.to_sessions[0].message.accepted().ids(), ElementsAre("t1", "t2"));
  const auto& rejected = out_.to_sessions[1].message.rejected();
  EXPECT_THAT(rejected.ids(), ElementsAre("t3"));
  EXPECT_EQ(rejected.error().kind(), shoal::v1::ERROR_KIND_RESOURCE_EXHAUSTED);
  // What a client tells its user: how full, and the limit.
  EXPECT_EQ(scheduler_->stats().queued(), 2u);
  EXPECT_EQ(scheduler_->stats().max_queued(), 2u);
  hello("a");  // room again once t1 runs
  out_.clear();
  submit({T("t3")});
  EXPECT_THAT(out_.to_sessions[0].message.accepted().ids(), ElementsAre("t3"));
}

// The arguments of tasks not done (queued or running) are bounded too (--task-memory-mb):
// a task that would take them past it is refused as at --max-queued, and so are the
// batch's later ones (a smaller one does not overtake it); room comes when a task ends,
// not when it starts (a running task's arguments are kept for its retry).
TEST_F(SchedulerTest, RejectsWhenTheArgumentsOfTasksNotDoneFillTheBound) {
  SchedulerOptions options = options_;
  options.max_task_bytes = 100;
  reset(options);
  submit({T("t1").args(std::string(60, 'a')), T("t2").args(std::string(30, 'b')),
          T("t3").args(std::string(20, 'c')), T("t4").args(std::string(5, 'd'))});
  ASSERT_EQ(out_.to_sessions.size(), 2u);
  EXPECT_THAT(out_.to_sessions[0].message.accepted().ids(), ElementsAre("t1", "t2"));
  const auto& rejected = out_.to_sessions[1].message.rejected();
  EXPECT_THAT(rejected.ids(), ElementsAre("t3", "t4"));
  EXPECT_EQ(rejected.error().kind(), shoal::v1::ERROR_KIND_RESOURCE_EXHAUSTED);
  EXPECT_EQ(rejected.error().message(),
            "the broker holds 90 bytes of arguments of tasks not done yet, and 20 more would "
            "take it past its limit of 100 (--task-memory-mb); submit again later");
  EXPECT_EQ(scheduler_->stats().task_bytes(), 90u);
  EXPECT_EQ(scheduler_->stats().max_task_bytes(), 100u);

  hello("a");  // t1 runs: its arguments stay
  EXPECT_THAT(take_sent("a"), ElementsAre("t1"));
  out_.clear();
  submit({T("t3").args(std::string(20, 'c'))});
  EXPECT_TRUE(out_.to_sessions[1].message.has_rejected());
  EXPECT_EQ(scheduler_->stats().task_bytes(), 90u);

  report("a", "t1");  // t1 ends: room for t3
  EXPECT_EQ(scheduler_->stats().task_bytes(), 30u);
  out_.clear();
  submit({T("t3").args(std::string(20, 'c'))});
  EXPECT_THAT(out_.to_sessions[0].message.accepted().ids(), ElementsAre("t3"));
  EXPECT_EQ(scheduler_->stats().task_bytes(), 50u);

  // Cancelled while queued: its arguments go with it.
  scheduler_->cancel("t3", /*even_if_unknown=*/false, out_);
  EXPECT_EQ(scheduler_->stats().task_bytes(), 30u);
}

// A broker that holds no arguments takes a task of any size it allows (the flag's floor is
// one task of --max-message-bytes, but a bound below it must not refuse it for ever).
TEST_F(SchedulerTest, AnEmptyBrokerTakesATaskOverTheArgumentBound) {
  SchedulerOptions options = options_;
  options.max_task_bytes = 10;
  reset(options);
  submit({T("big").args(std::string(500, 'a')), T("next").args("x")});
  EXPECT_THAT(out_.to_sessions[0].message.accepted().ids(), ElementsAre("big"));
  EXPECT_THAT(out_.to_sessions[1].message.rejected().ids(), ElementsAre("next"));
}

// Queues named by tasks or workers go once they have neither (a client naming queue
// after queue grew the broker for good), but not before, and "default" stays.
TEST_F(SchedulerTest, IdleQueuesAreForgottenAndBusyOnesKept) {
  auto names = [&] {
    std::vector<std::string> out;
    shoal::v1::ListQueuesResponse queues = scheduler_->list_queues();
    for (const auto& q : queues.queues()) out.push_back(q.name());
    return out;
  };
  hello("a", {"square"}, 1, {"served"});
  submit({T("waits").queue("unserved"), T("done").queue("served"), T("runs").queue("served")});
  for (int i = 0; i < 100; ++i) {  // queues named once and cancelled
    submit({T("c" + std::to_string(i)).queue("q" + std::to_string(i))});
    scheduler_->cancel("c" + std::to_string(i), /*even_if_unknown=*/false, out_);
  }
  submit({T("d")});  // "default", idle once cancelled, is kept all the same
  scheduler_->cancel("d", /*even_if_unknown=*/false, out_);
  take_sent("a");
  report("a", "done");  // "runs" goes to a now
  heartbeat("a");
  tick_after(10'001);
  EXPECT_THAT(names(), ElementsAre("default", "served", "unserved"));
  scheduler_->cancel("waits", /*even_if_unknown=*/false, out_);
  tick_after(10'001);
  EXPECT_THAT(names(), ElementsAre("default", "served"));  // a still serves it
  submit({T("again").queue("q7")});  // a forgotten name works as before
  EXPECT_EQ(get_result("again").state(), shoal::v1::TASK_STATE_QUEUED);
  EXPECT_THAT(names(), ElementsAre("default", "q7", "served"));
}

TEST_F(SchedulerTest, RejectsInvalidTasksAndCountsThem) {
  submit({T("p").priority(10), T("n").name(""), T("r").max_retries(-5),
          T("q").queue(std::string(257, 'q')), T("big").args(std::string(1025, 'x')), T(""),
          T("ok"), T("ok0").max_retries(0)});
  std::vector<std::string> rejected;
  for (auto& send : out_.to_sessions) {
    if (!send.message.has_rejected()) continue;
    EXPECT_EQ(send.message.rejected().error().kind(), shoal::v1::ERROR_KIND_INVALID);
    rejected.push_back(send.message.rejected().ids(0));
  }
  EXPECT_THAT(rejected, ElementsAre("p", "n", "r", "q", "big", ""));
  EXPECT_THAT(out_.to_sessions[0].message.accepted().ids(), ElementsAre("ok", "ok0"));
  EXPECT_EQ(scheduler_->stats().bad_client_messages(), 6u);
  EXPECT_EQ(scheduler_->stats().submitted(), 2u);
}

// Found by review: each invalid task had its own Rejected message (a few hundred bytes
// in memory for a 2-byte task on the wire), so one batch of empty tasks became millions
// of messages. Now one per problem, in the order first met, all its ids in it.
TEST_F(SchedulerTest, InvalidTasksOfABatchShareOneRejectedPerProblem) {
  std::vector<TaskSpec> specs;
  for (int i = 0; i < 1000; ++i) {
    specs.push_back(T(""));
    specs.push_back(T("p" + std::to_string(i)).priority(10 + i));
    specs.push_back(T("ok" + std::to_string(i)));
  }
  submit(specs);
  ASSERT_EQ(out_.to_sessions.size(), 3u);
  EXPECT_EQ(out_.to_sessions[0].message.accepted().ids_size(), 1000);
  const shoal::v1::Rejected& empty = out_.to_sessions[1].message.rejected();
  EXPECT_EQ(empty.ids_size(), 1000);
  EXPECT_EQ(empty.error().kind(), shoal::v1::ERROR_KIND_INVALID);
  EXPECT_EQ(empty.error().message(),
            "task id is empty; 999 more tasks of the batch have the same problem");
  const shoal::v1::Rejected& priority = out_.to_sessions[2].message.rejected();
  ASSERT_EQ(priority.ids_size(), 1000);
  EXPECT_EQ(priority.ids(0), "p0");
  EXPECT_EQ(priority.ids(999), "p999");
  EXPECT_EQ(priority.error().message(),
            "task 'p0': priority 10 is outside 0..9; 999 more tasks of the batch have the same "
            "problem");
  EXPECT_EQ(scheduler_->stats().bad_client_messages(), 2000u);
}

// Found by review: a rejection quoted the client's id as it was, so an id holding a
// newline and escape codes forged lines in a CLI's output or a log. The message names
// it escaped and shortened; Rejected.ids has it whole.
TEST_F(SchedulerTest, ARejectionQuotesTheIdOnOneLine) {
  const std::string id = "a\nFAKE: all good\x1b[2J" + std::string(100, 'x');
  submit({T(id).priority(10)});
  ASSERT_EQ(out_.to_sessions.size(), 2u);
  const shoal::v1::Rejected& rejected = out_.to_sessions[1].message.rejected();
  EXPECT_THAT(rejected.ids(), ElementsAre(id));
  EXPECT_EQ(rejected.error().message(), "task 'a\\nFAKE: all good\\x1b[2J" +
                                            std::string(64 - 20, 'x') +
                                            "\u2026': priority 10 is outside 0..9");
}

// Found by fuzzing (tests/fuzz/broker_client_requests_fuzz.cc): a task whose name is
// longer than any worker may register (the gateway drops such hellos) was accepted and
// waited forever.
TEST_F(SchedulerTest, RejectsATaskNameNoWorkerCouldRegister) {
  submit({T("long").name(std::string(1025, 'n')), T("longest").name(std::string(1024, 'n'))});
  ASSERT_EQ(out_.to_sessions.size(), 2u);
  EXPECT_THAT(out_.to_sessions[0].message.accepted().ids(), ElementsAre("longest"));
  const shoal::v1::Rejected& rejected = out_.to_sessions[1].message.rejected();
  EXPECT_THAT(rejected.ids(), ElementsAre("long"));
  EXPECT_EQ(rejected.error().kind(), shoal::v1::ERROR_KIND_INVALID);
  EXPECT_EQ(rejected.error().message(), "task 'long': its name has 1025 bytes, more than 1024");
  EXPECT_EQ(scheduler_->stats().bad_client_messages(), 1u);
}

// Found by review: ids had no bound, so a client could make the broker keep and echo ids
// of any size (and answers past the 4 MiB message promise). Now at most 1,024 bytes, and
// what is echoed of a longer one is cut to that.
TEST_F(SchedulerTest, AnIdPastItsLimitIsRejectedAndEchoedCut) {
  const std::string long_id(5000, 'i');
  submit({T(long_id), T(std::string(1024, 'j'))});
  ASSERT_EQ(out_.to_sessions.size(), 2u);
  EXPECT_THAT(out_.to_sessions[0].message.accepted().ids(), ElementsAre(std::string(1024, 'j')));
  const shoal::v1::Rejected& rejected = out_.to_sessions[1].message.rejected();
  EXPECT_THAT(rejected.ids(), ElementsAre(long_id.substr(0, 1024)));
  EXPECT_EQ(rejected.error().kind(), shoal::v1::ERROR_KIND_INVALID);
  EXPECT_EQ(rejected.error().message(), "the task id has 5000 bytes, more than 1024");
  out_.clear();
  google::protobuf::RepeatedPtrField<std::string> ids;
  *ids.Add() = long_id;
  scheduler_->watch(kSession, ids, out_);
  ASSERT_EQ(out_.to_sessions.size(), 1u);
  EXPECT_THAT(out_.to_sessions[0].message.unknown().ids(), ElementsAre(long_id.substr(0, 1024)));
  out_.clear();
  // A cancel of such an id is no promise the broker could keep: nothing is remembered.
  EXPECT_FALSE(scheduler_->cancel(long_id, /*even_if_unknown=*/true, out_).cancelled());
  EXPECT_EQ(scheduler_->stats().results_retained(), 0u);
}

// Found by review: a result in none of TaskResult's forms (or with the wrong number of
// items) counted as a success the client then failed to read. It now ends the task with a
// SERIALIZATION failure naming the worker, counted as a bad worker frame.
TEST_F(SchedulerTest, AMalformedResultFailsItsTaskNamingTheWorker) {
  hello("a", {"square"}, /*slots=*/2);
  submit({T("empty"), T("chunk").items(3)});
  ASSERT_EQ(take_sent("a").size(), 2u);
  out_.clear();
  shoal::v1::WorkerMessage msg;
  msg.set_version(1);
  shoal::v1::TaskResult* empty = msg.mutable_results()->add_results();
  empty->set_id("empty");
  empty->set_lease(sent_["empty"].lease());
  shoal::v1::TaskResult* chunk = msg.mutable_results()->add_results();
  chunk->set_id("chunk");
  chunk->set_lease(sent_["chunk"].lease());
  chunk->add_items()->set_value("\x01");  // one outcome for three calls
  scheduler_->worker_message("a", &msg, out_);
  auto rs = results();
  ASSERT_EQ(rs.size(), 2u);
  for (const auto& r : rs) {
    EXPECT_EQ(r.failure().kind(), shoal::v1::ERROR_KIND_SERIALIZATION) << r.id();
    EXPECT_TRUE(r.items().empty());
  }
  EXPECT_EQ(rs[0].failure().message(),
            "worker 'w-a' sent a malformed result: no values, items or failure");
  EXPECT_EQ(rs[1].failure().message(),
            "worker 'w-a' sent a malformed result: 1 items for a task of 3 calls");
  EXPECT_EQ(scheduler_->stats().bad_worker_frames(), 2u);
  EXPECT_EQ(scheduler_->stats().failed(), 2u);
}

TEST_F(SchedulerTest, GetResultWaitsForTheResultOrItsTimeout) {
  hello("a");
  submit({T("t1"), T("t2")});
  out_.clear();
  scheduler_->get_result("t1", 500, 11, out_);
  scheduler_->get_result("t2", 500, 12, out_);
  EXPECT_TRUE(out_.replies.empty());
  report("a", "t1");
  ASSERT_EQ(out_.replies.size(), 1u);
  EXPECT_EQ(out_.replies[0].token, 11u);
  EXPECT_EQ(out_.replies[0].response.state(), shoal::v1::TASK_STATE_DONE);
  out_.clear();
  tick_after(499);
  EXPECT_TRUE(out_.replies.empty());
  EXPECT_EQ(scheduler_->next_deadline_ms(), clock_.now_ms() + 1);
  tick_after(1);
  ASSERT_EQ(out_.replies.size(), 1u);
  EXPECT_EQ(out_.replies[0].token, 12u);
  EXPECT_EQ(out_.replies[0].response.state(), shoal::v1::TASK_STATE_RUNNING);
}

// Many GetResult calls on one task, some forgotten (their clients went away), some timed
// out, the rest answered when it ends: each call is answered once, or not at all once
// forgotten, and none is left waiting. (Found by review: each removal scanned the task's
// list of calls, O(k^2) for k calls; that is only visible in time, not asserted here.)
TEST_F(SchedulerTest, ManyGetResultCallsOnOneTaskAreEachAnsweredOnce) {
  submit({T("t")});  // no worker yet: it waits
  constexpr uint64_t kCalls = 3000;
  for (uint64_t token = 1; token <= kCalls; ++token) {
    ASSERT_TRUE(scheduler_->get_result("t", token % 2 == 1 ? 1000 : 60'000, token, out_));
  }
  for (uint64_t token = 3; token <= kCalls; token += 3) scheduler_->forget_waiter(token);
  EXPECT_EQ(scheduler_->waiting_results(), kCalls - kCalls / 3);
  out_.clear();
  tick_after(1000);  // the odd ones time out, but those forgotten
  std::set<uint64_t> timed_out;
  for (const ResultReply& r : out_.replies) {
    EXPECT_EQ(r.response.state(), shoal::v1::TASK_STATE_QUEUED);
    EXPECT_TRUE(timed_out.insert(r.token).second) << r.token;
    EXPECT_TRUE(r.token % 2 == 1 && r.token % 3 != 0) << r.token;
  }
  EXPECT_EQ(timed_out.size(), kCalls / 2 - kCalls / 6);
  out_.clear();
  hello("a");
  ASSERT_EQ(take_sent("a"), std::vector<std::string>{"t"});
  report("a", "t");
  std::set<uint64_t> answered;
  for (const ResultReply& r : out_.replies) {
    EXPECT_EQ(r.response.state(), shoal::v1::TASK_STATE_DONE);
    EXPECT_TRUE(answered.insert(r.token).second) << r.token;
    EXPECT_TRUE(r.token % 2 == 0 && r.token % 3 != 0) << r.token;
  }
  EXPECT_EQ(answered.size(), kCalls / 2 - kCalls / 6);
  EXPECT_EQ(scheduler_->waiting_results(), 0u);
}

TEST_F(SchedulerTest, HalfClosedSessionEndsOnceItsResultsAreDelivered) {
  hello("a");
  submit({T("t1")});
  scheduler_->half_close_session(kSession, out_);
  EXPECT_TRUE(out_.sessions_to_close.empty());
  report("a", "t1");
  ASSERT_EQ(results().size(), 1u);
  EXPECT_THAT(out_.sessions_to_close, ElementsAre(kSession));
  out_.clear();
  scheduler_->open_session(2);
  scheduler_->half_close_session(2, out_);  // nothing pending: ends at once
  EXPECT_THAT(out_.sessions_to_close, ElementsAre(2u));
}

// A client sending thousands of distinct names (typos in a loop, names with ids in
// them) must not leave the broker slower or bigger for good: the queue scanned one lane
// per name ever seen on every dispatch (W1 fell from 325 k to 4 k tasks/s after 50,000
// unknown names), and every name was kept for the broker's life.
TEST_F(SchedulerTest, NamesThatCameAndWentLeaveNoLaneOrNameBehind) {
  hello("a");
  for (int batch = 0; batch < 30; ++batch) {
    std::vector<TaskSpec> specs;
    for (int i = 0; i < 100; ++i) {
      std::string n = std::to_string(batch * 100 + i);
      specs.push_back(T("t" + n).name("unknown." + n));
    }
    submit(specs);
    for (const auto& r : results()) {
      ASSERT_EQ(r.failure().kind(), shoal::v1::ERROR_KIND_NOT_REGISTERED) << r.id();
    }
    out_.clear();
  }
  EXPECT_GE(scheduler_->interned_names(), 3000u);  // their results are retained
  tick_after(options_.result_ttl_ms + 1);          // and expire (worker a is lost too)
  EXPECT_LT(scheduler_->interned_names(), 10u);
  // Names come back in use (ids of forgotten names are reused).
  hello("a");
  submit({T("x1")});
  ASSERT_EQ(take_sent("a"), std::vector<std::string>{"x1"});
  report("a", "x1");
  ASSERT_EQ(results().size(), 1u);
  EXPECT_EQ(results()[0].worker(), "w-a");
}

// Found by review: a cancelled task leaves its entry behind in its lane, dropped only
// when it reaches the lane's head; behind a head that never moves (no worker serves the
// queue yet) the entries of submitted and cancelled tasks piled up for ever. They are now
// dropped once they outnumber the queue's live tasks 2:1.
TEST_F(SchedulerTest, CancelledTasksBehindAHeadThatNeverMovesLeaveNoEntriesBehind) {
  submit({T("head")});
  for (int i = 0; i < 1000; ++i) {
    std::string id = "c" + std::to_string(i);
    submit({T(id)});
    ASSERT_TRUE(scheduler_->cancel(id, /*even_if_unknown=*/false, out_).cancelled());
    out_.clear();
  }
  EXPECT_LE(scheduler_->queue_entries("default"), 3u * 1 + 64 + 1);
  hello("a");  // the head and nothing else runs
  EXPECT_EQ(take_sent("a"), std::vector<std::string>{"head"});
  EXPECT_EQ(scheduler_->list_queues().queues(0).depth(), 0u);
}

// A lane dropped while its only task ran is made anew when the task is queued again:
// with its count of the workers that can run it, so that the task runs elsewhere while
// one can, and fails NOT_REGISTERED once none is left (a wrong count, here one that
// wrapped below zero, let it wait for ever).
TEST_F(SchedulerTest, ATaskRequeuedAfterItsLaneWasDroppedCountsItsWorkers) {
  hello("a");
  submit({T("t1")});
  ASSERT_EQ(take_sent("a"), std::vector<std::string>{"t1"});
  hello("b");
  hello("x", {"other"});  // serves the queue, cannot run t1
  for (int s = 0; s < 11; ++s) {  // the lane sweep runs every 10 s
    for (const char* peer : {"a", "b", "x"}) heartbeat(peer);
    tick_after(1'000);
  }
  out_.clear();
  scheduler_->worker_disconnected("a", out_);
  EXPECT_TRUE(results().empty());
  EXPECT_EQ(take_sent("b"), std::vector<std::string>{"t1"});
  out_.clear();
  scheduler_->worker_disconnected("b", out_);
  ASSERT_EQ(results().size(), 1u);
  EXPECT_EQ(results()[0].failure().kind(), shoal::v1::ERROR_KIND_NOT_REGISTERED);
}

}  // namespace
}  // namespace shoal::broker
