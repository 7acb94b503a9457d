#pragma once
// The one reader of a MessagePack array header (fixarray, array 16, array 32), for the
// places that look at arguments without decoding them: the arity check before a task
// runs, the remote wire format's chunks and results, and the CLI's input lines.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace shoal::internal {

// Reads the array header at `offset` of `in` into `count` and advances `offset` past it;
// false (both untouched) when `in` has no whole array header there.
inline bool msgpack_read_array_header(std::string_view in, std::size_t& offset,
                                      std::uint32_t& count) {
  if (offset >= in.size()) return false;
  const auto b = static_cast<unsigned char>(in[offset]);
  std::size_t len_bytes = 0;  // bytes of the count after the type byte
  if (b == 0xdcu) {
    len_bytes = 2;
  } else if (b == 0xddu) {
    len_bytes = 4;
  } else if ((b & 0xf0u) != 0x90u) {
    return false;
  }
  if (in.size() - offset < 1 + len_bytes) return false;
  std::uint32_t n = len_bytes == 0 ? b & 0x0fu : 0;
  for (std::size_t i = 1; i <= len_bytes; ++i) {
    n = n << 8 | static_cast<unsigned char>(in[offset + i]);
  }
  count = n;
  offset += 1 + len_bytes;
  return true;
}

}  // namespace shoal::internal
