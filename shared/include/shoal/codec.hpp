#pragma once
// The codec: how arguments and results travel (API.md §1). The wire encoding is
// MessagePack: a task's arguments are one array of its positional arguments, a result
// is one value, so clients in other languages can call tasks by name.
//
// Codable types: arithmetic types and bool, std::string, shoal::Bytes (MessagePack
// bin), std::vector / std::deque / std::list / std::array / std::set / std::map /
// std::unordered_map / std::optional / std::pair / std::tuple of codable types, user
// structs declaring MSGPACK_DEFINE(...), and protobuf messages (carried as bin).
// A type with a hand-written msgpack adaptor opts in by specialising
// shoal::codec_enabled<T> to std::true_type.
//
// Thread safety: every function here is pure and thread-safe.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <google/protobuf/message_lite.h>
#include <msgpack.hpp>

#include "shoal/errors.hpp"

namespace shoal {

// A byte string, encoded as MessagePack bin.
using Bytes = std::vector<std::byte>;

// Specialise to std::true_type for a type that has its own msgpack adaptor.
template <class T>
struct codec_enabled : std::false_type {};

namespace internal {

template <class T>
struct is_codable;

template <class T>
concept HasMsgpackDefine = requires(const T& t, msgpack::packer<msgpack::sbuffer>& p) {
  t.msgpack_pack(p);
};

template <class T>
concept ProtobufMessage = std::is_base_of_v<google::protobuf::MessageLite, T>;

template <class T>
struct is_codable
    : std::bool_constant<std::is_arithmetic_v<T> || HasMsgpackDefine<T> ||
                         ProtobufMessage<T> || codec_enabled<T>::value> {};
template <>
struct is_codable<std::string> : std::true_type {};
template <>
struct is_codable<Bytes> : std::true_type {};
template <class T, class A>
struct is_codable<std::vector<T, A>> : is_codable<T> {};
template <class T, class A>
struct is_codable<std::deque<T, A>> : is_codable<T> {};
template <class T, class A>
struct is_codable<std::list<T, A>> : is_codable<T> {};
template <class T, std::size_t N>
struct is_codable<std::array<T, N>> : is_codable<T> {};
template <class T, class C, class A>
struct is_codable<std::set<T, C, A>> : is_codable<T> {};
template <class K, class V, class C, class A>
struct is_codable<std::map<K, V, C, A>>
    : std::bool_constant<is_codable<K>::value && is_codable<V>::value> {};
template <class K, class V, class H, class E, class A>
struct is_codable<std::unordered_map<K, V, H, E, A>>
    : std::bool_constant<is_codable<K>::value && is_codable<V>::value> {};
// Not an optional of an optional: MessagePack has one nil, so an engaged outer holding
// an empty inner would come back as the empty outer (and a local pool, which copies
// trivially copyable values, would give the other answer).
template <class T>
struct is_codable<std::optional<T>> : is_codable<T> {};
template <class T>
struct is_codable<std::optional<std::optional<T>>> : std::false_type {};
template <class A, class B>
struct is_codable<std::pair<A, B>>
    : std::bool_constant<is_codable<A>::value && is_codable<B>::value> {};
template <class... T>
struct is_codable<std::tuple<T...>> : std::bool_constant<(is_codable<T>::value && ...)> {};

// Appends to a std::string; the msgpack packer's buffer.
class StringSink {
 public:
  explicit StringSink(std::string& out) : out_(out) {}
  void write(const char* data, std::size_t size) { out_.append(data, size); }

 private:
  std::string& out_;
};

// Writes `bits` after `head` big-endian, as MessagePack's float formats are.
template <class Bits>
void write_float(StringSink& sink, char head, Bits bits) {
  char buf[1 + sizeof(Bits)];
  buf[0] = head;
  for (std::size_t k = 0; k < sizeof(Bits); ++k) {
    buf[1 + k] = static_cast<char>(bits >> (8 * (sizeof(Bits) - 1 - k)));
  }
  sink.write(buf, sizeof buf);
}

}  // namespace internal
}  // namespace shoal

