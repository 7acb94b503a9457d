// The local engine resolves every job it accepted: a sink that throws (out of memory in a
// map's collector, say) strands none of the others, and its own submission is failed with
// an error saying why instead of waiting for ever. Nor does a job wait for ever behind one
// whose big arguments submit() copies outside the lock meanwhile, nor that job itself when
// the zygote dies during the copy, nor a task whose record's generation wrapped.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <tuple>

#include "shared/engine/engine.h"
#include "shoal/task.hpp"
#include "tests/client/engine_test_util.h"
#include "tests/client/pool_test_util.h"

namespace shoal::engine {
namespace {

using shoal::testing::TestPipe;
using testing::gated_job;
using testing::within_10s;

std::size_t length_of(std::string s) { return s.size(); }

// A job (sequence `seq`, ending in `sink`) of length_of() on `bytes` bytes of arguments.
Job sized_job(std::uint64_t seq, std::size_t bytes, std::shared_ptr<internal::Sink> sink) {
  Job job;
  job.seq = seq;
  job.invoke = &internal::invoke_items<false, std::size_t (*)(std::string)>;
  job.fn = reinterpret_cast<std::uintptr_t>(&length_of);
  internal::encode_args<false>(job.args, std::tuple<std::string>{std::string(bytes, 'x')});
  job.sink = std::move(sink);
  return job;
}

// Records the outcome of one submission. With `throws_first`, its first complete() or
// fail() throws std::bad_alloc (as a collector short of memory would) and records nothing.
class RecordingSink final : public internal::Sink {
 public:
  explicit RecordingSink(bool throws_first = false) : throws_(throws_first) {}
  void complete(std::size_t, std::string) override {
    if (throws_.exchange(false)) throw std::bad_alloc();
    completed.store(true);
  }
  void fail(std::size_t, const internal::ErrorInfo& error) override {
    if (throws_.exchange(false)) throw std::bad_alloc();
    kind = error.kind;
    message = error.message;
    failed.store(true);
  }
  std::optional<internal::ErrorKind> kind;  // written before `failed`
  std::string message;                      // written before `failed`
  std::atomic<bool> completed{false};
  std::atomic<bool> failed{false};

