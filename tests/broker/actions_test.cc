// Task batches encoded without building messages (broker/actions.h).
#include "broker/actions.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace shoal::broker {
namespace {

constexpr size_t kNoLimit = SIZE_MAX;

shoal::v1::Task task(const std::string& id) {
  shoal::v1::Task t;
  t.set_id(id);
  t.set_name("square");
  t.set_items(3);
  t.set_attempt(1);
  t.set_lease(0x700000009ull);
  return t;
}

// Small and large arguments, mixed: large ones take pieces of their own; the frame
// must still be one well-formed BrokerMessage with every task, in order, intact.
TEST(ActionsTest, TaskBatchFrameHoldsEveryTaskInOrderWhateverTheirSizes) {
  Actions out;
  std::vector<std::string> args = {"",  "\x91\x07", std::string(70'000, 'a'),
                                   "x", std::string(3 << 20, 'b'), "\x91\x08"};
  for (int i = 0; i < 2000; ++i) args.push_back(std::string(1 + i % 40, char('c' + i % 7)));
  for (size_t i = 0; i < args.size(); ++i) {
    out.add_task(4, "peer", task("t" + std::to_string(i)), args[i], kNoLimit);
  }
  ASSERT_EQ(out.to_workers.size(), 1u);
  const WorkerSend& send = out.to_workers[0];
  EXPECT_EQ(send.peer, "peer");
  EXPECT_FALSE(send.message.has_tasks());
  std::string frame = send.task_batch.frame();
  EXPECT_EQ(frame.size(), send.task_batch.frame_size());
  shoal::v1::BrokerMessage parsed;
  ASSERT_TRUE(parsed.ParseFromString(frame));
  EXPECT_EQ(parsed.version(), 1u);
  ASSERT_EQ(parsed.tasks().tasks_size(), int(args.size()));
  for (size_t i = 0; i < args.size(); ++i) {
    const shoal::v1::Task& t = parsed.tasks().tasks(int(i));
    ASSERT_EQ(t.id(), "t" + std::to_string(i));
    ASSERT_EQ(t.args(), args[i]) << i;
    ASSERT_EQ(t.name(), "square");
    ASSERT_EQ(t.items(), 3u);
    ASSERT_EQ(t.lease(), 0x700000009ull);
  }
}

// What the scheduler takes back when a batch cannot be sent: every task's lease, in
// order, across pieces of every size.
TEST(ActionsTest, ATaskBatchNamesTheLeaseOfEachTask) {
  EncodedTaskBatch batch;
  std::vector<uint64_t> leases;
  for (uint64_t i = 0; i < 300; ++i) {
    shoal::v1::Task t = task("t" + std::to_string(i));
    t.set_lease((i << 32) | (i * 7));
    leases.push_back(t.lease());
    batch.add(t, i % 100 == 5 ? std::string(70'000, 'a') : std::string(20'000, 'b'));
  }
  EXPECT_EQ(batch.leases(), leases);
  EXPECT_TRUE(EncodedTaskBatch().leases().empty());
}

TEST(ActionsTest, OneTaskBatchPerWorkerPerRound) {
  Actions out;
  out.add_task(1, "a", task("t1"), "x", kNoLimit);
  out.add_task(2, "b", task("t2"), "y", kNoLimit);
  out.add_task(1, "a", task("t3"), "z", kNoLimit);
  ASSERT_EQ(out.to_workers.size(), 2u);
  shoal::v1::BrokerMessage a;
  ASSERT_TRUE(a.ParseFromString(out.to_workers[0].task_batch.frame()));
  EXPECT_EQ(a.tasks().tasks_size(), 2);
  out.clear();
  EXPECT_TRUE(out.empty());
  out.add_task(2, "b", task("t4"), "w", kNoLimit);
  ASSERT_EQ(out.to_workers.size(), 1u);
  EXPECT_EQ(out.to_workers[0].peer, "b");
}

// A batch whose frame would pass the limit goes on in a new batch to the same worker: no
// frame is over the limit unless one task alone is, and every task is sent, in order.
TEST(ActionsTest, ABatchPastTheFrameLimitGoesOnInAnother) {
  Actions out;
  const size_t limit = 1 << 20;
  std::vector<std::string> args;
  for (int i = 0; i < 40; ++i) args.push_back(std::string(i == 7 ? 3 << 20 : 100'000, 'a'));
  for (size_t i = 0; i < args.size(); ++i) {
    out.add_task(1, "a", task("t" + std::to_string(i)), args[i], limit);
    if (i == 20) out.add_task(2, "b", task("other"), "x", limit);
  }
  ASSERT_GT(out.to_workers.size(), 5u);
  size_t next = 0;
  for (const WorkerSend& send : out.to_workers) {
    shoal::v1::BrokerMessage parsed;
    ASSERT_TRUE(parsed.ParseFromString(send.task_batch.frame()));
    if (send.peer == "b") continue;
    ASSERT_EQ(send.peer, "a");
    ASSERT_GT(parsed.tasks().tasks_size(), 0);
    if (parsed.tasks().tasks_size() > 1) {
      EXPECT_LE(send.task_batch.frame_size(), limit);
    }
    for (const shoal::v1::Task& t : parsed.tasks().tasks()) {
      ASSERT_EQ(t.id(), "t" + std::to_string(next));
      ASSERT_EQ(t.args().size(), args[next].size());
      ++next;
    }
  }
  EXPECT_EQ(next, args.size());
}

}  // namespace
}  // namespace shoal::broker
