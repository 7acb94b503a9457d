// Deterministic tests of the scheduling rules (API.md §8 "Remote semantics") with a
// fake clock: each test drives events in and checks what users would see come out.
#include "broker/scheduler.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoal::broker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using shoal::v1::ErrorKind;
using shoal::v1::Task;
using shoal::v1::TaskResult;

// A task to submit; setters chain: T("t1").priority(5).
struct TaskSpec {
  std::string id_;
  std::string name_ = "square";
  std::string queue_;
  uint32_t priority_ = 0;
  int32_t max_retries_ = -1;
  uint64_t time_limit_ms_ = 0;
  uint32_t items_ = 0;
  std::string args_ = "\x91\x07";
  TaskSpec& name(std::string v) { name_ = std::move(v); return *this; }
  TaskSpec& queue(std::string v) { queue_ = std::move(v); return *this; }
  TaskSpec& priority(uint32_t v) { priority_ = v; return *this; }
  TaskSpec& max_retries(int32_t v) { max_retries_ = v; return *this; }
  TaskSpec& time_limit_ms(uint64_t v) { time_limit_ms_ = v; return *this; }
  TaskSpec& items(uint32_t v) { items_ = v; return *this; }
  TaskSpec& args(std::string v) { args_ = std::move(v); return *this; }
};
TaskSpec T(std::string id) { TaskSpec t; t.id_ = std::move(id); return t; }

class SchedulerTest : public ::testing::Test {
 protected:
  static constexpr SessionId kSession = 1;

  SchedulerTest() { reset(SchedulerOptions{.heartbeat_ms = 1000, .liveness = 3,
                                           .result_ttl_ms = 60'000, .max_queued = 1000,
                                           .max_message_bytes = 1024, .default_max_retries = 3,
                                           .time_limit_grace_ms = 5000, .broker_id = "b1"}); }

  void reset(SchedulerOptions options) {
    options_ = options;
    store_ = std::make_unique<InMemoryTaskStore>();
    scheduler_ = std::make_unique<Scheduler>(options, Scheduler::Deps{&clock_, store_.get()});
    scheduler_->open_session(kSession);
  }

  // Submits tasks on kSession; returns the actions it caused.
  void submit(const std::vector<TaskSpec>& specs, SessionId s = kSession) {
    google::protobuf::RepeatedPtrField<Task> tasks;
    for (const TaskSpec& spec : specs) {
      Task* t = tasks.Add();
      t->set_id(spec.id_);
      t->set_name(spec.name_);
      t->set_queue(spec.queue_);
      t->set_priority(spec.priority_);
      t->set_max_retries(spec.max_retries_);
      t->set_time_limit_ms(spec.time_limit_ms_);
      t->set_items(spec.items_);
      t->set_args(spec.args_);
    }
    scheduler_->submit(s, &tasks, out_);
  }

  void hello(const std::string& peer, std::vector<std::string> tasks = {"square"},
             uint32_t slots = 1, std::vector<std::string> queues = {}) {
    shoal::v1::WorkerMessage msg;
    msg.set_version(1);
    auto* h = msg.mutable_hello();
    h->set_name("w-" + peer);
    for (auto& t : tasks) h->add_tasks(t);
    for (auto& q : queues) h->add_queues(q);
    h->set_slots(slots);
    h->set_prefetch(1);
    h->set_credit(slots);
    scheduler_->worker_message(peer, &msg, out_);
  }

  void heartbeat(const std::string& peer) {
    shoal::v1::WorkerMessage msg;
    msg.set_version(1);
    msg.mutable_heartbeat();
    scheduler_->worker_message(peer, &msg, out_);
  }

  void bye(const std::string& peer) {
    shoal::v1::WorkerMessage msg;
    msg.set_version(1);
    msg.mutable_bye()->set_reason("SIGTERM");
    scheduler_->worker_message(peer, &msg, out_);
  }

  // The worker reports a result for `id` and grants one more credit.
  void report(const std::string& peer, const std::string& id, const std::string& value = "\x31",
              ErrorKind failure = shoal::v1::ERROR_KIND_OTHER, bool failed = false) {
    shoal::v1::WorkerMessage msg;
    msg.set_version(1);
    TaskResult* r = msg.mutable_results()->add_results();
    r->set_id(id);
    if (failed) {
      r->mutable_failure()->set_kind(failure);
      r->mutable_failure()->set_message("child killed by SIGKILL");
    } else {
      r->add_items()->set_value(value);
    }
    msg.mutable_results()->set_credit(1);
    scheduler_->worker_message(peer, &msg, out_);
  }

  // Ids of the tasks sent to `peer` since the last take; clears the actions.
  std::vector<std::string> take_sent(const std::string& peer) {
    std::vector<std::string> ids;
    for (auto& send : out_.to_workers) {
      if (send.peer != peer || !send.message.has_tasks()) continue;
      for (auto& t : send.message.tasks().tasks()) {
        ids.push_back(t.id());
        sent_[t.id()] = t;
      }
    }
    return ids;
  }

  // Results delivered to session `s` in the current actions.
  std::vector<TaskResult> results(SessionId s = kSession) {
    std::vector<TaskResult> rs;
    for (auto& send : out_.to_sessions) {
      if (send.session == s && send.message.has_results()) {
        for (auto& r : send.message.results().results()) rs.push_back(r);
      }
    }
    return rs;
  }

  // Kinds of the frames sent to `peer`, e.g. "welcome", "tasks", "reconnect".
  std::vector<std::string> frames(const std::string& peer) {
    std::vector<std::string> kinds;
    for (auto& send : out_.to_workers) {
      if (send.peer != peer) continue;
      kinds.push_back(send.message.GetDescriptor()
                          ->FindFieldByNumber(int(send.message.body_case()))
                          ->name());
    }
    return kinds;
  }

