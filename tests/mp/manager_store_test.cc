// The Manager server's request handling (ManagerStore), in-process with the replies
// collected: requests a proxy never sends, but any client that reaches the server can.
// Each case is an input the manager_requests fuzz target found (tests/fuzz/corpus).
#include "shared/mp/manager_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "shoal/manager.hpp"

namespace shoal::internal {
namespace {

// A store whose replies are kept; replies to peers in `gone` fail, as to a departed one.
class StoreTest : public ::testing::Test {
 protected:
  struct Sent {
    std::string peer;
    ManagerReply reply;
  };

  // Sends one request from `peer`; returns the replies it caused (its own, if any, and
  // those to parked requests it answered).
  std::vector<Sent> call(const std::string& peer, const std::string& op, const std::string& kind,
                         const std::string& name, int64_t n = 0, std::string a = {},
                         std::vector<std::string> values = {}) {
    ManagerRequest r;
    r.id = ++last_id_;
    r.op = op;
    r.kind = kind;
    r.name = name;
    r.n = n;
    r.a = std::move(a);
    r.values = std::move(values);
    sent_.clear();
    store_.handle(peer, r);
    return sent_;
  }
  // The code of the only reply `call` caused.
  int code_of(const std::vector<Sent>& sent) {
    EXPECT_EQ(sent.size(), 1u);
    return sent.empty() ? -1 : sent[0].reply.code;
  }
  uint64_t last_id() const { return last_id_; }
  // `peer` gives up on its request `id`; returns the replies that caused.
  std::vector<Sent> cancel(const std::string& peer, uint64_t id) {
    ManagerRequest r;
    r.id = id;
    r.op = "cancel";
    sent_.clear();
    store_.handle(peer, r);
    return sent_;
  }
  // The items left in queue `name`, taken by a client that asks nothing else.
  std::vector<int> drain(const std::string& name) {
    std::vector<int> out;
    for (;;) {
      auto sent = call("drain", "q.get", "queue", name);
      if (sent.size() != 1 || sent[0].reply.code != kManagerOk) return out;
      out.push_back(decode<int>(sent[0].reply.value));
    }
  }

