// The session outbox merges results for a slow reader, but never past its bound, and
// splits a message over it between its results, in order.
#include "broker/session_outbox.h"

#include <string>

#include "gtest/gtest.h"

namespace shoal::broker {
namespace {

shoal::v1::ServerMessage results(int first, int count, std::size_t value_bytes) {
  shoal::v1::ServerMessage message;
  for (int i = first; i < first + count; ++i) {
    auto* r = message.mutable_results()->add_results();
    r->set_id("r" + std::to_string(i));
    r->add_items()->set_value(std::string(value_bytes, 'x'));
  }
  return message;
}

// Pops everything, checking each message's size and that ids come in order 0, 1, ...
int drain(SessionOutbox& outbox, std::size_t bound, int* messages) {
  int next = 0;
  *messages = 0;
  while (!outbox.empty()) {
    shoal::v1::ServerMessage m = outbox.pop();
    ++*messages;
    EXPECT_LE(m.ByteSizeLong(), bound);
    for (const auto& r : m.results().results()) EXPECT_EQ(r.id(), "r" + std::to_string(next++));
  }
  return next;
}

TEST(SessionOutboxTest, MergesResultsUpToTheBound) {
  // Forty results of 300 kB, one per message, for a client with gRPC's default 4 MiB
  // receive limit: they went out as one 12 MB message, which such a client cannot read.
  SessionOutbox outbox(kMergedMessageBytes);
  for (int i = 0; i < 40; ++i) outbox.push(results(i, 1, 300'000));
  int messages = 0;
  EXPECT_EQ(drain(outbox, kMergedMessageBytes, &messages), 40);
  EXPECT_GE(messages, 3);
  EXPECT_LE(messages, 4);  // merged, not one write per result
}

TEST(SessionOutboxTest, SplitsAMessageOverTheBoundBetweenItsResults) {
  SessionOutbox outbox(350);
  outbox.push(results(0, 10, 100));
  int messages = 0;
  EXPECT_EQ(drain(outbox, 350, &messages), 10);
  EXPECT_GT(messages, 3);
}

TEST(SessionOutboxTest, AResultLargerThanTheBoundGoesAlone) {
  SessionOutbox outbox(1000);
  outbox.push(results(0, 1, 10));
  outbox.push(results(1, 1, 5000));
  outbox.push(results(2, 1, 10));
  ASSERT_FALSE(outbox.empty());
  EXPECT_EQ(outbox.pop().results().results_size(), 1);
  EXPECT_EQ(outbox.pop().results().results(0).id(), "r1");
  EXPECT_EQ(outbox.pop().results().results(0).id(), "r2");
  EXPECT_TRUE(outbox.empty());
}

// bytes() is what the gateway compares with its bound on unread results: it follows
// pushes (merged or not), pops and clear().
TEST(SessionOutboxTest, CountsTheBytesItHolds) {
  SessionOutbox outbox(1000);
  EXPECT_EQ(outbox.bytes(), 0u);
  shoal::v1::ServerMessage small = results(0, 1, 10), big = results(1, 1, 5000);
  const std::size_t small_bytes = small.ByteSizeLong(), big_bytes = big.ByteSizeLong();
  outbox.push(std::move(small));
  outbox.push(results(0, 1, 10));  // merged into the first
  outbox.push(std::move(big));
  EXPECT_EQ(outbox.bytes(), 2 * small_bytes + big_bytes);
  EXPECT_EQ(outbox.pop().results().results_size(), 2);
  EXPECT_EQ(outbox.bytes(), big_bytes);
  outbox.push(results(2, 1, 10));
  outbox.clear();
  EXPECT_EQ(outbox.bytes(), 0u);
  EXPECT_TRUE(outbox.empty());
}

TEST(SessionOutboxTest, MergesAcceptedIdsButNotMessagesOfDifferentKinds) {
  SessionOutbox outbox(kMergedMessageBytes);
  shoal::v1::ServerMessage a, b, r = results(0, 1, 10), c;
  a.mutable_accepted()->add_ids("a");
  b.mutable_accepted()->add_ids("b");
  c.mutable_accepted()->add_ids("c");
  outbox.push(std::move(a));
  outbox.push(std::move(b));
  outbox.push(std::move(r));
  outbox.push(std::move(c));
  EXPECT_EQ(outbox.pop().accepted().ids_size(), 2);
  EXPECT_TRUE(outbox.pop().has_results());
  EXPECT_EQ(outbox.pop().accepted().ids(0), "c");
  EXPECT_TRUE(outbox.empty());
}

// Batch after batch rejected as the broker is full: one message for them all (each
// batch's Rejected would otherwise be its own write and its own object in memory),
// while a Rejected with another error stays apart.
TEST(SessionOutboxTest, MergesRejectedIdsWithTheSameError) {
  SessionOutbox outbox(kMergedMessageBytes);
  auto rejected = [](const std::string& id, const std::string& why) {
    shoal::v1::ServerMessage m;
    m.mutable_rejected()->add_ids(id);
    m.mutable_rejected()->mutable_error()->set_kind(shoal::v1::ERROR_KIND_RESOURCE_EXHAUSTED);
    m.mutable_rejected()->mutable_error()->set_message(why);
    return m;
  };
  for (int i = 0; i < 1000; ++i) outbox.push(rejected("t" + std::to_string(i), "full"));
  outbox.push(rejected("u", "other"));
  shoal::v1::ServerMessage first = outbox.pop();
  ASSERT_EQ(first.rejected().ids_size(), 1000);
  EXPECT_EQ(first.rejected().ids(999), "t999");
  EXPECT_EQ(first.rejected().error().message(), "full");
  EXPECT_EQ(outbox.pop().rejected().error().message(), "other");
  EXPECT_TRUE(outbox.empty());
}

// memory() is what the gateway's read bound counts: a list of short ids costs far more
// in memory than on the wire (100,000 empty ids: 200 kB encoded, several MB here), and
// the bound must see that.
TEST(SessionOutboxTest, CountsWhatEachIdAndResultCostsInMemory) {
  SessionOutbox outbox(kMergedMessageBytes);
  shoal::v1::ServerMessage rejected;
  for (int i = 0; i < 100'000; ++i) rejected.mutable_rejected()->add_ids("");
  const std::size_t bytes = rejected.ByteSizeLong();
  outbox.push(std::move(rejected));
  outbox.push(results(0, 2, 10));  // another kind: not merged
  const std::size_t result_bytes = results(0, 2, 10).ByteSizeLong();
  EXPECT_EQ(outbox.bytes(), bytes + result_bytes);
  EXPECT_EQ(outbox.memory(), bytes + result_bytes + 100'002 * kEntryOverheadBytes);
  outbox.pop();
  EXPECT_EQ(outbox.memory(), result_bytes + 2 * kEntryOverheadBytes);
  outbox.clear();
  EXPECT_EQ(outbox.memory(), 0u);
}

// One SubmitBatch of 250,000 tasks is accepted in one go: its Accepted ids (6 MB) must
// still reach a client with gRPC's default 4 MiB receive limit, in messages within it.
TEST(SessionOutboxTest, SplitsIdListsOverTheBoundBetweenTheirIds) {
  SessionOutbox outbox(kMergedMessageBytes);
  shoal::v1::ServerMessage accepted, rejected, unknown;
  for (int i = 0; i < 250'000; ++i) {
    accepted.mutable_accepted()->add_ids("client-7f3a-" + std::to_string(i));
    rejected.mutable_rejected()->add_ids("client-7f3a-" + std::to_string(i));
    unknown.mutable_unknown()->add_ids("client-7f3a-" + std::to_string(i));
  }
  rejected.mutable_rejected()->mutable_error()->set_kind(
      shoal::v1::ERROR_KIND_RESOURCE_EXHAUSTED);
  rejected.mutable_rejected()->mutable_error()->set_message("full");
  outbox.push(std::move(accepted));
  outbox.push(std::move(rejected));
  outbox.push(std::move(unknown));
  int next[3] = {0, 0, 0};
  int messages = 0;
  while (!outbox.empty()) {
    shoal::v1::ServerMessage m = outbox.pop();
    ++messages;
    EXPECT_LE(m.ByteSizeLong(), kMergedMessageBytes);
    const google::protobuf::RepeatedPtrField<std::string>* ids = nullptr;
    int kind = 0;
    if (m.has_accepted()) {
      ids = &m.accepted().ids();
    } else if (m.has_rejected()) {
      ids = &m.rejected().ids();
      kind = 1;
      EXPECT_EQ(m.rejected().error().kind(), shoal::v1::ERROR_KIND_RESOURCE_EXHAUSTED);
      EXPECT_EQ(m.rejected().error().message(), "full");
    } else {
      ASSERT_TRUE(m.has_unknown());
      ids = &m.unknown().ids();
      kind = 2;
    }
    if (kind > 0) {
      EXPECT_EQ(next[kind - 1], 250'000) << "messages in the order pushed";
    }
    for (const std::string& id : *ids) {
      ASSERT_EQ(id, "client-7f3a-" + std::to_string(next[kind]++));
    }
  }
  EXPECT_EQ(next[0], 250'000);
  EXPECT_EQ(next[1], 250'000);
  EXPECT_EQ(next[2], 250'000);
  EXPECT_GE(messages, 6);
  EXPECT_LE(messages, 9);
}

TEST(SplitMessageTest, ReturnsSmallMessagesWhole) {
  shoal::v1::ServerMessage accepted;
  for (int i = 0; i < 100; ++i) accepted.mutable_accepted()->add_ids("a" + std::to_string(i));
  auto same = split_message(std::move(accepted), 100000);
  ASSERT_EQ(same.size(), 1u);
  EXPECT_EQ(same[0].accepted().ids_size(), 100);
  auto whole = split_message(results(0, 10, 100), 100000);
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_EQ(whole[0].results().results_size(), 10);
}

}  // namespace
}  // namespace shoal::broker