  shoal::v1::GetResultResponse get_result(const std::string& id) {
    Actions out;
    scheduler_->get_result(id, 0, 7, out);
    EXPECT_EQ(out.replies.size(), 1u);
    return out.replies.empty() ? shoal::v1::GetResultResponse{} : out.replies[0].response;
  }

  void tick_after(int64_t ms) {
    clock_.advance_ms(ms);
    scheduler_->tick(out_);
  }

  SchedulerOptions options_;
  FakeClock clock_;
  std::unique_ptr<InMemoryTaskStore> store_;
  std::unique_ptr<Scheduler> scheduler_;
  Actions out_;
  std::map<std::string, Task> sent_;
};

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

TEST_F(SchedulerTest, BusyWorkerHoldsNoneSoQueuedTaskCanBeCancelled) {
  hello("a");  // one slot, prefetch 1
  submit({T("t1"), T("t2")});
  EXPECT_THAT(take_sent("a"), ElementsAre("t1"));
  out_.clear();
  auto cancel = scheduler_->cancel("t2", out_);
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
  auto running = scheduler_->cancel("t1", out_);
  EXPECT_FALSE(running.cancelled());
  EXPECT_EQ(running.state(), shoal::v1::TASK_STATE_RUNNING);
  report("a", "t1");
  auto done = scheduler_->cancel("t1", out_);
  EXPECT_FALSE(done.cancelled());
  EXPECT_EQ(done.state(), shoal::v1::TASK_STATE_DONE);
  auto unknown = scheduler_->cancel("nope", out_);
  EXPECT_FALSE(unknown.cancelled());
  EXPECT_EQ(unknown.state(), shoal::v1::TASK_STATE_UNKNOWN);
}

TEST_F(SchedulerTest, RequeuesWhenWorkerMissesHeartbeats) {
  hello("a");
  submit({T("t1")});
  EXPECT_THAT(take_sent("a"), ElementsAre("t1"));
  hello("b");
  for (int i = 0; i < 3; ++i) {  // b stays alive, a is silent
    clock_.advance_ms(1000);
    heartbeat("b");
  }
  out_.clear();
  tick_after(1);
  EXPECT_THAT(take_sent("b"), ElementsAre("t1"));
  EXPECT_EQ(sent_["t1"].attempt(), 1u);
  EXPECT_EQ(scheduler_->stats().retried(), 1u);
  EXPECT_EQ(scheduler_->stats().workers(), 1u);
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

TEST_F(SchedulerTest, ResultKeptUntilDeliveredThenForTtl) {
  hello("a");
  submit({T("t1")});
  scheduler_->close_session(kSession);  // the client went away
  report("a", "t1");
  tick_after(10 * 60'000);  // far past the ttl: never delivered, so still kept
  EXPECT_EQ(scheduler_->stats().results_retained(), 1u);
  auto first = get_result("t1");  // delivers it: ttl starts now
  EXPECT_EQ(first.state(), shoal::v1::TASK_STATE_DONE);
  EXPECT_EQ(first.result().items(0).value(), "\x31");
  tick_after(59'999);
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_DONE);
  tick_after(2);
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_UNKNOWN);
  EXPECT_EQ(scheduler_->stats().results_retained(), 0u);
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

TEST_F(SchedulerTest, LostWorkerComingBackResolvesOnceAndIsAskedToReconnect) {
  hello("a");
  submit({T("t1")});
  take_sent("a");
  hello("b");
  for (int i = 0; i < 4; ++i) {
    clock_.advance_ms(1000);
    heartbeat("b");
  }
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
  hello("a");  // room again once t1 runs
  out_.clear();
  submit({T("t3")});
  EXPECT_THAT(out_.to_sessions[0].message.accepted().ids(), ElementsAre("t3"));
}

TEST_F(SchedulerTest, RejectsInvalidTasksAndCountsThem) {
  submit({T("p").priority(10), T("n").name(""),
          T("big").args(std::string(1025, 'x')), T(""), T("ok")});
  std::vector<std::string> rejected;
  for (auto& send : out_.to_sessions) {
    if (!send.message.has_rejected()) continue;
    EXPECT_EQ(send.message.rejected().error().kind(), shoal::v1::ERROR_KIND_INVALID);
    rejected.push_back(send.message.rejected().ids(0));
  }
  EXPECT_THAT(rejected, ElementsAre("p", "n", "big", ""));
  EXPECT_THAT(out_.to_sessions[0].message.accepted().ids(), ElementsAre("ok"));
  EXPECT_EQ(scheduler_->stats().bad_client_messages(), 4u);
  EXPECT_EQ(scheduler_->stats().submitted(), 1u);
}

TEST_F(SchedulerTest, ChunkIsOneSchedulingUnit) {
  hello("a");
  submit({T("chunk").items(100), T("t2")});
  EXPECT_THAT(take_sent("a"), ElementsAre("chunk"));
  EXPECT_EQ(sent_["chunk"].items(), 100u);
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
  shoal::v1::WorkerMessage msg;  // same name, new connection, still running t1
  msg.set_version(1);
  msg.mutable_hello()->set_name("w-a");
  msg.mutable_hello()->add_tasks("square");
  msg.mutable_hello()->set_slots(1);
  msg.mutable_hello()->set_prefetch(1);
  msg.mutable_hello()->add_running("t1");
  scheduler_->worker_message("a2", &msg, out_);
  EXPECT_TRUE(take_sent("a2").empty());
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_RUNNING);
  report("a2", "t1");
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_DONE);
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

}  // namespace
}  // namespace shoal::broker
