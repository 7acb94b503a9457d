// The time-limit backstop of prefetched tasks. A worker runs the tasks it holds in the
// order it received them, at most `slots` at once (worker.proto), so a task held behind
// others starts only when enough of those ahead of it have ended: the broker counts its
// limit from the moment its worker's results say a process is free for it.
#include "scheduler_fixture.h"
#include "tests/testutil/temp_dir.h"

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
  // A hello from `peer` (named w-`peer`) with `slots` x `prefetch`, listing `running` as
  // the tasks it still runs, in its run order (a reconnect, or after a broker restart).
  void hello_running(const std::string& peer, uint32_t slots, uint32_t prefetch,
                     const std::vector<std::string>& running) {
    shoal::v1::WorkerMessage msg;
    msg.set_version(1);
    auto* h = msg.mutable_hello();
    h->set_name("w-" + peer);
    h->add_tasks("square");
    h->set_slots(slots);
    h->set_prefetch(prefetch);
    h->set_credit(uint32_t(slots * prefetch - running.size()));
    for (const std::string& id : running) h->add_running(id);
    scheduler_->worker_message(peer, &msg, out_);
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

// Found by review (of 42ff903): a result from a worker that is not the task's holder (one
// declared lost, here by its connection closing; the same with a worker whose backstop
// fired and which finishes late) ended the task and freed a process of the HOLDER, which
// still runs its own copy (nothing tells it the task ended). The task waiting behind that
// copy started its time limit at once and was taken for lost while it waited. The
// holder's copy is now a phantom that keeps its process until the holder reports it.
TEST_F(SchedulerTimeLimitTest, ANonHoldersResultFreesNoProcessOfTheHolder) {
  hello("a");
  submit({T("long")});  // no time limit, retries left
  ASSERT_THAT(take_sent("a"), ElementsAre("long"));
  out_.clear();
  scheduler_->worker_disconnected("a", out_);  // "long" back to its queue, attempt 1
  hello("b", {"square"}, /*slots=*/1, {}, /*prefetch=*/2);
  ASSERT_THAT(take_sent("b"), ElementsAre("long"));  // same lease: gen unchanged
  out_.clear();
  submit({T("short").max_retries(0).time_limit_ms(1000)});
  ASSERT_THAT(take_sent("b"), ElementsAre("short"));  // waits behind "long" on b
  out_.clear();
  report("a", "long");  // a's late result (by lease): "long" is done, b still runs it
  ASSERT_EQ(results().size(), 1u);
  // b runs its copy of "long" for 60 s more; "short" has not started.
  EXPECT_FALSE(lost_after("b", 7))
      << "short lost while it waits behind b's copy of long: " << results()[0].ShortDebugString();
}

// Found by review, same cause with one worker: its backstop fired for an attempt that was
// merely slow, the retry went back to the same worker (same lease value: lost_attempt
// keeps gen), then the first attempt's result came in from the holder and ended the task
// while the worker still holds the second copy.
TEST_F(SchedulerTimeLimitTest, ALateResultOfAnEarlierAttemptFreesNoProcess) {
  hello("a", {"square"}, /*slots=*/1, {}, /*prefetch=*/3);
  submit({T("slow").max_retries(1).time_limit_ms(1000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("slow"));
  out_.clear();
  keep_alive("a", 7);
  scheduler_->tick(out_);  // 7 s: attempt 0 taken for lost, retried on "a" at once
  ASSERT_THAT(take_sent("a"), ElementsAre("slow"));
  EXPECT_EQ(scheduler_->stats().retried(), 1u);
  submit({T("short").max_retries(0).time_limit_ms(1000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("slow", "short"));  // short waits behind it
  out_.clear();
  report("a", "slow");  // attempt 0 ends at last: "slow" done, attempt 1 still held
  ASSERT_EQ(results().size(), 1u);
  // The worker now runs attempt 1 of "slow" (its own limit 1 s, +5 s grace); "short" waits.
  // The broker freed the process here and armed "short", so a worker that took most of
  // slow's limit for its second copy saw "short" lost while it waited.
  keep_alive("a", 5);
  out_.clear();
  scheduler_->tick(out_);
  EXPECT_TRUE(results().empty());
  // The broker leases only "short" to "a" now, which the worker has not started.
  EXPECT_FALSE(lost_after("a", 2)) << "short lost though a still held slow's second copy";
}

// Item 2 of the backstop's leftovers: the same events as above, but the worker's first
// copy never reports (it vanished), so the one result was the retry's. The broker cannot
// tell the two apart (both copies carry the same lease, and a result names no attempt):
// it credits the result to the lost copy and keeps the retry's copy as a phantom, which
// held its process until the worker's next hello, so "short" behind it was never armed.
// The phantom now counts as taken for lost once its own limit + grace have passed.
TEST_F(SchedulerTimeLimitTest, ARetrysPhantomKeepsItsProcessNoLongerThanItsLimit) {
  hello("a", {"square"}, /*slots=*/1, {}, /*prefetch=*/3);
  submit({T("slow").max_retries(1).time_limit_ms(1000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("slow"));
  out_.clear();
  keep_alive("a", 7);
  scheduler_->tick(out_);  // attempt 0 taken for lost, retried on "a" at once
  submit({T("short").max_retries(0).time_limit_ms(1000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("slow", "short"));
  out_.clear();
  report("a", "slow");  // the retry's result, credited to attempt 0: "slow" done
  ASSERT_EQ(results().size(), 1u);
  EXPECT_FALSE(lost_after("a", 7));  // the phantom's limit + grace pass: short starts
  EXPECT_TRUE(lost_after("a", 7)) << "short, stuck behind a phantom, never taken for lost";
  EXPECT_EQ(results()[0].id(), "short");
}

// Found by review: a hello may list an id more than once (a worker can run two copies of
// one task), but the bound on the phantoms it makes counted distinct ids, so every repeat
// became one more copy: a hello listing a done task 200,000 times put that many copies
// ahead of everything the worker got next, whose limits were never armed. A hello now
// makes at most capacity() copies (slots x prefetch, here 2).
TEST_F(SchedulerTimeLimitTest, AHelloRepeatingADoneTaskMakesAtMostCapacityCopies) {
  hello("z");
  submit({T("d")});
  ASSERT_THAT(take_sent("z"), ElementsAre("d"));
  report("z", "d");
  bye("z");
  hello_running("a", 1, 2, std::vector<std::string>(10, "d"));
  out_.clear();
  submit({T("t").time_limit_ms(1000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("t"));
  EXPECT_EQ(scheduler_->lease_timers(), 0u);  // behind the copies of d
  report("a", "d");
  report("a", "d");
  EXPECT_EQ(scheduler_->lease_timers(), 1u) << "t still waits behind copies of d";
}

// The same for an id the broker does not know: each copy counts as started at once.
TEST_F(SchedulerTimeLimitTest, AHelloRepeatingAnUnknownIdStartsAtMostCapacityCopies) {
  hello_running("a", 1, 2, std::vector<std::string>(10, "u"));
  out_.clear();
  submit({T("t").time_limit_ms(1000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("t"));
  EXPECT_EQ(scheduler_->lease_timers(), 0u);
  report("a", "u");
  report("a", "u");
  EXPECT_EQ(scheduler_->lease_timers(), 1u) << "t still waits behind copies of u";
}

// Found by review (of 42ff903): the hello lists what the worker runs in its run order
// (c7b9292), but on_hello() only re-leased the listed tasks still queued and ignored the
// ones ahead of them that the broker had meanwhile leased elsewhere: a re-leased task
// behind a task the worker still runs was taken as started, armed from the hello, and
// lost while it waited.
TEST_F(SchedulerTimeLimitTest, AReleasedTaskBehindOneLeasedElsewhereWaits) {
  hello("a", {"square"}, /*slots=*/1, {}, /*prefetch=*/2);
  submit({T("long"), T("short").time_limit_ms(1000)});  // retries left
  ASSERT_THAT(take_sent("a"), ElementsAre("long", "short"));
  out_.clear();
  scheduler_->worker_disconnected("a", out_);  // both back to the front of the queue
  EXPECT_EQ(scheduler_->stats().queued(), 2u);
  hello("b");  // one credit: takes "long" (a runs it too: worker.proto's known double run)
  ASSERT_THAT(take_sent("b"), ElementsAre("long"));
  out_.clear();
  // a comes back: it still runs "long" (60 s, no limit), "short" waits behind it.
  hello_running("a", 1, 2, {"long", "short"});
  EXPECT_TRUE(take_sent("a").empty());
  out_.clear();
  keep_alive({"a", "b"}, 7);
  scheduler_->tick(out_);
  // long's retry (it started on b); short's was given back when a took it back.
  EXPECT_EQ(scheduler_->stats().retried(), 1u)
      << "short lost (and run again) while a still runs long";
  EXPECT_EQ(scheduler_->stats().running(), 2u);
}

// Found by review (item 1 of the backstop's leftovers): a waiting phantom's entry names
// its task by record (ref, gen); start_phantom() looked the phantom up by the id the
// record has *now*. Once the task's result expired and its record was reused by another
// task, the phantom was dropped instead of started: the task behind it was armed while
// the worker still ran the phantom, and taken for lost.
TEST_F(SchedulerTimeLimitTest, AWaitingPhantomWhoseRecordWasReusedStillStarts) {
  hello("a", {"square"}, /*slots=*/1, {}, /*prefetch=*/2);
  submit({T("x"), T("long")});  // no limits, retries left
  ASSERT_THAT(take_sent("a"), ElementsAre("x", "long"));
  out_.clear();
  scheduler_->worker_disconnected("a", out_);  // both back, in order
  hello("b");
  ASSERT_THAT(take_sent("b"), ElementsAre("x"));
  out_.clear();
  report("b", "x");  // "x" done; b gets "long" with its new credit
  ASSERT_THAT(take_sent("b"), ElementsAre("long"));
  out_.clear();
  // a comes back: it runs its copy of "long", and its copy of "x" waits behind it. Both
  // are phantoms (one leased to b, one done).
  hello_running("a", 1, 3, {"long", "x"});
  keep_alive({"a", "b"}, 61);  // x's result expires (ttl 60 s)
  scheduler_->tick(out_);
  ASSERT_EQ(get_result("x").state(), shoal::v1::TASK_STATE_UNKNOWN);
  submit({T("y").name("other")});  // takes x's record (no worker runs "other")
  submit({T("short").max_retries(0).time_limit_ms(1000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("short"));  // waits behind long and x on a
  out_.clear();
  report("a", "long");  // a's copy of long ends: its copy of x starts, short still waits
  out_.clear();
  keep_alive({"a", "b"}, 7);
  scheduler_->tick(out_);
  EXPECT_TRUE(results().empty()) << "short lost while it waits behind a's copy of x: "
                                 << results()[0].ShortDebugString();
  EXPECT_EQ(scheduler_->stats().running(), 1u);  // short, waiting on a
  // x's copy ends (its result is dropped: nothing knows x any more): short starts now.
  out_.clear();
  report("a", "x");
  EXPECT_TRUE(results().empty());
  keep_alive({"a", "b"}, 7);
  out_.clear();
  scheduler_->tick(out_);
  ASSERT_EQ(results().size(), 1u);  // lost 6 s after x's copy ended
  EXPECT_EQ(results()[0].id(), "short");
}

// The same phantom, when the worker's waiting list is compacted (hold(): entries of tasks
// reported before the broker saw them start pile up) after its record was reused: the
// compaction looked the phantom up by the record's id too, and dropped its entry.
TEST_F(SchedulerTimeLimitTest, CompactingTheWaitingKeepsAPhantomWhoseRecordWasReused) {
  hello("a", {"square"}, /*slots=*/1, {}, /*prefetch=*/2);
  submit({T("x"), T("long")});
  ASSERT_THAT(take_sent("a"), ElementsAre("x", "long"));
  out_.clear();
  scheduler_->worker_disconnected("a", out_);
  hello("b");
  ASSERT_THAT(take_sent("b"), ElementsAre("x"));
  out_.clear();
  report("b", "x");
  ASSERT_THAT(take_sent("b"), ElementsAre("long"));
  out_.clear();
  hello_running("a", 1, 3, {"long", "x"});  // long started, x waits behind it
  keep_alive({"a", "b"}, 61);
  scheduler_->tick(out_);
  submit({T("y").name("other")});  // takes x's record
  // 80 tasks a reports before the broker sees them start: their entries go stale.
  for (int i = 0; i < 80; ++i) {
    const std::string id = "q" + std::to_string(i);
    submit({T(id)});
    ASSERT_THAT(take_sent("a"), ElementsAre(id));
    report("a", id);
    out_.clear();
  }
  submit({T("short").max_retries(0).time_limit_ms(1000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("short"));
  report("a", "long");  // x's copy starts; short still waits
  out_.clear();
  EXPECT_FALSE(lost_after("a", 7)) << "short lost while it waits behind a's copy of x";
}

// After a durable restart the worker's hello, in its run order, rebuilds started/waiting:
// the task behind one with no limit is not armed until that one ends.
TEST_F(SchedulerTimeLimitTest, ARestartRebuildsWaitingFromTheHelloOrder) {
  testutil::TempDir dir("shoal-time-limit");
  restart_durable(dir.path());
  hello("a", {"square"}, 1, {}, 2);
  submit({T("long").max_retries(0), T("short").max_retries(0).time_limit_ms(1000)});
  ASSERT_THAT(take_sent("a"), ElementsAre("long", "short"));
  ASSERT_TRUE(store_->commit().ok());
  restart_durable(dir.path());
  hello_running("a", 1, 2, {"long", "short"});
  EXPECT_TRUE(take_sent("a").empty());  // re-leased, not sent again
  // No session waits for restored tasks: watch the running count instead of results.
  keep_alive("a", 30);
  scheduler_->tick(out_);
  EXPECT_EQ(scheduler_->stats().running(), 2u);  // "short" waits, unarmed
  out_.clear();
  report("a", "long");
  keep_alive("a", 5);
  scheduler_->tick(out_);
  EXPECT_EQ(scheduler_->stats().running(), 1u);
  keep_alive("a", 2);
  scheduler_->tick(out_);
  EXPECT_EQ(scheduler_->stats().running(), 0u);  // "short" lost 6 s after "long" ended
  close_store();
}

}  // namespace
}  // namespace shoal::broker
