// What the remote Pool does with the results a broker sends (client/remote_wire.h): a map
// of a few chunks, each a task of a few items, and a script of TaskResults naming them
// (by their own ids, ids that differ by a digit, foreign ids), each with a failure of any
// kind, values of the right or wrong count and type, garbage values, per-item outcomes,
// both or neither, or any protobuf bytes. Each result is matched to its chunk by
// task_seq_of and resolves it with resolve_with_result, as RemoteBackend::on_message
// does (the first result for a chunk wins: it leaves the outstanding set); chunks never
// answered fail as the backend's shutdown fails them.
// Properties: an id matches only the task it names exactly; every chunk is resolved
// exactly once; MapResult::get returns every item or throws a shoal::Error; and every
// item agrees with a model built from the result alone: the failure of the whole
// result, else a SerializationError for the whole chunk unless the result holds exactly
// one whole value or error per item, else that item's error or its value decoded as T.
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "client/remote_wire.h"
#include "shoal/codec.hpp"
#include "shoal/future.hpp"
#include "shoal/internal/collect_state.h"
#include "shoal/internal/reply.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

using shoal::fuzz::FuzzInput;
using shoal::internal::ErrorInfo;
using shoal::internal::ErrorKind;

// Counts the calls per submission index, then passes them on.
class CountingSink : public shoal::internal::Sink {
 public:
  CountingSink(std::shared_ptr<shoal::internal::Sink> next, std::size_t n)
      : next_(std::move(next)), calls_(n) {}
  void complete(std::size_t index, std::string reply) override {
    ++calls_[index];
    next_->complete(index, std::move(reply));
  }
  void fail(std::size_t index, const ErrorInfo& error) override {
    ++calls_[index];
    next_->fail(index, error);
  }
  int calls(std::size_t index) const { return calls_[index]; }

 private:
  std::shared_ptr<shoal::internal::Sink> next_;
  std::vector<int> calls_;
};

// A value of type T, encoded.
template <class T>
std::string value_of(FuzzInput& in) {
  if constexpr (std::is_void_v<T>) {
    return "\xc0";
  } else if constexpr (std::is_same_v<T, int>) {
    return shoal::encode(static_cast<int>(in.u32()));
  } else if constexpr (std::is_same_v<T, std::string>) {
    return shoal::encode(in.bytes(in.byte() % 8));
  } else if constexpr (std::is_same_v<T, std::vector<double>>) {
    std::vector<double> v(in.byte() % 4);
    for (double& x : v) x = static_cast<double>(in.u32()) / 7;
    return shoal::encode(v);
  } else {
    return shoal::encode(std::make_tuple(static_cast<int>(in.byte()), in.bytes(in.byte() % 4)));
  }
}

// A value of some type, maybe not T's.
std::string any_value(FuzzInput& in) {
  switch (in.byte() % 6) {
    case 0: return shoal::encode(static_cast<std::int64_t>(in.u32()) - (1 << 20));
    case 1: return shoal::encode(in.bytes(in.byte() % 6));
    case 2: return "\xc0";
    case 3: return shoal::encode(std::vector<double>{1.5, -2});
    case 4: return shoal::encode(std::map<std::string, int>{{"k", 1}});
    default: return shoal::encode(true);
  }
}

template <class T>
std::string item_value(FuzzInput& in) {
  switch (in.byte() % 4) {
    case 0: return any_value(in);
    case 1: return in.bytes(in.byte() % 6);  // garbage, or nothing
    default: return value_of<T>(in);
  }
}

shoal::v1::TaskError* set_error(FuzzInput& in, shoal::v1::TaskError* error) {
  std::uint8_t kind = in.byte();
  error->set_kind(static_cast<shoal::v1::ErrorKind>(kind < 0xf0 ? kind % 14 : in.u32()));
  if (kind & 1) error->set_message("broken");
  error->set_type_name(kind & 2 ? "std::runtime_error" : "");
  return error;
}

