#include "shoal/codec.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

namespace shoal::internal {

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(mangled);
}

std::string describe(const msgpack::object& object) {
  switch (object.type) {
    case msgpack::type::NIL: return "nil";
    case msgpack::type::BOOLEAN: return "boolean";
    // The value too: a result out of the caller's range is the usual cause.
    case msgpack::type::POSITIVE_INTEGER:
      return "positive integer " + std::to_string(object.via.u64);
    case msgpack::type::NEGATIVE_INTEGER:
      return "negative integer " + std::to_string(object.via.i64);
    case msgpack::type::FLOAT32: return "float32";
    case msgpack::type::FLOAT64: return "float64";
    case msgpack::type::STR: return "str of " + std::to_string(object.via.str.size) + " bytes";
    case msgpack::type::BIN: return "bin of " + std::to_string(object.via.bin.size) + " bytes";
    case msgpack::type::ARRAY: return "array of " + std::to_string(object.via.array.size);
    case msgpack::type::MAP: return "map of " + std::to_string(object.via.map.size);
    case msgpack::type::EXT: return "ext";
  }
  return "unknown";
}

void throw_decode_error(const msgpack::object& object, const std::string& type) {
  throw SerializationError("cannot decode MessagePack " + describe(object) + " as " + type);
}

void throw_malformed(std::string_view what, const std::string& type) {
  throw SerializationError("malformed MessagePack while decoding " + type + ": " +
                           std::string(what));
}

}  // namespace shoal::internal
