// Registered tasks called by name with arbitrary argument bytes, the way a worker calls
// them (worker/task_runner.cc): find_task(name), invoke_args(Task) for its chunk, then
// the task's Invoker over max(1, items) argument arrays. Input: byte 0 picks the task
// (or an unregistered name), byte 1 the item count (0xff: four more bytes of it), the
// rest is Task.args.
// Properties: an unknown name is not found; the reply holds exactly one item per call
// and nothing more; every item is a value or a SerializationError / the task's own
// exception; and each item agrees with a model that decodes that item's arguments one
// by one on their own: an array of exactly the task's arity whose elements each decode
// as the parameter type gives the value the function returns for them (same bytes),
// anything else a SerializationError. An item's outcome does not depend on its
// neighbours, except that bytes after the last array fail the last call.
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "client/remote_wire.h"
#include "shoal/codec.hpp"
#include "shoal/internal/reply.h"
#include "shoal/task.hpp"
#include "shoal/v1/task.pb.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

struct Span {
  int lo = 0;
  std::optional<int> hi;
  bool operator==(const Span&) const = default;
  MSGPACK_DEFINE(lo, hi);
};

std::int64_t add(int a, int b) { return std::int64_t{a} + b; }
std::string join(const std::string& sep, std::vector<std::string> parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size() && i < 64; ++i) out += (i ? sep : "") + parts[i];
  return out;
}
double mean(const std::vector<double>& xs) {
  if (xs.empty()) throw std::invalid_argument("mean of nothing");
  double sum = 0;
  for (double x : xs) sum += x;
  return sum / static_cast<double>(xs.size());
}
void nothing() {}
std::map<std::string, int> count_words(std::vector<std::string> words) {
  std::map<std::string, int> counts;
  for (const auto& w : words) ++counts[w];
  return counts;
}
shoal::Bytes reverse_bytes(shoal::Bytes b) { return shoal::Bytes(b.rbegin(), b.rend()); }
std::tuple<int, std::string> describe(std::optional<int> n, std::string s, bool flag) {
  return {n.value_or(-1) & 0xffff, flag ? s : std::string()};
}
std::int64_t width(std::vector<std::map<std::string, std::tuple<int, double>>> rows,
                   std::uint8_t scale) {
  std::int64_t total = 0;
  for (const auto& row : rows) total += static_cast<std::int64_t>(row.size()) * scale;
  return total;
}
Span widen(Span s, std::int16_t by) {
  return {s.lo / 2 - by, s.hi ? std::optional<int>(*s.hi / 2 + by) : std::nullopt};
}
std::string task_name(const shoal::v1::Task& task, float f) {
  return task.name() + (f > 0 ? "+" : "-");
}

SHOAL_TASK_AS(add, "fuzz.invoke.add");
SHOAL_TASK_AS(join, "fuzz.invoke.join");
SHOAL_TASK_AS(mean, "fuzz.invoke.mean");
SHOAL_TASK_AS(nothing, "fuzz.invoke.nothing");
SHOAL_TASK_AS(count_words, "fuzz.invoke.count_words");
SHOAL_TASK_AS(reverse_bytes, "fuzz.invoke.reverse_bytes");
SHOAL_TASK_AS(describe, "fuzz.invoke.describe");
SHOAL_TASK_AS(width, "fuzz.invoke.width");
SHOAL_TASK_AS(widen, "fuzz.invoke.widen");
SHOAL_TASK_AS(task_name, "fuzz.invoke.task_name");

// What one call should give: the encoded result, or a failure of `kind`.
struct Expected {
  bool ok = false;
  std::string value;
  shoal::internal::ErrorKind kind = shoal::internal::ErrorKind::kSerialization;
};

// The model of one call of `fn` on the argument array `item` (one whole MessagePack
// value): each element decoded alone as its parameter type, then the call itself.
template <auto fn>
Expected model(std::string_view item) {
  using T = shoal::internal::Traits<decltype(fn)>;
  using Args = typename T::args;
  constexpr std::size_t arity = std::tuple_size_v<Args>;
  Expected failed;
  try {  // the whole array must unpack (nesting and size limits) as the invoker's does
    std::size_t offset = 0;
    (void)shoal::internal::unpack_at(item, offset);
  } catch (const std::exception&) {
    return failed;
  }
  std::size_t offset = 0;
  std::uint32_t count = 0;
  if (!shoal::internal::msgpack_read_array_header(item, offset, count) || count != arity) {
    return failed;
  }
  std::vector<std::string_view> elements;
  for (std::size_t i = 0; i < arity; ++i) {
    std::size_t start = offset;
    if (!shoal::internal::msgpack_skip(item, offset)) return failed;
    elements.push_back(item.substr(start, offset - start));
  }
  std::optional<Args> args;
  try {
    args = [&]<std::size_t... I>(std::index_sequence<I...>) {
      return Args{shoal::decode<std::tuple_element_t<I, Args>>(elements[I])...};
    }(std::make_index_sequence<arity>());
  } catch (const shoal::SerializationError&) {
    return failed;
  }
  Expected out;
  try {
    out.ok = true;
    if constexpr (std::is_void_v<typename T::result>) {
      std::apply(fn, *args);
      out.value = "\xc0";
    } else {
      out.value = shoal::encode(std::apply(fn, *args));
    }
  } catch (const std::exception&) {
    out.ok = false;
    out.kind = shoal::internal::ErrorKind::kRemote;
  }
  return out;
}