// A result for a task of `items` calls, from the script.
template <class T>
shoal::v1::TaskResult make_result(FuzzInput& in, std::size_t items) {
  shoal::v1::TaskResult r;
  const std::uint8_t shape = in.byte();
  const std::size_t count = items + (shape >> 4) % 4 - 1;  // items - 1 ... items + 2
  auto values = [&] {
    std::string out;
    shoal::internal::msgpack_append_array_header(out, static_cast<std::uint32_t>(count));
    for (std::size_t i = 0; i < count; ++i) {
      out += in.byte() % 8 == 0 ? any_value(in) : value_of<T>(in);
    }
    return out;
  };
  auto outcomes = [&] {
    for (std::size_t i = 0; i < count; ++i) {
      auto* item = r.add_items();
      switch (in.byte() % 4) {
        case 0: set_error(in, item->mutable_error()); break;
        case 1: break;  // neither value nor error
        default: item->set_value(item_value<T>(in)); break;
      }
    }
  };
  switch (shape % 8) {
    case 0: set_error(in, r.mutable_failure()); break;
    case 1:
    case 2: r.set_values(values()); break;
    case 3: r.set_values(in.bytes(in.byte() % 16)); break;
    case 4: outcomes(); break;
    case 5: {
      std::string bytes = in.bytes(in.byte());
      if (!r.ParseFromString(bytes)) r.Clear();
      break;
    }
    case 6:
      r.set_values(values());
      outcomes();
      break;
    default: break;  // no outcome at all
  }
  return r;
}

// One item's expected outcome: the encoded value, or a failure of `kind`.
struct Expected {
  std::optional<std::string> value;
  ErrorKind kind = ErrorKind::kSerialization;
};

// The item `bytes` (one whole MessagePack value) decoded as T, re-encoded.
template <class T>
Expected decode_item(std::string_view bytes) {
  if constexpr (std::is_void_v<T>) {
    if (bytes == "\xc0") return {std::string("\xc0"), {}};
    return {};
  } else {
    try {
      return {shoal::encode(shoal::decode<T>(bytes)), {}};
    } catch (const shoal::SerializationError&) {
      return {};
    }
  }
}

// True when `bytes` is exactly one whole MessagePack value (msgpack-c's reading).
bool one_value(std::string_view bytes) {
  try {
    std::size_t offset = 0;
    (void)shoal::internal::unpack_at(bytes, offset);
    return offset == bytes.size();
  } catch (const std::exception&) {
    return false;
  }
}

ErrorKind kind_of(int kind) {
  return kind >= 0 && kind <= static_cast<int>(ErrorKind::kInvalid) ? static_cast<ErrorKind>(kind)
                                                                   : ErrorKind::kOther;
}

// What each of the `items` calls should give, from the result alone.
template <class T>
std::vector<Expected> model(const shoal::v1::TaskResult& r, std::size_t items) {
  std::vector<Expected> malformed(items);
  if (r.has_failure()) {
    return std::vector<Expected>(items, Expected{std::nullopt, kind_of(r.failure().kind())});
  }
  std::vector<Expected> out;
  if (!r.values().empty()) {
    std::string_view values = r.values();
    if (!one_value(values)) return malformed;
    std::size_t offset = 0;
    std::uint32_t count = 0;
    if (!shoal::internal::msgpack_read_array_header(values, offset, count)) return malformed;
    if (count != items) return malformed;
    for (std::uint32_t i = 0; i < count; ++i) {
      std::size_t start = offset;
      msgpack::object_handle element = shoal::internal::unpack_at(values, offset);
      out.push_back(decode_item<T>(values.substr(start, offset - start)));
    }
    return out;
  }
  if (r.items_size() == 0 || static_cast<std::size_t>(r.items_size()) != items) return malformed;
  for (const auto& item : r.items()) {
    if (item.has_error()) {
      out.push_back({std::nullopt, kind_of(item.error().kind())});
    } else if (!one_value(item.value())) {
      return malformed;
    } else {
      out.push_back(decode_item<T>(item.value()));
    }
  }
  return out;
}

// The outcome a reader gives an item, in the model's terms.
template <class T>
Expected actual(shoal::internal::ReplyReader& reader) {
  auto item = reader.next<false, T>();
  if (auto* error = std::get_if<ErrorInfo>(&item)) {
    SHOAL_FUZZ_CHECK(!error->message.empty() || error->kind == ErrorKind::kRemote);
    return {std::nullopt, error->kind};
  }
  if constexpr (std::is_void_v<T>) {
    return {std::string("\xc0"), {}};
  } else {
    return {shoal::encode(std::get<0>(item)), {}};
  }
}

void check_same(const Expected& got, const Expected& want) {
  SHOAL_FUZZ_CHECK(got.value.has_value() == want.value.has_value());
  if (want.value) {
    SHOAL_FUZZ_CHECK(*got.value == *want.value);
  } else {
    SHOAL_FUZZ_CHECK(got.kind == want.kind);
  }
}