// msgpack-c packs a float or double that holds an integer as a MessagePack integer:
// -0.0 lost its sign, and a client in another language read 2.0 back as the int 2.
// Shoal's encodings keep every float a float (float 32 / float 64), as its local pool
// (which copies the bytes) always did.
template <>
inline msgpack::v1::packer<shoal::internal::StringSink>&
msgpack::v1::packer<shoal::internal::StringSink>::pack_double(double d) {
  std::uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  shoal::internal::write_float(m_stream, static_cast<char>(0xcb), bits);
  return *this;
}
template <>
inline msgpack::v1::packer<shoal::internal::StringSink>&
msgpack::v1::packer<shoal::internal::StringSink>::pack_float(float d) {
  std::uint32_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  shoal::internal::write_float(m_stream, static_cast<char>(0xca), bits);
  return *this;
}

namespace shoal {
namespace internal {

// Demangled name of a C++ type, e.g. "std::vector<int, std::allocator<int> >".
std::string demangle(const char* mangled);

// Human name of a MessagePack object's type (and an integer's value), e.g. "str of 2 bytes",
// "array of 3", "positive integer 4294967296".
std::string describe(const msgpack::object& object);

[[noreturn]] void throw_decode_error(const msgpack::object& object, const std::string& type);
[[noreturn]] void throw_malformed(std::string_view what, const std::string& type);

}  // namespace internal

// True for every type the codec can carry (see the file comment).
template <class T>
concept Codable = internal::is_codable<std::remove_cvref_t<T>>::value;

// The demangled name of T, as used in error messages.
template <class T>
std::string type_name() {
  return internal::demangle(typeid(T).name());
}

// Appends the MessagePack encoding of `value` to `out`.
template <Codable T>
void encode_to(std::string& out, const T& value) {
  internal::StringSink sink(out);
  msgpack::pack(sink, value);
}

// Returns the MessagePack encoding of `value`.
template <Codable T>
std::string encode(const T& value) {
  std::string out;
  encode_to(out, value);
  return out;
}

namespace internal {
template <class T>
struct is_tuple : std::false_type {};
template <class... E>
struct is_tuple<std::tuple<E...>> : std::true_type {};

// Unpacking references str/bin bodies in the input instead of copying them: every
// decode converts at once, while the input is alive.
inline bool reference_bodies(msgpack::type::object_type, std::size_t, void*) { return true; }

// Limits for unpacking `left` bytes. No container holds more elements than there are
// bytes left (each element takes one at least, a map entry two), so a header that claims
// more is malformed, and is refused before msgpack-c allocates room for it (a 5-byte
// header may claim 4 G elements). Nesting stops at 1,000 levels. What remains: each open
// level may still reserve room for up to `left` elements before the input runs out, so
// a malformed message can make msgpack-c reserve up to ~24,000 times its size of address
// space (pages never touched) for the moment it takes to fail.
inline msgpack::unpack_limit unpack_limit_for(std::size_t left) {
  return msgpack::unpack_limit(left, left / 2, left, left, left, 1000);
}

// Unpacks the value at `offset` and advances `offset` past it; leaves it unchanged when
// it throws (msgpack-c moves it into a value that ends early, where a reader that goes
// on would take the rest of that value's bytes for the next one).
inline msgpack::object_handle unpack_at(std::string_view bytes, std::size_t& offset) {
  const std::size_t left = offset < bytes.size() ? bytes.size() - offset : 0;
  std::size_t at = offset;
  msgpack::object_handle handle = msgpack::unpack(bytes.data(), bytes.size(), at,
                                                  &reference_bodies, nullptr,
                                                  unpack_limit_for(left));
  offset = at;
  return handle;
}

// Numbers decode without unpacking a msgpack::object (which allocates a zone per call):
// map chunks of a million ints would otherwise spend most of their time in malloc.
template <class T>
inline constexpr bool kFastNumber =
    (std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char> &&
     !std::is_same_v<T, signed char> && !std::is_same_v<T, unsigned char> &&
     !std::is_same_v<T, char8_t> && !std::is_same_v<T, char16_t> &&
     !std::is_same_v<T, char32_t> && !std::is_same_v<T, wchar_t>) ||
    std::is_same_v<T, float> || std::is_same_v<T, double>;

template <class... E>
inline constexpr bool kFastNumbers = (kFastNumber<E> && ...);

// A non-empty tuple of numbers (how a task of number parameters receives them).
template <class T>
struct is_number_tuple : std::false_type {};
template <class... E>
struct is_number_tuple<std::tuple<E...>> : std::bool_constant<(sizeof...(E) > 0) && kFastNumbers<E...>> {};

inline std::uint64_t read_big_endian(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | p[i];
  return v;
}

// Reads the MessagePack number at `offset` into `out` and advances `offset`. False
// (nothing consumed) when the value there is not a number that converts to T exactly as
// msgpack's own adaptor would: the caller then takes the general path, which reports
// errors. Integers must fit T; float and double also take integers, as msgpack does.
template <class T>
bool read_number(std::string_view in, std::size_t& offset, T& out) {
  static_assert(kFastNumber<T>);
  if (offset >= in.size()) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data()) + offset;
  std::size_t left = in.size() - offset;
  unsigned char head = p[0];
  std::uint64_t u = 0;  // the value when non-negative
  std::int64_t i = 0;   // the value when negative
  bool negative = false;
  std::size_t size = 1;
  if (head <= 0x7f) {
    u = head;
  } else if (head >= 0xe0) {
    i = static_cast<std::int8_t>(head);
    negative = true;
  } else if (head >= 0xcc && head <= 0xcf) {  // uint 8/16/32/64
    int bytes = 1 << (head - 0xcc);
    size = 1 + static_cast<std::size_t>(bytes);
    if (left < size) return false;
    u = read_big_endian(p + 1, bytes);
  } else if (head >= 0xd0 && head <= 0xd3) {  // int 8/16/32/64
    int bytes = 1 << (head - 0xd0);
    size = 1 + static_cast<std::size_t>(bytes);
    if (left < size) return false;
    std::uint64_t raw = read_big_endian(p + 1, bytes);
    int shift = 64 - 8 * bytes;  // sign-extend
    i = static_cast<std::int64_t>(raw << shift) >> shift;
    negative = i < 0;
    u = static_cast<std::uint64_t>(i);
  } else if ((head == 0xca || head == 0xcb) && std::is_floating_point_v<T>) {
    size = head == 0xca ? 5 : 9;
    if (left < size) return false;
    std::uint64_t raw = read_big_endian(p + 1, static_cast<int>(size - 1));
    if (head == 0xca) {
      std::uint32_t bits = static_cast<std::uint32_t>(raw);
      float f;
      std::memcpy(&f, &bits, sizeof f);
      out = static_cast<T>(f);
    } else {
      double d;
      std::memcpy(&d, &raw, sizeof d);
      out = static_cast<T>(d);
    }
    offset += size;
    return true;
  } else {
    return false;
  }
  if constexpr (std::is_floating_point_v<T>) {
    out = negative ? static_cast<T>(i) : static_cast<T>(u);
  } else {
    if (negative ? !std::in_range<T>(i) : !std::in_range<T>(u)) return false;
    out = negative ? static_cast<T>(i) : static_cast<T>(u);
  }
  offset += size;
  return true;
}

// Reads a tuple of numbers encoded as an array of exactly its size; false (nothing
// consumed) otherwise, for the general path to decide.
template <class... E>
bool read_numbers(std::string_view in, std::size_t& offset, std::tuple<E...>& out) {
  static_assert(kFastNumbers<E...>);
  if (offset >= in.size()) return false;
  std::size_t at = offset;
  auto head = static_cast<unsigned char>(in[at]);
  if (head != (0x90 | sizeof...(E)) || sizeof...(E) > 15) return false;
  ++at;
  bool ok = std::apply([&](auto&... e) { return (read_number(in, at, e) && ...); }, out);
  if (ok) offset = at;
  return ok;
}
}  // namespace internal