struct Spec {
  const char* name;
  Expected (*model)(std::string_view item);
};

constexpr Spec kTasks[] = {
    {"fuzz.invoke.add", &model<&add>},
    {"fuzz.invoke.join", &model<&join>},
    {"fuzz.invoke.mean", &model<&mean>},
    {"fuzz.invoke.nothing", &model<&nothing>},
    {"fuzz.invoke.count_words", &model<&count_words>},
    {"fuzz.invoke.reverse_bytes", &model<&reverse_bytes>},
    {"fuzz.invoke.describe", &model<&describe>},
    {"fuzz.invoke.width", &model<&width>},
    {"fuzz.invoke.widen", &model<&widen>},
    {"fuzz.invoke.task_name", &model<&task_name>},
};

}  // namespace

SHOAL_FUZZ_TARGET(task_invoke) {
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);  // bad UTF-8
  (void)quiet;
  if (size < 2) return;
  shoal::v1::Task task;
  const std::size_t pick = data[0] % (std::size(kTasks) + 1);
  task.set_name(pick < std::size(kTasks) ? kTasks[pick].name : "fuzz.invoke.no_such_task");
  std::size_t used = 2;
  if (data[1] == 0xff && size >= 6) {
    std::uint32_t items;
    std::memcpy(&items, data + 2, 4);
    task.set_items(items);
    used = 6;
  } else {
    task.set_items(data[1] % 8);
  }
  task.set_args(std::string(reinterpret_cast<const char*>(data) + used, size - used));

  const shoal::internal::TaskEntry* entry = shoal::internal::find_task(task.name());
  if (pick == std::size(kTasks)) {
    SHOAL_FUZZ_CHECK(entry == nullptr);
    return;
  }
  SHOAL_FUZZ_CHECK(entry != nullptr);
  auto args = shoal::internal::invoke_args(task);
  if (!args.ok()) return;  // the worker answers it with a SerializationError
  const std::size_t count = std::max<std::uint32_t>(1, task.items());
  std::string reply;
  entry->invoke(entry->fn, *args, count, reply);

  // The reply: exactly `count` items and nothing after them.
  shoal::v1::TaskResult result;
  SHOAL_FUZZ_CHECK(shoal::internal::reply_to_items(reply, count, &result).ok());
  SHOAL_FUZZ_CHECK(static_cast<std::size_t>(result.items_size()) == count);
  std::size_t end = 0;
  for (std::size_t i = 0; i < count; ++i) {
    ++end;
    SHOAL_FUZZ_CHECK(shoal::internal::msgpack_skip(reply, end));
  }
  SHOAL_FUZZ_CHECK(end == reply.size());

  // Each item against the model of its own argument array.
  std::string_view in = *args;
  std::size_t offset = 0;
  bool lost = false;  // an earlier array was malformed: where this one starts is unknown
  for (std::size_t i = 0; i < count; ++i) {
    const auto& item = result.items(static_cast<int>(i));
    Expected expected;
    std::size_t start = offset;
    if (!lost && shoal::internal::msgpack_skip(in, offset)) {
      expected = kTasks[pick].model(in.substr(start, offset - start));
      if (i + 1 == count && offset != in.size()) expected = Expected{};  // trailing bytes
    } else {
      lost = true;
    }
    if (expected.ok) {
      SHOAL_FUZZ_CHECK(item.outcome_case() == shoal::v1::ItemOutcome::kValue);
      SHOAL_FUZZ_CHECK(item.value() == expected.value);
    } else {
      SHOAL_FUZZ_CHECK(item.outcome_case() == shoal::v1::ItemOutcome::kError);
      SHOAL_FUZZ_CHECK(item.error().kind() == static_cast<int>(expected.kind));
      SHOAL_FUZZ_CHECK(!item.error().message().empty());
    }
  }
}
