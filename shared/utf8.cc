#include "shoal/internal/utf8.h"

#include <algorithm>
#include <cstdint>

namespace shoal::internal {

std::size_t utf8_sequence_at(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(text[k]); };
  const std::uint8_t b = byte(i);
  if (b < 0x80) return 1;
  std::size_t n;
  std::uint32_t code, min;
  if ((b & 0xe0) == 0xc0) {
    n = 2, code = b & 0x1f, min = 0x80;
  } else if ((b & 0xf0) == 0xe0) {
    n = 3, code = b & 0x0f, min = 0x800;
  } else if ((b & 0xf8) == 0xf0) {
    n = 4, code = b & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    code = code << 6 | (byte(i + k) & 0x3f);
  }
  if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
  return n;
}

bool is_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    if (static_cast<std::uint8_t>(text[i]) < 0x80) {  // the common case
      ++i;
      continue;
    }
    std::size_t n = utf8_sequence_at(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

namespace {
constexpr char kHex[] = "0123456789abcdef";
}  // namespace

std::string utf8_or_escaped(std::string_view text) {
  if (is_utf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 16);
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = utf8_sequence_at(text, i);
    if (n > 0) {
      out.append(text.substr(i, n));
      i += n;
      continue;
    }
    const auto b = static_cast<std::uint8_t>(text[i++]);
    out += "\\x";
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string quoted_excerpt(std::string_view text, std::size_t max_bytes) {
  std::string out = "'";
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t n = utf8_sequence_at(text, i);
    if (i + std::max<std::size_t>(n, 1) > max_bytes) break;
    const auto b = static_cast<std::uint8_t>(text[i]);
    const auto hex = [&out](const char* prefix, std::uint8_t v) {
      out += prefix;
      out += kHex[v >> 4];
      out += kHex[v & 15];
    };
    if (n == 0) {
      hex("\\x", b);
    } else if (b == '\n') {
      out += "\\n";
    } else if (b == '\t') {
      out += "\\t";
    } else if (b == '\r') {
      out += "\\r";
    } else if (b == '\'' || b == '\\') {
      out += '\\';
      out += char(b);
    } else if (b < 0x20 || b == 0x7f) {
      hex("\\x", b);
    } else if (n == 2 && b == 0xc2 && static_cast<std::uint8_t>(text[i + 1]) < 0xa0) {
      hex("\\u00", static_cast<std::uint8_t>(text[i + 1]));  // C1: U+0080..U+009F
    } else {
      out.append(text.substr(i, n));
    }
    i += std::max<std::size_t>(n, 1);
  }
  if (i < text.size()) out += "\u2026";  // …
  out += '\'';
  return out;
}

}  // namespace shoal::internal