// Converts an unpacked MessagePack object to T.
// Throws SerializationError naming the MessagePack type found and T.
template <Codable T>
T from_object(const msgpack::object& object) {
  if constexpr (std::is_same_v<T, Bytes>) {
    // One copy, no zero-fill first (msgpack's adaptor resizes, then copies).
    if (object.type == msgpack::type::BIN || object.type == msgpack::type::STR) {
      const char* data = object.type == msgpack::type::BIN ? object.via.bin.ptr : object.via.str.ptr;
      auto size = object.type == msgpack::type::BIN ? object.via.bin.size : object.via.str.size;
      const auto* begin = reinterpret_cast<const std::byte*>(data);
      return Bytes(begin, begin + size);
    }
    internal::throw_decode_error(object, type_name<T>());
  } else if constexpr (internal::is_tuple<T>::value) {
    // Element by element, so each element takes its own fast path (Bytes above). Of the
    // tuple's length exactly, as std::pair and std::array are: a longer array is another
    // type, not this one with its tail dropped.
    constexpr std::size_t n = std::tuple_size_v<T>;
    if (object.type != msgpack::type::ARRAY || object.via.array.size != n) {
      internal::throw_decode_error(object, type_name<T>());
    }
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return T{from_object<std::tuple_element_t<I, T>>(object.via.array.ptr[I])...};
    }(std::make_index_sequence<n>());
  } else {
    try {
      T value{};
      object.convert(value);
      return value;
    } catch (const msgpack::type_error&) {
      internal::throw_decode_error(object, type_name<T>());
    } catch (const std::bad_cast&) {
      internal::throw_decode_error(object, type_name<T>());
    }
  }
}