  std::set<std::string> gone_;
  std::vector<Sent> sent_;
  uint64_t last_id_ = 0;
  ManagerStore store_{[this](const std::string& peer, ManagerReply& reply) {
    sent_.push_back(Sent{peer, reply});
    return !gone_.count(peer);
  }};
};

// An operation of another kind of object is refused; before, "q.put" on a held lock
// handed the lock to a waiter while its holder still held it (two holders), and
// "k.release" on a queue handed a waiting getter an empty, undecodable item.
TEST_F(StoreTest, AnOperationOfAnotherKindIsRefusedAndChangesNothing) {
  ASSERT_EQ(code_of(call("A", "create", "lock", "l")), kManagerOk);
  ASSERT_EQ(code_of(call("A", "k.acquire", "lock", "l")), kManagerOk);
  EXPECT_TRUE(call("B", "k.acquire", "lock", "l", 200).empty());  // parked
  const uint64_t waiting = last_id();
  for (const char* op : {"q.put", "q.get", "d.set", "d.size", "l.append", "l.size", "x.y"}) {
    auto sent = call("A", op, "lock", "l", 0, encode(1));
    ASSERT_EQ(sent.size(), 1u) << op;  // no reply to the waiter
    EXPECT_EQ(sent[0].reply.code, kManagerFailed) << op;
    EXPECT_NE(sent[0].reply.error.find("unknown operation"), std::string::npos) << op;
  }
  EXPECT_EQ(code_of(call("C", "k.acquire", "lock", "l")), kManagerTimedOut);  // still held
  auto released = call("A", "k.release", "lock", "l");
  ASSERT_EQ(released.size(), 2u);
  EXPECT_EQ(released[0].reply.id, waiting);  // the waiter gets it now, not before
  EXPECT_EQ(released[0].reply.code, kManagerOk);

  ASSERT_EQ(code_of(call("A", "create", "queue", "q")), kManagerOk);
  EXPECT_TRUE(call("B", "q.get", "queue", "q", 200).empty());  // parked
  EXPECT_EQ(code_of(call("A", "k.release", "queue", "q")), kManagerFailed);
  EXPECT_EQ(code_of(call("A", "k.acquire", "queue", "q")), kManagerFailed);
  auto put = call("A", "q.put", "queue", "q", 0, encode(7));
  ASSERT_EQ(put.size(), 2u);  // the parked getter gets the item
  EXPECT_EQ(put[0].peer, "B");
  EXPECT_EQ(decode<int>(put[0].reply.value), 7);
}

// An unnamed object gets a name no object has; before, a client's own object named "#1"
// was handed out as the next unnamed one (or, of another kind, made the factory fail).
TEST_F(StoreTest, AnUnnamedObjectNeverGetsAnotherObjectsName) {
  ASSERT_EQ(code_of(call("A", "create", "dict", "#1")), kManagerOk);
  ASSERT_EQ(code_of(call("A", "create", "lock", "#2")), kManagerOk);
  ASSERT_EQ(code_of(call("A", "d.set", "dict", "#1", 0, encode(1))), kManagerOk);
  std::set<std::string> names = {"#1", "#2"};
  for (const char* kind : {"dict", "lock", "dict"}) {
    auto sent = call("B", "create", kind, "");
    ASSERT_EQ(sent.size(), 1u);
    ASSERT_EQ(sent[0].reply.code, kManagerOk) << sent[0].reply.error;
    EXPECT_TRUE(names.insert(sent[0].reply.value).second) << sent[0].reply.value;
    auto size = call("B", std::string(kind) == "dict" ? "d.size" : "k.release", kind,
                     sent[0].reply.value);
    EXPECT_EQ(size[0].reply.code, std::string(kind) == "dict" ? kManagerOk : kManagerMisuse);
    if (std::string(kind) == "dict") {
      EXPECT_EQ(decode<uint64_t>(size[0].reply.value), 0u);
    }
  }
}

// "d.update" with a key but no value is refused whole; before, the pairs before it were
// set and the lone key dropped without a word.
TEST_F(StoreTest, AnUpdateWithAKeyWithoutItsValueIsRefusedWhole) {
  ASSERT_EQ(code_of(call("A", "create", "dict", "d")), kManagerOk);
  auto sent = call("A", "d.update", "dict", "d", 0, {}, {encode(1), encode(2), encode(3)});
  EXPECT_EQ(code_of(sent), kManagerFailed);
  EXPECT_FALSE(sent[0].reply.error.empty());
  EXPECT_EQ(decode<uint64_t>(call("A", "d.size", "dict", "d")[0].reply.value), 0u);
  EXPECT_EQ(code_of(call("A", "d.update", "dict", "d", 0, {}, {encode(1), encode(2)})),
            kManagerOk);
  EXPECT_EQ(decode<int>(call("A", "d.get", "dict", "d", 0, encode(1))[0].reply.value), 2);
}

// An item popped for a client that is gone stays in the list, as a queue's item does;
// before, it was removed and lost.
TEST_F(StoreTest, AnItemPoppedForADepartedClientStaysInTheList) {
  ASSERT_EQ(code_of(call("A", "create", "list", "l", 0, {}, {encode(1), encode(2)})),
            kManagerOk);
  gone_.insert("B");
  EXPECT_EQ(code_of(call("B", "l.pop", "list", "l", -1)), kManagerOk);  // undelivered
  auto snapshot = call("A", "l.snapshot", "list", "l");
  EXPECT_EQ(snapshot[0].reply.values, (std::vector<std::string>{encode(1), encode(2)}));
  auto popped = call("A", "l.pop", "list", "l", 0);
  EXPECT_EQ(decode<int>(popped[0].reply.value), 1);
  EXPECT_EQ(decode<uint64_t>(call("A", "l.size", "list", "l")[0].reply.value), 1u);
}

// A reply answered just as its client gave up: the client's cancel gives the item back,
// to the front of the queue. Before, the cancel was refused and the item lost.
TEST_F(StoreTest, AGetCancelledAfterItsReplyGivesTheItemBack) {
  ASSERT_EQ(code_of(call("A", "create", "queue", "q")), kManagerOk);
  ASSERT_EQ(code_of(call("A", "q.put", "queue", "q", 0, encode(1))), kManagerOk);
  ASSERT_EQ(code_of(call("A", "q.put", "queue", "q", 0, encode(2))), kManagerOk);
  auto got = call("B", "q.get", "queue", "q", 200);
  ASSERT_EQ(code_of(got), kManagerOk);  // sent; B gives up before reading it
  EXPECT_TRUE(cancel("B", got[0].reply.id).empty());  // unanswered
  EXPECT_EQ(drain("q"), (std::vector<int>{1, 2}));
}

// The same for a lock: it passes to the next waiter.
TEST_F(StoreTest, ALockCancelledAfterItsGrantPassesOn) {
  ASSERT_EQ(code_of(call("A", "create", "lock", "l")), kManagerOk);
  auto granted = call("B", "k.acquire", "lock", "l", 200);
  ASSERT_EQ(code_of(granted), kManagerOk);
  EXPECT_TRUE(call("C", "k.acquire", "lock", "l", 200).empty());  // parked
  const uint64_t waiting = last_id();
  auto sent = cancel("B", granted[0].reply.id);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].peer, "C");
  EXPECT_EQ(sent[0].reply.id, waiting);
  EXPECT_EQ(sent[0].reply.code, kManagerOk);
  EXPECT_EQ(code_of(call("D", "k.acquire", "lock", "l")), kManagerTimedOut);  // C holds it
}

// A parked request given up on is dropped unanswered and takes nothing.
TEST_F(StoreTest, ACancelledParkedGetTakesNothing) {
  ASSERT_EQ(code_of(call("A", "create", "queue", "q")), kManagerOk);
  EXPECT_TRUE(call("B", "q.get", "queue", "q", 200).empty());  // parked
  EXPECT_TRUE(cancel("B", last_id()).empty());
  auto put = call("A", "q.put", "queue", "q", 0, encode(5));
  ASSERT_EQ(put.size(), 1u);  // only the putter's reply
  EXPECT_EQ(put[0].peer, "A");
  EXPECT_FALSE(store_.next_deadline().has_value());  // nothing parked any more
  EXPECT_EQ(drain("q"), (std::vector<int>{5}));
}

// The client's next request shows it got the reply: a cancel after it undoes nothing.
TEST_F(StoreTest, AGrantFollowedByAnotherRequestIsKept) {
  ASSERT_EQ(code_of(call("A", "create", "queue", "q")), kManagerOk);
  ASSERT_EQ(code_of(call("A", "q.put", "queue", "q", 0, encode(1))), kManagerOk);
  auto got = call("B", "q.get", "queue", "q");
  ASSERT_EQ(code_of(got), kManagerOk);
  ASSERT_EQ(code_of(call("B", "ping", "", "")), kManagerOk);
  EXPECT_TRUE(cancel("B", got[0].reply.id).empty());
  EXPECT_EQ(drain("q"), (std::vector<int>{}));
}

// A reply that broke off partway (the direct socket failed under it) never reached its
// client: the item goes back.
TEST_F(StoreTest, AnItemWhoseReplyBrokeOffGoesBack) {
  ASSERT_EQ(code_of(call("A", "create", "queue", "q")), kManagerOk);
  ASSERT_EQ(code_of(call("A", "q.put", "queue", "q", 0, encode(3))), kManagerOk);
  const std::string direct = std::string(1, '\1') + "9";  // a direct client's peer id
  ASSERT_EQ(code_of(call(direct, "q.get", "queue", "q")), kManagerOk);
  store_.undo_grant(direct);
  EXPECT_EQ(drain("q"), (std::vector<int>{3}));
}

// A parked get whose wait has ended is not handed an item (its client may have given
// up: it waits for the reply only a margin longer): it is told the queue is empty, and
// the item stays. Before, a put read before the wait was expired gave it the item.
TEST_F(StoreTest, AGetWhoseWaitEndedIsNotGivenAnItem) {
  ASSERT_EQ(code_of(call("A", "create", "queue", "q")), kManagerOk);
  EXPECT_TRUE(call("B", "q.get", "queue", "q", 1).empty());  // parked for 1 ms
  const uint64_t waiting = last_id();
  // The server's clock passing the deadline (ManagerStore has no injected clock).
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto put = call("A", "q.put", "queue", "q", 0, encode(4));
  for (const auto& s : put) {
    if (s.reply.id == waiting) {
      EXPECT_EQ(s.reply.code, kManagerEmpty);
    }
  }
  EXPECT_EQ(drain("q"), (std::vector<int>{4}));
}

}  // namespace
}  // namespace shoal::internal
