// Leases: the handle a worker gets with each task, copied into its result. A result from
// a worker other than the task's holder counts only with the lease, and leases are keyed
// by a secret of the broker's, so no worker can make the lease of a task it was not sent.
#include <cstdint>
#include <string>

#include "tests/broker/scheduler_fixture.h"

namespace shoal::broker {
namespace {

using ::testing::ElementsAre;

// Worker b, which holds t2, sends a result for a's t1 under every lease it could guess
// from its own: t2's ref and generation with neighbours of both (what the leases were
// before they were keyed), and t2's lease itself. None ends t1; a's result does.
TEST_F(SchedulerTest, AWorkerCannotForgeTheLeaseOfATaskItWasNotSent) {
  hello("a", {"square"}, 1);
  hello("b", {"square"}, 1);
  submit({T("t1"), T("t2")});
  ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
  ASSERT_THAT(take_sent("b"), ElementsAre("t2"));
  const uint64_t own = sent_["t2"].lease();
  const uint32_t own_ref = uint32_t(own);
  auto forge = [&](uint64_t lease) {
    shoal::v1::WorkerMessage msg;
    msg.set_version(1);
    shoal::v1::TaskResult* r = msg.mutable_results()->add_results();
    r->set_id("t1");
    r->set_lease(lease);
    r->set_values("\x91\x2a");
    scheduler_->worker_message("b", &msg, out_);
  };
  for (uint32_t ref = own_ref > 4 ? own_ref - 4 : 0; ref <= own_ref + 4; ++ref) {
    for (uint64_t gen = 0; gen < 64; ++gen) forge(gen << 32 | ref);
  }
  forge(own);
  EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_RUNNING);
  report("a", "t1", "\x07");
  EXPECT_EQ(get_result("t1").result().items(0).value(), "\x07");
}

// The key decides: the same task in the same place gets another lease from a broker
// with another key, and a lease still names its task (the low half is the record's ref).
TEST_F(SchedulerTest, LeasesDependOnTheBrokersKey) {
  SchedulerOptions keyed = options_;
  keyed.lease_key = std::string(16, '\x5a');
  uint64_t leases[2];
  for (int i = 0; i < 2; ++i) {
    reset(i == 0 ? options_ : keyed);
    sent_.clear();
    out_.clear();
    hello("a", {"square"}, 1);
    submit({T("t1")});
    ASSERT_THAT(take_sent("a"), ElementsAre("t1"));
    leases[i] = sent_["t1"].lease();
    report("a", "t1");
    EXPECT_EQ(get_result("t1").state(), shoal::v1::TASK_STATE_DONE);
  }
  EXPECT_EQ(uint32_t(leases[0]), uint32_t(leases[1]));
  EXPECT_NE(leases[0], leases[1]);
}

}  // namespace
}  // namespace shoal::broker
