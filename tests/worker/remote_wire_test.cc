// The wire conversions both ends use (client/remote_wire.h): MessagePack framing,
// chunk arguments, replies <-> TaskResult items, errors.
#include "client/remote_wire.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "shoal/codec.hpp"
#include "shoal/errors.hpp"
#include "shoal/internal/reply.h"

namespace shoal::internal {
namespace {

TEST(RemoteWireTest, SkipsEveryKindOfValue) {
  std::map<std::string, std::vector<int>> m{{"a", {1, 2, 300}}, {"b", {}}};
  std::string bytes = encode(std::make_tuple(1, -5, 3.5, std::string("hi"), m,
                                             std::vector<std::string>(20, "x"),
                                             Bytes(70000, std::byte{7}), std::optional<int>()));
  bytes += encode(42);
  std::size_t offset = 0;
  ASSERT_TRUE(msgpack_skip(bytes, offset));
  EXPECT_EQ(bytes.substr(offset), encode(42));
  ASSERT_TRUE(msgpack_skip(bytes, offset));
  EXPECT_EQ(offset, bytes.size());
}

TEST(RemoteWireTest, RejectsTruncatedAndInvalidValues) {
  std::string bytes = encode(std::vector<std::string>{"hello", "world"});
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    std::size_t offset = 0;
    EXPECT_FALSE(msgpack_skip(std::string_view(bytes).substr(0, cut), offset)) << cut;
  }
  std::size_t offset = 0;
  EXPECT_FALSE(msgpack_skip(std::string("\xc1", 1), offset));
  // An array claiming 4 billion elements in 5 bytes is rejected without looping.
  offset = 0;
  EXPECT_FALSE(msgpack_skip(std::string("\xdd\xff\xff\xff\xff", 5), offset));
}

TEST(RemoteWireTest, ChunkArgumentsRoundTrip) {
  std::string args;
  for (int i = 0; i < 20; ++i) encode_to(args, std::make_tuple(i));
  v1::Task task;
  task.set_items(20);
  task.set_args(wire_args(args, 20));
  std::uint32_t count = 0;
  std::size_t offset = 0;
  ASSERT_TRUE(msgpack_read_array_header(task.args(), offset, count));
  EXPECT_EQ(count, 20u);
  auto inner = invoke_args(task);
  ASSERT_TRUE(inner.ok()) << inner.status();
  EXPECT_EQ(*inner, args);

  task.set_items(21);
  EXPECT_FALSE(invoke_args(task).ok());
  task.set_items(0);
  task.set_args(encode(std::make_tuple(7)));
  EXPECT_EQ(*invoke_args(task), encode(std::make_tuple(7)));
  EXPECT_EQ(wire_args(task.args(), 1), task.args());
}

// A chunk's header counting more arrays than there are bytes is refused at once: the
// worker would otherwise make (and answer) billions of calls for a few bytes.
TEST(RemoteWireTest, ChunkCountingMoreArraysThanBytesIsRefused) {
  v1::Task task;
  task.set_items(0xffffffffu);
  task.set_args(std::string("\xdd\xff\xff\xff\xff\x91\x01", 7));
  auto args = invoke_args(task);
  ASSERT_FALSE(args.ok());
  EXPECT_EQ(args.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(args.status().message().find("2 bytes of arguments"), std::string::npos)
      << args.status();
  task.set_items(2);  // as many bytes as arrays: for the invoker to judge
  task.set_args(std::string("\x92\x01\x02", 3));
  EXPECT_TRUE(invoke_args(task).ok());
}

// A result names the task of exactly its id: not one whose id differs by leading zeros.
TEST(RemoteWireTest, TaskSeqOfTakesOnlyTheIdsTaskIdStringWrites) {
  for (std::uint64_t seq : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{4095},
                            ~std::uint64_t{0}}) {
    EXPECT_EQ(task_seq_of(task_id_string(seq)), seq);
  }
  const std::string id = task_id_string(10);
  const std::string padded = id.substr(0, kTaskIdPrefixSize) + "0" + id.substr(kTaskIdPrefixSize);
  EXPECT_EQ(task_seq_of(padded), std::nullopt);
  EXPECT_EQ(task_seq_of(id.substr(0, kTaskIdPrefixSize) + "00"), std::nullopt);
  EXPECT_EQ(task_seq_of(id.substr(0, kTaskIdPrefixSize)), std::nullopt);
}

// What a sink was given.
class RecordingSink : public Sink {
 public:
  void complete(std::size_t, std::string reply) override {
    ++calls;
    this->reply = std::move(reply);
  }
  void fail(std::size_t, const ErrorInfo& error) override {
    ++calls;
    this->error = error;
  }
  int calls = 0;
  std::string reply;
  std::optional<ErrorInfo> error;
};

// A result answers each call of its task once: a value too many is not ignored.
TEST(RemoteWireTest, AResultOfAnotherNumberOfOutcomesFailsItsTask) {
  v1::TaskResult result;
  result.set_values(encode(std::vector<int>{1, 2, 3}));
  RecordingSink more;
  resolve_with_result(result, 2, more, 0);
  EXPECT_EQ(more.calls, 1);
  ASSERT_TRUE(more.error.has_value());
  EXPECT_EQ(more.error->kind, ErrorKind::kSerialization);
  EXPECT_EQ(more.error->message, "the broker sent 3 outcomes for a task of 2 calls");

  result.clear_values();
  result.add_items()->set_value(encode(1));
  RecordingSink fewer;
  resolve_with_result(result, 2, fewer, 0);
  ASSERT_TRUE(fewer.error.has_value());
  EXPECT_EQ(fewer.error->message, "the broker sent 1 outcomes for a task of 2 calls");

  RecordingSink single;  // a task of 0 items is one call
  resolve_with_result(result, 0, single, 0);
  EXPECT_EQ(single.calls, 1);
  EXPECT_FALSE(single.error.has_value());
  ReplyReader reader(single.reply);
  EXPECT_EQ(std::get<0>(reader.next<false, int>()), 1);
}

// An item's value is one MessagePack value: two would become the next item's outcome.
TEST(RemoteWireTest, AnItemValueThatIsNotExactlyOneValueIsMalformed) {
  v1::TaskResult result;
  result.add_items()->set_value(encode(1) + std::string(1, kReplyOk) + encode(5));
  result.add_items()->set_value(encode(2));
  EXPECT_FALSE(result_to_reply(result).ok());
  result.mutable_items(0)->set_value("");
  EXPECT_FALSE(result_to_reply(result).ok());
  result.mutable_items(0)->set_value(encode(7));
  auto reply = result_to_reply(result);
  ASSERT_TRUE(reply.ok()) << reply.status();
  ReplyReader reader(*reply);
  EXPECT_EQ(std::get<0>(reader.next<false, int>()), 7);
  EXPECT_EQ(std::get<0>(reader.next<false, int>()), 2);
}

TEST(RemoteWireTest, ReplyBecomesItemsAndBack) {
  std::string reply;
  reply_ok<false>(reply, 49);
  reply_failed(reply, {ErrorKind::kRemote, "std::invalid_argument", "bad x", "h:1"});
  reply_ok<false>(reply, std::string("s"));
  v1::TaskResult result;
  ASSERT_TRUE(reply_to_items(reply, 3, &result).ok());
  ASSERT_EQ(result.items_size(), 3);
  EXPECT_EQ(result.items(0).value(), encode(49));
  EXPECT_EQ(result.items(1).error().kind(), v1::ERROR_KIND_REMOTE);
  EXPECT_EQ(result.items(1).error().type_name(), "std::invalid_argument");
  EXPECT_EQ(result.items(1).error().where(), "h:1");
  EXPECT_EQ(*result_to_reply(result), reply);

  // One failed call: the packed form is not used.
  v1::TaskResult mixed;
  ASSERT_TRUE(reply_to_result(reply, 3, &mixed).ok());
  EXPECT_TRUE(mixed.values().empty());
  EXPECT_EQ(mixed.items_size(), 3);

  std::string back = *result_to_reply(result);
  ReplyReader reader(back);
  EXPECT_EQ(std::get<int>(reader.next<false, int>()), 49);
  EXPECT_EQ(std::get<ErrorInfo>(reader.next<false, int>()).message, "bad x");
}

TEST(RemoteWireTest, SuccessfulReplyTravelsAsOnePackedArray) {
  std::string reply;
  reply_ok<false>(reply, 49);
  reply_ok<false>(reply, std::string("s"));
  reply_ok<false>(reply, std::vector<int>{1, 2});
  v1::TaskResult result;
  ASSERT_TRUE(reply_to_result(reply, 3, &result).ok());
  EXPECT_EQ(result.items_size(), 0);
  EXPECT_EQ(result.values(), encode(std::make_tuple(49, std::string("s"), std::vector<int>{1, 2})));
  auto values = result_values(result);
  ASSERT_TRUE(values.ok());
  ASSERT_EQ(values->size(), 3u);
  EXPECT_EQ((*values)[1], encode(std::string("s")));
  EXPECT_EQ(*result_to_reply(result), reply);

  // A single call is an array of one.
  std::string one;
  reply_ok<false>(one, 7);
  v1::TaskResult single;
  ASSERT_TRUE(reply_to_result(one, 1, &single).ok());
  EXPECT_EQ(single.values(), encode(std::make_tuple(7)));
  EXPECT_EQ(*result_to_reply(single), one);

  // Bytes after a single call's value are ignored, as after a chunk's last.
  v1::TaskResult trailing;
  ASSERT_TRUE(reply_to_result(one + "\x03", 1, &trailing).ok());
  EXPECT_EQ(trailing.values(), encode(std::make_tuple(7)));

  // Resolving a single call hands its value on (moved: the result is spent).
  RecordingSink sink;
  resolve_with_result(single, 1, sink, 0);
  ASSERT_FALSE(sink.error.has_value());
  EXPECT_EQ(sink.reply, one);
}

TEST(RemoteWireTest, MalformedPackedValuesAreAnError) {
  v1::TaskResult result;
  result.set_values("", 1);  // not an array
  EXPECT_FALSE(result_values(result).ok());
  EXPECT_FALSE(result_to_reply(result).ok());
  result.set_values("", 2);  // announces two, holds one
  EXPECT_FALSE(result_to_reply(result).ok());
  result.set_values("Ýÿÿÿÿ", 5);  // a huge count in five bytes
  EXPECT_FALSE(result_to_reply(result).ok());
  result.set_values("", 3);  // trailing bytes
  EXPECT_FALSE(result_to_reply(result).ok());
  RecordingSink sink;  // a single call's value with bytes after it
  result.set_values(encode(std::make_tuple(7)) + "\x03");
  resolve_with_result(result, 1, sink, 0);
  ASSERT_TRUE(sink.error.has_value());
  EXPECT_EQ(sink.error->message, "TaskResult.values has bytes after its array");
}

TEST(RemoteWireTest, MalformedReplyIsAnError) {
  v1::TaskResult result;
  EXPECT_FALSE(reply_to_items("", 1, &result).ok());
  EXPECT_FALSE(reply_to_items(std::string("\x05\x01", 2), 1, &result).ok());
  std::string two;
  reply_ok<false>(two, 1);
  EXPECT_FALSE(reply_to_items(two, 2, &result).ok());
  EXPECT_FALSE(reply_to_result("", 1, &result).ok());
  EXPECT_FALSE(reply_to_result(two, 2, &result).ok());
}

TEST(RemoteWireTest, ErrorKindsMapBothWays) {
  for (int k = 0; k <= static_cast<int>(ErrorKind::kInvalid); ++k) {
    v1::TaskError wire;
    to_task_error({static_cast<ErrorKind>(k), "T", "m", "w"}, &wire);
    EXPECT_EQ(static_cast<int>(wire.kind()), k);
    EXPECT_EQ(static_cast<int>(to_error_info(wire).kind), k);
  }
  v1::TaskError full;  // a broker's kind arrives as itself and names itself if unexplained
  full.set_kind(v1::ERROR_KIND_RESOURCE_EXHAUSTED);
  EXPECT_EQ(to_error_info(full).kind, ErrorKind::kResourceExhausted);
  EXPECT_EQ(to_error_info(full).message, "ERROR_KIND_RESOURCE_EXHAUSTED");
  v1::TaskError future;  // a kind newer than this client is "other", not a cast
  future.set_kind(static_cast<v1::ErrorKind>(42));
  EXPECT_EQ(to_error_info(future).kind, ErrorKind::kOther);
  EXPECT_EQ(to_error_info(future).message, "error of kind 42");  // named all the same
  EXPECT_THROW(throw_error({ErrorKind::kInvalid, "", "bad priority", ""}), Error);
}

}  // namespace
}  // namespace shoal::internal