// Decodes the MessagePack object that starts at `offset` in `bytes` and advances
// `offset` past it. Throws SerializationError on malformed input or a type mismatch.
template <Codable T>
T decode_next(std::string_view bytes, std::size_t& offset) {
  if constexpr (internal::kFastNumber<T>) {
    T value;
    if (internal::read_number(bytes, offset, value)) return value;
  } else if constexpr (internal::is_number_tuple<T>::value) {
    T value;
    if (internal::read_numbers(bytes, offset, value)) return value;
  }
  msgpack::object_handle handle;
  try {
    handle = internal::unpack_at(bytes, offset);
  } catch (const std::exception& e) {
    internal::throw_malformed(e.what(), type_name<T>());
  }
  return from_object<T>(handle.get());
}

// Decodes exactly one MessagePack object. Throws SerializationError on malformed
// input, trailing bytes, or a type mismatch; the message names both types.
template <Codable T>
T decode(std::string_view bytes) {
  std::size_t offset = 0;
  T value = decode_next<T>(bytes, offset);
  if (offset != bytes.size()) {
    internal::throw_malformed("trailing bytes after the value", type_name<T>());
  }
  return value;
}

}  // namespace shoal

// ---- implementation: protobuf messages travel as MessagePack bin; byte arrays ----------
namespace shoal::internal {

// Converts a bin or str of up to N bytes into `out`, the rest zero; else throws
// msgpack::type_error.
template <class Array>
const msgpack::object& convert_char_array(const msgpack::object& o, Array& out) {
  if (o.type != msgpack::type::BIN && o.type != msgpack::type::STR) throw msgpack::type_error();
  const bool bin = o.type == msgpack::type::BIN;
  const char* data = bin ? o.via.bin.ptr : o.via.str.ptr;
  const std::size_t size = bin ? o.via.bin.size : o.via.str.size;
  if (size > out.size()) throw msgpack::type_error();
  out.fill(0);
  if (size > 0) std::memcpy(out.data(), data, size);
  return o;
}

}  // namespace shoal::internal

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
  namespace adaptor {

  template <typename T>
  struct pack<T, std::enable_if_t<shoal::internal::ProtobufMessage<T>>> {
    template <typename Stream>
    packer<Stream>& operator()(packer<Stream>& o, const T& message) const {
      std::string bytes = message.SerializeAsString();
      o.pack_bin(static_cast<uint32_t>(bytes.size()));
      o.pack_bin_body(bytes.data(), static_cast<uint32_t>(bytes.size()));
      return o;
    }
  };

  template <typename T>
  struct convert<T, std::enable_if_t<shoal::internal::ProtobufMessage<T>>> {
    const msgpack::object& operator()(const msgpack::object& o, T& message) const {
      if (o.type == msgpack::type::BIN) {
        if (!message.ParseFromArray(o.via.bin.ptr, static_cast<int>(o.via.bin.size))) {
          throw msgpack::type_error();
        }
      } else if (o.type == msgpack::type::STR) {
        if (!message.ParseFromArray(o.via.str.ptr, static_cast<int>(o.via.str.size))) {
          throw msgpack::type_error();
        }
      } else {
        throw msgpack::type_error();
      }
      return o;
    }
  };

  // std::array of char or unsigned char: msgpack-c's own adaptor copies N bytes out of a
  // shorter str, reading past it.
  template <std::size_t N>
  struct convert<std::array<char, N>> {
    const msgpack::object& operator()(const msgpack::object& o, std::array<char, N>& v) const {
      return shoal::internal::convert_char_array(o, v);
    }
  };

  template <std::size_t N>
  struct convert<std::array<unsigned char, N>> {
    const msgpack::object& operator()(const msgpack::object& o,
                                      std::array<unsigned char, N>& v) const {
      return shoal::internal::convert_char_array(o, v);
    }
  };

  }  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack
