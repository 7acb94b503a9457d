#include "shoal/task.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testutil/half_encodable.h"

namespace app {
int triple(int x) { return 3 * x; }
std::string greet(const std::string& who, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += "hi " + who + ";";
  return out;
}
void nothing() {}
int fails(int) { throw std::invalid_argument("bad input"); }
}  // namespace app


namespace app {
HalfEncodable identity(int x) { return HalfEncodable{x == 0 ? -1 : x}; }
}  // namespace app

SHOAL_TASK_AS(app::triple, "app.triple");
SHOAL_TASK_AS(app::greet, "app.greet");
SHOAL_TASK_AS(app::nothing, "app.nothing");
SHOAL_TASK_AS(app::fails, "app.fails");

namespace shoal {
namespace {

using ::testing::HasSubstr;
using internal::ReplyReader;

std::string RunTask(const internal::TaskEntry& entry, const std::string& args) {
  std::string reply;
  entry.invoke(entry.fn, args, 1, reply);
  return reply;
}

TEST(TaskRegistryTest, FindsByNameAndAddress) {
  const auto* by_name = internal::find_task("app.triple");
  ASSERT_NE(by_name, nullptr);
  EXPECT_EQ(internal::find_task(reinterpret_cast<std::uintptr_t>(&app::triple)), by_name);
  EXPECT_EQ(internal::find_task("no.such.task"), nullptr);
}

TEST(TaskRegistryTest, InvokesWithMessagePackArguments) {
  const auto* entry = internal::find_task("app.greet");
  ASSERT_NE(entry, nullptr);
  std::string reply = RunTask(*entry, encode(std::make_tuple(std::string("bob"), 2)));
  ReplyReader reader(reply);
  auto item = reader.next<false, std::string>();
  ASSERT_EQ(item.index(), 0u);
  EXPECT_EQ(std::get<0>(item), "hi bob;hi bob;");
}

TEST(TaskRegistryTest, VoidTaskRepliesNil) {
  const auto* entry = internal::find_task("app.nothing");
  ASSERT_NE(entry, nullptr);
  std::string reply = RunTask(*entry, encode(std::tuple<>()));
  ReplyReader reader(reply);
  EXPECT_EQ((reader.next<false, void>().index()), 0u);
}

TEST(TaskRegistryTest, ThrowingTaskRepliesWithTypeAndMessage) {
  const auto* entry = internal::find_task("app.fails");
  std::string reply = RunTask(*entry, encode(std::make_tuple(1)));
  ReplyReader reader(reply);
  auto item = reader.next<false, int>();
  ASSERT_EQ(item.index(), 1u);
  const auto& error = std::get<1>(item);
  EXPECT_EQ(error.type_name, "std::invalid_argument");
  EXPECT_EQ(error.message, "bad input");
  EXPECT_THAT(error.where, HasSubstr(":"));
}

TEST(TaskRegistryTest, WrongArgumentTypesAreSerializationErrors) {
  const auto* entry = internal::find_task("app.triple");
  std::string reply = RunTask(*entry, encode(std::make_tuple(std::string("x"))));
  ReplyReader reader(reply);
  auto item = reader.next<false, int>();
  ASSERT_EQ(item.index(), 1u);
  EXPECT_EQ(std::get<1>(item).kind, internal::ErrorKind::kSerialization);
}

// Arguments followed by more bytes are malformed: the task does not run on a prefix.
TEST(TaskRegistryTest, BytesAfterTheArgumentsAreASerializationError) {
  const auto* entry = internal::find_task("app.triple");
  std::string reply = RunTask(*entry, encode(std::make_tuple(3)) + "\x01");
  ReplyReader reader(reply);
  auto item = reader.next<false, int>();
  ASSERT_EQ(item.index(), 1u);
  EXPECT_EQ(std::get<1>(item).kind, internal::ErrorKind::kSerialization);
  EXPECT_THAT(std::get<1>(item).message, HasSubstr("followed by 1 more byte(s)"));
}

// A call with too many arguments fails alone: the calls after it get their own.
TEST(TaskRegistryTest, ACallOfTheWrongArityDoesNotSpoilTheNextCalls) {
  std::string args = encode(std::make_tuple(1, 2)) + encode(std::make_tuple(4)) +
                     encode(std::tuple<>()) + encode(std::make_tuple(5));
  std::string reply;
  internal::invoke_items<false, int (*)(int)>(reinterpret_cast<std::uintptr_t>(&app::triple),
                                              args, 4, reply);
  ReplyReader reader(reply);
  auto first = reader.next<false, int>();
  ASSERT_EQ(first.index(), 1u);
  EXPECT_THAT(std::get<1>(first).message, HasSubstr("takes 1 argument, not 2"));
  auto second = reader.next<false, int>();
  ASSERT_EQ(second.index(), 0u) << std::get<1>(second).message;
  EXPECT_EQ(std::get<0>(second), 12);
  auto third = reader.next<false, int>();
  ASSERT_EQ(third.index(), 1u);
  EXPECT_THAT(std::get<1>(third).message, HasSubstr("takes 1 argument, not 0"));
  auto fourth = reader.next<false, int>();
  ASSERT_EQ(fourth.index(), 0u) << std::get<1>(fourth).message;
  EXPECT_EQ(std::get<0>(fourth), 15);
}

// A call whose arguments end early (a str claiming more bytes than follow) fails, and so
// does every call after it: none runs on bytes from inside those arguments.
TEST(TaskRegistryTest, ArgumentsThatEndEarlyFailTheirCallAndTheCallsAfterIt) {
  const std::string args("\xa3\x91\x05", 3);  // str of 3 bytes, 2 there: [5] inside
  std::string reply;
  internal::invoke_items<false, int (*)(int)>(reinterpret_cast<std::uintptr_t>(&app::triple),
                                              args, 2, reply);
  ReplyReader reader(reply);
  for (int call = 0; call < 2; ++call) {
    auto item = reader.next<false, int>();
    ASSERT_EQ(item.index(), 1u) << "call " << call << " ran, giving " << std::get<0>(item);
    EXPECT_EQ(std::get<1>(item).kind, internal::ErrorKind::kSerialization);
  }
}

// The invoker every worker runs (local and remote): an item whose result fails to encode
// half-way is a kSerialization failure with the thrower's message, and the next item is read
// whole. The partial encoding stayed in the reply before the failure: a reader took it as a
// success and misread the items after it.
TEST(TaskRegistryTest, AResultThatFailsToEncodeFailsItsItemOnly) {
  std::string args = encode(std::make_tuple(0)) + encode(std::make_tuple(7));
  std::string reply;
  internal::invoke_items<false, HalfEncodable (*)(int)>(
      reinterpret_cast<std::uintptr_t>(&app::identity), args, 2, reply);
  ReplyReader reader(reply);
  auto first = reader.next<false, HalfEncodable>();
  ASSERT_EQ(first.index(), 1u) << "read as a success: " << std::get<0>(first).v;
  EXPECT_EQ(std::get<1>(first).kind, internal::ErrorKind::kSerialization);
  EXPECT_THAT(std::get<1>(first).message, HasSubstr("a negative value cannot be encoded"));
  EXPECT_THAT(std::get<1>(first).message, HasSubstr("HalfEncodable"));
  auto second = reader.next<false, HalfEncodable>();
  ASSERT_EQ(second.index(), 0u) << std::get<1>(second).message;
  EXPECT_EQ(std::get<0>(second).v, 7);
}

TEST(TaskRegistryTest, RawModeRunsManyItems) {
  std::string args;
  for (int x : {1, 2, 3}) internal::encode_args<true>(args, std::make_tuple(x));
  std::string reply;
  internal::invoke_items<true, int (*)(int)>(reinterpret_cast<std::uintptr_t>(&app::triple),
                                             args, 3, reply);
  ReplyReader reader(reply);
  for (int x : {1, 2, 3}) EXPECT_EQ(std::get<0>(reader.next<true, int>()), 3 * x);
}

TEST(TaskRegistryTest, TakenNameThrowsNamingBothFunctions) {
  try {
    register_task("app.triple", +[](int x) { return x; });
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("app.triple"));
    EXPECT_THAT(e.what(), HasSubstr("app::triple"));
    EXPECT_THAT(e.what(), HasSubstr("function"));
  }
}

int first_of_two(int x) { return x; }
int second_of_two(int x) { return -x; }

TEST(TaskRegistryTest, TakenNameAtRunTimeTellsTheTwoFunctionsApart) {
  register_task("test.twice_named", &first_of_two);
  try {
    register_task("test.twice_named", &second_of_two);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    // Named by symbol where the executable exports it, else by place in it: either way
    // the two differ (both read "function: int (*)(int)" before).
    std::string what = e.what();
    std::size_t taken = what.find(" is taken by "), cannot = what.find("; cannot register ");
    ASSERT_NE(taken, std::string::npos) << what;
    ASSERT_NE(cannot, std::string::npos) << what;
    std::string first = what.substr(taken + 13, cannot - taken - 13);
    std::string second = what.substr(cannot + 18);
    EXPECT_NE(first, second);
    EXPECT_NE(first, "function: int (*)(int)");
  }
}

TEST(TaskRegistryTest, RegistersLambdasAtRunTime) {
  register_task("test.add", [](int a, int b) { return a + b; });
  const auto* entry = internal::find_task("test.add");
  ASSERT_NE(entry, nullptr);
  std::string reply = RunTask(*entry, encode(std::make_tuple(2, 5)));
  ReplyReader reader(reply);
  EXPECT_EQ(std::get<0>(reader.next<false, int>()), 7);
  EXPECT_THAT(internal::task_names(), ::testing::Contains("test.add"));
}

TEST(TaskRegistryDeathTest, DuplicateMacroStopsTheProgramAtStartUp) {
  EXPECT_EXIT(internal::register_at_startup(internal::make_entry("app.greet", &app::triple,
                                                                 "app::triple")),
              ::testing::ExitedWithCode(2), "app.greet.*app::greet.*app::triple");
}

}  // namespace
}  // namespace shoal
