#pragma once
// HalfEncodable: a task result whose encoding throws half-way for a negative value, after
// its array header and first element are written, as a custom adaptor (or bad_alloc)
// may. Not trivially copyable (the tag), so a local pool encodes it too. For the tests
// of every invoker: a local pool, a worker's session, invoke_items itself.

#include <stdexcept>
#include <string>

#include "shoal/codec.hpp"

struct HalfEncodable {
  int v = 0;
  std::string tag = "t";
};
template <>
struct shoal::codec_enabled<HalfEncodable> : std::true_type {};
namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
  namespace adaptor {
  template <>
  struct pack<HalfEncodable> {
    template <class S>
    packer<S>& operator()(packer<S>& o, const HalfEncodable& h) const {
      o.pack_array(2);
      o.pack(h.v);
      if (h.v < 0) throw std::runtime_error("a negative value cannot be encoded");
      o.pack(h.tag);
      return o;
    }
  };
  template <>
  struct convert<HalfEncodable> {
    const msgpack::object& operator()(const msgpack::object& o, HalfEncodable& h) const {
      if (o.type != type::ARRAY || o.via.array.size != 2) throw type_error();
      h.v = o.via.array.ptr[0].as<int>();
      h.tag = o.via.array.ptr[1].as<std::string>();
      return o;
    }
  };
  }  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE
}  // namespace msgpack
