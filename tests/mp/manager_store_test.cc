// The Manager server's request handling (ManagerStore), in-process with the replies
// collected: requests a proxy never sends, but any client that reaches the server can.
// Each case is an input the manager_requests fuzz target found (tests/fuzz/corpus).
#include "shared/mp/manager_store.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
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

}  // namespace
}  // namespace shoal::internal