 private:
  std::atomic<bool> throws_;
};

// terminate() fails the three unfinished jobs in one batch, the thrower's first. The
// exception escaped terminate() and the two others were never resolved.
TEST(EngineResolveTest, ASinkThatThrowsStrandsNoOtherOutcomeOfItsBatch) {
  TestPipe go;  // never written: the jobs wait until terminate() kills their worker
  EngineOptions options;
  options.processes = 1;
  auto engine = Engine::start(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto thrower = std::make_shared<RecordingSink>(/*throws_first=*/true);
  auto second = std::make_shared<RecordingSink>();
  auto third = std::make_shared<RecordingSink>();
  std::vector<Job> jobs;
  jobs.push_back(gated_job(1, go.read_fd(), thrower));
  jobs.push_back(gated_job(2, go.read_fd(), second));
  jobs.push_back(gated_job(3, go.read_fd(), third));
  ASSERT_TRUE((*engine)->submit(jobs).ok());

  EXPECT_NO_THROW((*engine)->terminate());
  EXPECT_TRUE(second->failed.load()) << "an outcome after the sink that threw was stranded";
  EXPECT_EQ(second->kind, internal::ErrorKind::kCancelled);
  EXPECT_TRUE(third->failed.load()) << "an outcome after the sink that threw was stranded";
  EXPECT_EQ(third->kind, internal::ErrorKind::kCancelled);
  // The sink that threw is failed again, with the reason its outcome did not arrive.
  ASSERT_TRUE(thrower->failed.load());
  EXPECT_EQ(thrower->kind, internal::ErrorKind::kOther);
  EXPECT_NE(thrower->message.find("could not be delivered"), std::string::npos) << thrower->message;
  EXPECT_NE(thrower->message.find("bad_alloc"), std::string::npos) << thrower->message;
}

// On the supervisor thread (the pool's result thread) the exception escaped supervise()
// and std::terminate()d the process.
TEST(EngineResolveTest, ASinkThatThrowsOnTheResultThreadFailsItsOwnJobOnly) {
  TestPipe go;
  EngineOptions options;
  options.processes = 1;
  auto engine = Engine::start(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto thrower = std::make_shared<RecordingSink>(/*throws_first=*/true);
  auto after = std::make_shared<RecordingSink>();
  Job first = gated_job(1, go.read_fd(), thrower);
  Job second = gated_job(2, go.read_fd(), after);
  ASSERT_TRUE((*engine)->submit(first).ok());
  ASSERT_TRUE((*engine)->submit(second).ok());
  ASSERT_EQ(write(go.write_fd(), "ab", 2), 2);  // both jobs end

  ASSERT_TRUE(within_10s(thrower->failed)) << "the job whose sink threw was never failed";
  EXPECT_FALSE(thrower->completed.load());
  EXPECT_EQ(thrower->kind, internal::ErrorKind::kOther);
  EXPECT_NE(thrower->message.find("could not be delivered"), std::string::npos) << thrower->message;
  ASSERT_TRUE(within_10s(after->completed)) << "the pool stopped delivering results";
  (*engine)->close();
  EXPECT_TRUE((*engine)->join().ok());
}

// Job 1's 60 MiB of arguments are copied into the 64 MiB slab without the lock; meanwhile
// job 2 (10 MiB, submitted as another thread would) finds no slab room and is queued. Both
// run, job 2 first (it was queued first).
// Job 1 was queued behind job 2 holding its block, which job 2 waited for: neither ever
// ran, nor anything submitted after them, and join() and ~Pool waited for ever.
TEST(EngineResolveTest, AJobQueuedWhileBigArgumentsAreCopiedDoesNotWaitForThem) {
  auto big = std::make_shared<RecordingSink>();
  auto other = std::make_shared<RecordingSink>();
  Engine* e = nullptr;
  bool submitted = false;
  EngineOptions options;
  options.processes = 1;
  options.layout.slab_bytes = std::size_t{64} << 20;
  options.while_copying = [&] {
    if (std::exchange(submitted, true)) return;
    Job queued = sized_job(2, std::size_t{10} << 20, other);
    EXPECT_TRUE(e->submit(queued).ok());
  };
  auto engine = Engine::start(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  e = engine->get();
  Job copied = sized_job(1, std::size_t{60} << 20, big);
  ASSERT_TRUE(e->submit(copied).ok());
  ASSERT_TRUE(submitted);

  EXPECT_TRUE(within_10s(other->completed)) << "the job queued meanwhile never ran";
  EXPECT_TRUE(within_10s(big->completed)) << "the job whose arguments were copied never ran";
  if (!other->completed.load() || !big->completed.load()) return;  // ~Engine terminates
  e->close();
  EXPECT_TRUE(e->join().ok());
}

// The zygote dies while submit() copies a job's big arguments without the lock: that job
// and the rest of its batch fail with the pool (WorkerLostError naming the zygote), as
// the jobs queued by then did. They were placed for workers that no longer existed and
// waited for ever (terminate() or ~Pool failed them with "the pool was terminated").
TEST(EngineResolveTest, JobsBeingSubmittedWhenTheZygoteDiesFailWithThePool) {
  auto copied = std::make_shared<RecordingSink>();
  auto after = std::make_shared<RecordingSink>();
  Engine* e = nullptr;
  std::atomic<bool> pool_failed{false};
  EngineOptions options;
  options.processes = 1;
  options.while_copying = [&] {
    ASSERT_EQ(kill(e->zygote_pid(), SIGKILL), 0);
    for (auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
         e->failure().empty() && std::chrono::steady_clock::now() < give_up;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    pool_failed.store(!e->failure().empty());
  };
  auto engine = Engine::start(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  e = engine->get();
  std::vector<Job> batch;
  batch.push_back(sized_job(1, std::size_t{1} << 20, copied));  // copied without the lock
  batch.push_back(sized_job(2, 10, after));
  ASSERT_TRUE(e->submit(batch).ok());
  ASSERT_TRUE(pool_failed.load()) << "the engine never saw its zygote die";

  for (auto* sink : {copied.get(), after.get()}) {
    ASSERT_TRUE(within_10s(sink->failed)) << "a job of the batch was never resolved";
    EXPECT_EQ(sink->kind, internal::ErrorKind::kWorkerLost) << sink->message;
    EXPECT_NE(sink->message.find("zygote"), std::string::npos) << sink->message;
  }
}

// After 2^32 - 1 tasks through one record its generation wraps: it skips 0, whose token
// for record 0 is 0, which the workers' slots and the time-limit watch read as "no task".
// The task that got it was never killed at its time limit (nor failed if its worker died).
TEST(EngineResolveTest, ATaskAfterItsRecordsGenerationWrapsKeepsItsTimeLimit) {
  TestPipe go;
  EngineOptions options;
  options.processes = 1;
  options.layout.records = 1;  // every task goes through record 0
  options.first_generation = UINT32_MAX;
  auto engine = Engine::start(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  auto last_before_wrap = std::make_shared<RecordingSink>();
  auto first_after_wrap = std::make_shared<RecordingSink>();
  Job before = gated_job(1, go.read_fd(), last_before_wrap);
  ASSERT_TRUE((*engine)->submit(before).ok());
  ASSERT_EQ(write(go.write_fd(), "g", 1), 1);  // `before` ends; `after` will wait
  ASSERT_TRUE(within_10s(last_before_wrap->completed));
  Job after = gated_job(2, go.read_fd(), first_after_wrap);
  after.time_limit_ms = 50;
  ASSERT_TRUE((*engine)->submit(after).ok());

  ASSERT_TRUE(within_10s(first_after_wrap->failed)) << "the time limit was not enforced";
  EXPECT_EQ(first_after_wrap->kind, internal::ErrorKind::kTimeLimit) << first_after_wrap->message;
}

}  // namespace
}  // namespace shoal::engine