template <class T>
void run(FuzzInput& in) {
  const std::size_t chunks = 1 + in.byte() % 4;
  std::vector<std::size_t> items;
  for (std::size_t c = 0; c < chunks; ++c) items.push_back(1 + in.byte() % 5);
  auto map = std::make_shared<shoal::internal::MapState>(items, /*raw=*/false);
  auto future = std::make_shared<shoal::internal::FutureState>(0, /*raw=*/false);
  CountingSink sink(map, chunks);
  std::vector<std::uint64_t> seqs;
  std::map<std::uint64_t, std::size_t> outstanding;  // seq -> chunk
  for (std::size_t c = 0; c < chunks; ++c) {
    seqs.push_back(shoal::internal::next_task_seq());
    outstanding[seqs.back()] = c;
  }
  std::vector<std::vector<Expected>> expected(chunks);

  while (!in.done()) {
    const std::uint8_t pick = in.byte();
    std::string id = shoal::internal::task_id_string(seqs[pick % chunks]);
    switch (pick >> 5) {
      case 0: id.insert(shoal::internal::kTaskIdPrefixSize, "0"); break;  // a leading zero
      case 1: id[0] = id[0] == 'x' ? 'y' : 'x'; break;                     // another process
      case 2: id = in.bytes(in.byte() % 24); break;
      default: break;
    }
    if (auto seq = shoal::internal::task_seq_of(id)) {
      SHOAL_FUZZ_CHECK(shoal::internal::task_id_string(*seq) == id);
    }
    shoal::v1::TaskResult result = make_result<T>(in, items[pick % chunks]);
    result.set_id(id);
    auto seq = shoal::internal::task_seq_of(result.id());
    auto it = seq ? outstanding.find(*seq) : outstanding.end();
    if (it == outstanding.end()) continue;  // unknown, or a duplicate: ignored
    const std::size_t chunk = it->second;
    outstanding.erase(it);
    expected[chunk] = model<T>(result, items[chunk]);
    if (chunk == 0) {  // resolving spends a result: the future gets its own copy
      shoal::v1::TaskResult copy = result;
      shoal::internal::resolve_with_result(copy, items[0], *future, 0);
    }
    shoal::internal::resolve_with_result(result, items[chunk], sink, chunk);
  }
  for (const auto& [seq, chunk] : outstanding) {  // never answered: the pool ends
    sink.fail(chunk, {ErrorKind::kCancelled, "", "the pool was destroyed", ""});
    expected[chunk] = std::vector<Expected>(items[chunk], {std::nullopt, ErrorKind::kCancelled});
    if (chunk == 0) future->fail(0, {ErrorKind::kCancelled, "", "the pool was destroyed", ""});
  }

  for (std::size_t c = 0; c < chunks; ++c) SHOAL_FUZZ_CHECK(sink.calls(c) == 1);
  SHOAL_FUZZ_CHECK(map->ready());
  for (std::size_t c = 0; c < chunks; ++c) {
    const auto& chunk = map->chunks()[c];
    shoal::internal::ReplyReader reader(chunk.reply);
    for (std::size_t i = 0; i < items[c]; ++i) {
      Expected got = chunk.error ? Expected{std::nullopt, chunk.error->kind} : actual<T>(reader);
      check_same(got, expected[c][i]);
    }
  }
  if (items[0] == 1) {  // a Future: the chunk's one item, or its failure
    SHOAL_FUZZ_CHECK(future->ready());
    shoal::internal::ReplyReader reader(future->reply());
    Expected got = future->error() ? Expected{std::nullopt, future->error()->kind}
                                   : actual<T>(reader);
    check_same(got, expected[0][0]);
  }
  if constexpr (!std::is_void_v<T>) {
    shoal::MapResult<T> result(map);
    bool all_ok = true;
    for (const auto& chunk : expected) {
      for (const auto& e : chunk) all_ok = all_ok && e.value.has_value();
    }
    try {
      std::vector<T> values = result.get();
      std::size_t total = 0;
      for (std::size_t n : items) total += n;
      SHOAL_FUZZ_CHECK(values.size() == total);
      SHOAL_FUZZ_CHECK(all_ok);
    } catch (const shoal::Error&) {
      SHOAL_FUZZ_CHECK(!all_ok);
    }
    SHOAL_FUZZ_CHECK(result.successful() == all_ok);
  }
}

}  // namespace

SHOAL_FUZZ_TARGET(client_broker_messages) {
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);  // bad UTF-8
  (void)quiet;
  FuzzInput in(data, size);
  switch (in.byte() % 5) {
    case 0: run<int>(in); break;
    case 1: run<std::string>(in); break;
    case 2: run<void>(in); break;
    case 3: run<std::vector<double>>(in); break;
    default: run<std::tuple<int, std::string>>(in); break;
  }
}
