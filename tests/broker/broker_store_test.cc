// The broker over a durable store, in this process: a store that cannot be written stops
// the broker before it acknowledges anything. (Restarts and a second broker on the same
// store: tests/integration/cluster_durable_test.cc, with real processes.)
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "broker/task_journal.h"
#include "fake_worker.h"
#include "gtest/gtest.h"
#include "tests/testutil/temp_dir.h"

namespace shoal::broker {
namespace {

using testing::InProcessBroker;
using testing::make_context;
using testing::make_stub;
using testing::make_task;

TEST(BrokerStoreTest, AStoreThatCannotBeWrittenStopsTheBrokerBeforeItAcknowledges) {
  testutil::TempDir temp("shoal-broker-store");
  const std::string& dir = temp.path();
  std::atomic<bool> failed{false};
  BrokerConfig config = testing::loopback_config();
  config.store_dir = dir;
  config.on_store_failure = [&](const absl::Status&) { failed = true; };
  auto b = InProcessBroker::start(config);
  ASSERT_NE(b->broker, nullptr);

  // From now on the journal may not grow: its next write fails (EFBIG; SIGXFSZ ignored).
  signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  rlimit tight = old;
  tight.rlim_cur = std::filesystem::file_size(dir + "/journal");
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &tight), 0);

  auto stub = make_stub(b->broker->client_endpoint());
  auto context = make_context();
  auto stream = stub->Session(context.get());
  shoal::v1::ClientMessage submit;
  *submit.mutable_submit()->add_tasks() = make_task("t1");
  ASSERT_TRUE(stream->Write(submit));
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!failed.load() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  setrlimit(RLIMIT_FSIZE, &old);
  EXPECT_TRUE(failed.load());
  b->broker->shutdown();  // returns: the loop has already stopped; the session ends
  shoal::v1::ServerMessage in;
  while (stream->Read(&in)) {  // what it was sent before its end
    EXPECT_FALSE(in.has_accepted()) << in.ShortDebugString();  // no worker: no results either
  }
  b.reset();

  JournalReplay replay;  // t1 was never acknowledged, and never made it to the journal
  auto journal = TaskJournal::open(dir, &replay);
  ASSERT_TRUE(journal.ok()) << journal.status();
  EXPECT_TRUE(replay.live.empty());
}

// Found by review: a startup compaction that failed stopped the broker (exit 1) although
// the journal it would have replaced was intact; at runtime the same failure is only a
// warning. Here DIR/journal.new cannot be created ("Is a directory").
TEST(BrokerStoreTest, AFailedStartupRewriteKeepsTheOldJournal) {
  testutil::TempDir temp("shoal-broker-store");
  const std::string& dir = temp.path();
  {
    JournalReplay replay;
    auto journal = TaskJournal::open(dir, &replay);
    ASSERT_TRUE(journal.ok()) << journal.status();
    (*journal)->pending().add(JournalKind::kAccepted, make_task("t1"));
    ASSERT_TRUE((*journal)->commit().ok());
  }
  ASSERT_TRUE(std::filesystem::create_directory(dir + "/journal.new"));
  BrokerConfig config = testing::loopback_config();
  config.store_dir = dir;
  auto b = InProcessBroker::start(config);
  ASSERT_NE(b->broker, nullptr);
  b.reset();

  std::filesystem::remove(dir + "/journal.new");
  JournalReplay replay;
  auto journal = TaskJournal::open(dir, &replay);
  ASSERT_TRUE(journal.ok()) << journal.status();
  ASSERT_EQ(replay.live.size(), 1u);
  EXPECT_EQ(replay.live[0].task.id(), "t1");
}

}  // namespace
}  // namespace shoal::broker
