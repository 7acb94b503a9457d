// shoal::decode<T> (shoal/codec.hpp) of arbitrary bytes, T picked by the first byte from
// a spread of codable types: numbers of every width, strings, bytes, containers, nested
// ones, a MSGPACK_DEFINE struct and a protobuf message. Properties: decoding returns a
// value or throws SerializationError (nothing else); a decoded value encodes to bytes
// that decode again and encode to the same bytes; the numbers' fast path agrees with
// msgpack's own conversion; decode_next stops where decode's value ends.
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "shoal/codec.hpp"
#include "shoal/v1/task.pb.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

struct Record {
  int id = 0;
  std::string name;
  std::vector<double> weights;
  std::optional<std::string> note;
  bool operator==(const Record&) const = default;
  MSGPACK_DEFINE(id, name, weights, note);
};

// Decodes `in` as T: the value, or nullopt after a SerializationError with a message.
template <class T>
std::optional<T> try_decode(std::string_view in) {
  try {
    return shoal::decode<T>(in);
  } catch (const shoal::SerializationError& e) {
    SHOAL_FUZZ_CHECK(std::strstr(e.what(), "MessagePack") != nullptr);
    return std::nullopt;
  } catch (...) {
    SHOAL_FUZZ_CHECK(!"decode threw something other than SerializationError");
  }
  return std::nullopt;
}

// The general path's answer for a number: from_object on the unpacked value.
template <class T>
std::optional<T> general_number(std::string_view in) {
  std::size_t offset = 0;
  try {
    msgpack::object_handle handle = shoal::internal::unpack_at(in, offset);
    return shoal::from_object<T>(handle.get());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

template <class T>
void check_number_paths(std::string_view in) {
  if constexpr (shoal::internal::kFastNumber<T>) {
    std::size_t offset = 0;
    T fast{};
    if (!shoal::internal::read_number(in, offset, fast)) return;
    std::optional<T> general = general_number<T>(in);
    SHOAL_FUZZ_CHECK(general.has_value());
    SHOAL_FUZZ_CHECK(std::memcmp(&fast, &*general, sizeof(T)) == 0 ||
                     (fast != fast && *general != *general));  // NaNs of another payload
  }
}

// Checks the properties for T on `in`. `by_value`: compare re-decoded values rather
// than bytes (unordered containers, whose encoding follows the hash order).
template <class T, bool by_value = false>
void check(std::string_view in) {
  check_number_paths<T>(in);
  std::optional<T> value = try_decode<T>(in);

  // decode_next on the input followed by more bytes stops where the value ended.
  std::string longer(in);
  longer.push_back('\xc0');
  std::size_t offset = 0;
  try {
    (void)shoal::decode_next<T>(longer, offset);
    SHOAL_FUZZ_CHECK(!value.has_value() || offset == in.size());
  } catch (const shoal::SerializationError&) {
    SHOAL_FUZZ_CHECK(!value.has_value());
  }

  if (!value) return;
  const std::string encoded = shoal::encode(*value);
  std::optional<T> again = try_decode<T>(encoded);
  SHOAL_FUZZ_CHECK(again.has_value());
  if constexpr (by_value) {
    SHOAL_FUZZ_CHECK(*again == *value);
  } else {
    SHOAL_FUZZ_CHECK(shoal::encode(*again) == encoded);
  }
}

using Check = void (*)(std::string_view);

constexpr Check kChecks[] = {
    &check<bool>,
    &check<char>,
    &check<signed char>,
    &check<unsigned char>,
    &check<std::int8_t>,
    &check<std::uint8_t>,
    &check<std::int16_t>,
    &check<std::uint16_t>,
    &check<std::int32_t>,
    &check<std::uint32_t>,
    &check<std::int64_t>,
    &check<std::uint64_t>,
    &check<float>,
    &check<double>,
    &check<std::string>,
    &check<shoal::Bytes>,
    &check<std::vector<int>>,
    &check<std::vector<std::string>>,
    &check<std::vector<double>>,
    &check<std::map<std::string, std::vector<double>>>,
    &check<std::unordered_map<std::string, int>, true>,
    &check<std::unordered_map<std::int64_t, std::vector<std::string>>, true>,
    &check<std::tuple<int, std::string, double>>,
    &check<std::tuple<int>>,
    &check<std::tuple<std::int64_t, double>>,
    &check<std::tuple<>>,
    &check<std::optional<int>>,
    &check<std::optional<std::vector<std::optional<std::string>>>>,
    &check<std::pair<std::string, shoal::Bytes>>,
    &check<std::vector<std::vector<int>>>,
    &check<std::map<int, std::map<std::string, std::tuple<bool, float>>>>,
    &check<std::deque<std::uint16_t>>,
    &check<std::list<std::int8_t>>,
    &check<std::array<std::uint8_t, 3>>,
    &check<std::vector<std::array<char, 2>>>,
    &check<std::array<std::int16_t, 2>>,
    &check<std::set<std::string>>,
    &check<std::vector<std::pair<int, std::optional<double>>>>,
    &check<Record>,
    &check<std::vector<Record>>,
    &check<shoal::v1::Task>,
    &check<std::tuple<shoal::v1::TaskResult, std::vector<shoal::Bytes>>>,
};

}  // namespace

SHOAL_FUZZ_TARGET(codec_decode) {
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);  // bad UTF-8
  (void)quiet;
  if (size == 0) return;
  const Check check_type = kChecks[data[0] % std::size(kChecks)];
  check_type(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
}
