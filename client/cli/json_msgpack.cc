#include "client/cli/json_msgpack.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <msgpack.hpp>

#include "absl/strings/str_cat.h"
#include "shoal/codec.hpp"
#include "shoal/internal/utf8.h"

namespace shoal::cli {
namespace {

constexpr int kMaxDepth = 256;

class JsonReader {
 public:
  JsonReader(std::string_view in, std::string& out) : in_(in), sink_(out), pk_(sink_) {}

  absl::Status read_document() {
    skip_ws();
    if (absl::Status s = value(0); !s.ok()) return s;
    skip_ws();
    if (at_ != in_.size()) return error("trailing characters after the value");
    return absl::OkStatus();
  }

 private:
  absl::Status error(const std::string& what) const {
    return absl::InvalidArgumentError("invalid JSON at offset " + std::to_string(at_) + ": " +
                                      what);
  }
  void skip_ws() {
    while (at_ < in_.size() && (in_[at_] == ' ' || in_[at_] == '\t' || in_[at_] == '\n' ||
                                in_[at_] == '\r')) {
      ++at_;
    }
  }
  bool literal(std::string_view word) {
    if (in_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  absl::Status value(int depth) {
    if (depth > kMaxDepth) return error("nested too deeply");
    if (at_ >= in_.size()) return error("unexpected end");
    char c = in_[at_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') {
      std::string s;
      if (absl::Status st = string(s); !st.ok()) return st;
      pk_.pack(s);
      return absl::OkStatus();
    }
    if (literal("true")) return pk_.pack_true(), absl::OkStatus();
    if (literal("false")) return pk_.pack_false(), absl::OkStatus();
    if (literal("null")) return pk_.pack_nil(), absl::OkStatus();
    return number();
  }

  absl::Status array(int depth) {
    ++at_;
    std::vector<std::string> items;  // the count comes first in MessagePack
    skip_ws();
    if (at_ < in_.size() && in_[at_] == ']') {
      ++at_;
      pk_.pack_array(0);
      return absl::OkStatus();
    }
    std::string body;
    std::uint32_t n = 0;
    for (;;) {
      skip_ws();
      JsonReader inner(in_, body);
      inner.at_ = at_;
      if (absl::Status s = inner.value(depth + 1); !s.ok()) return s;
      at_ = inner.at_;
      ++n;
      skip_ws();
      if (at_ < in_.size() && in_[at_] == ',') {
        ++at_;
        continue;
      }
      if (at_ < in_.size() && in_[at_] == ']') {
        ++at_;
        break;
      }
      return error("expected ',' or ']'");
    }
    pk_.pack_array(n);
    sink_.write(body.data(), body.size());
    return absl::OkStatus();
  }

  absl::Status object(int depth) {
    ++at_;
    std::string body;
    std::uint32_t n = 0;
    skip_ws();
    if (at_ < in_.size() && in_[at_] == '}') {
      ++at_;
      pk_.pack_map(0);
      return absl::OkStatus();
    }
    for (;;) {
      skip_ws();
      if (at_ >= in_.size() || in_[at_] != '"') return error("expected a string key");
      std::string key;
      if (absl::Status s = string(key); !s.ok()) return s;
      skip_ws();
      if (at_ >= in_.size() || in_[at_] != ':') return error("expected ':'");
      ++at_;
      skip_ws();
      JsonReader inner(in_, body);
      inner.pk_.pack(key);
      inner.at_ = at_;
      if (absl::Status s = inner.value(depth + 1); !s.ok()) return s;
      at_ = inner.at_;
      ++n;
      skip_ws();
      if (at_ < in_.size() && in_[at_] == ',') {
        ++at_;
        continue;
      }
      if (at_ < in_.size() && in_[at_] == '}') {
        ++at_;
        break;
      }
      return error("expected ',' or '}'");
    }
    pk_.pack_map(n);
    sink_.write(body.data(), body.size());
    return absl::OkStatus();
  }

  absl::Status hex4(unsigned& code) {
    if (in_.size() - at_ < 4) return error("short \\u escape");
    code = 0;
    for (int i = 0; i < 4; ++i) {
      char h = in_[at_++];
      code <<= 4;
      if (h >= '0' && h <= '9') code |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f') code |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') code |= static_cast<unsigned>(h - 'A' + 10);
      else return error("bad \\u escape");
    }
    return absl::OkStatus();
  }

  absl::Status string(std::string& s) {
    ++at_;  // opening quote
    while (at_ < in_.size()) {
      char c = in_[at_++];
      if (c == '"') return absl::OkStatus();
      if (static_cast<unsigned char>(c) < 0x20) return error("control character in string");
      if (c != '\\') {
        s.push_back(c);
        continue;
      }
      if (at_ >= in_.size()) break;
      char e = in_[at_++];
      switch (e) {
        case '"': s.push_back('"'); break;
        case '\\': s.push_back('\\'); break;
        case '/': s.push_back('/'); break;
        case 'b': s.push_back('\b'); break;
        case 'f': s.push_back('\f'); break;
        case 'n': s.push_back('\n'); break;
        case 'r': s.push_back('\r'); break;
        case 't': s.push_back('\t'); break;
        case 'u': {
          unsigned code = 0;
          if (absl::Status st = hex4(code); !st.ok()) return st;
          if (code >= 0xd800 && code < 0xdc00 && in_.substr(at_, 2) == "\\u") {
            at_ += 2;
            unsigned low = 0;
            if (absl::Status st = hex4(low); !st.ok()) return st;
            if (low < 0xdc00 || low >= 0xe000) return error("bad surrogate pair");
            code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
          } else if (code >= 0xd800 && code < 0xe000) {  // no character: not valid UTF-8
            return error("lone surrogate \\u" + absl::StrCat(absl::Hex(code)));
          }
          append_utf8(s, code);
          break;
        }
        default: return error("bad escape");
      }
    }
    return error("unterminated string");
  }

  static void append_utf8(std::string& s, unsigned code) {
    if (code < 0x80) {
      s.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      s.push_back(static_cast<char>(0xc0 | (code >> 6)));
      s.push_back(static_cast<char>(0x80 | (code & 0x3f)));
    } else if (code < 0x10000) {
      s.push_back(static_cast<char>(0xe0 | (code >> 12)));
      s.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | (code & 0x3f)));
    } else {
      s.push_back(static_cast<char>(0xf0 | (code >> 18)));
      s.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
      s.push_back(static_cast<char>(0x80 | (code & 0x3f)));
    }
  }

  // JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? — strtod alone
  // would also take ".5", "1." and "1.e5".
  static bool is_json_number(std::string_view t) {
    std::size_t i = 0;
    auto digits = [&] {
      std::size_t start = i;
      while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
      return i - start;
    };
    if (i < t.size() && t[i] == '-') ++i;
    if (digits() == 0) return false;
    if (i < t.size() && t[i] == '.') {
      ++i;
      if (digits() == 0) return false;
    }
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
      ++i;
      if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
      if (digits() == 0) return false;
    }
    return i == t.size();
  }

  absl::Status number() {
    std::size_t start = at_;
    if (at_ < in_.size() && in_[at_] == '-') ++at_;
    bool digits = false, integral = true;
    while (at_ < in_.size()) {
      char c = in_[at_];
      if (c >= '0' && c <= '9') {
        digits = true;
      } else if (c == '.' || c == 'e' || c == 'E' ||
                 ((c == '+' || c == '-') && integral == false)) {
        integral = false;
      } else {
        break;
      }
      ++at_;
    }
    if (!digits) return error("expected a value");
    std::string text(in_.substr(start, at_ - start));
    std::size_t first = text[0] == '-' ? 1 : 0;  // JSON: no leading zeros ("01")
    if (text.size() > first + 1 && text[first] == '0' && text[first + 1] >= '0' &&
        text[first + 1] <= '9') {
      return error("malformed number '" + text + "' (leading zero)");
    }
    if (!is_json_number(text)) return error("malformed number '" + text + "'");
    char* end = nullptr;
    errno = 0;
    if (integral) {
      if (text[0] == '-') {
        long long v = std::strtoll(text.c_str(), &end, 10);
        if (errno == 0 && *end == '\0') return pk_.pack(v), absl::OkStatus();
      } else {
        unsigned long long v = std::strtoull(text.c_str(), &end, 10);
        if (errno == 0 && *end == '\0') return pk_.pack(v), absl::OkStatus();
      }
      errno = 0;  // out of range: fall back to a double
    }
    double d = std::strtod(text.c_str(), &end);
    if (*end != '\0') return error("malformed number '" + text + "'");
    // Beyond a double's range: infinity would print back as null (JSON has no infinity).
    if (std::isinf(d)) return error("number '" + text + "' is out of range");
    pk_.pack(d);
    return absl::OkStatus();
  }

  std::string_view in_;
  std::size_t at_ = 0;
  internal::StringSink sink_;
  msgpack::packer<internal::StringSink> pk_;
};

std::string base64(const char* p, std::size_t n) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < n; i += 3) {
    unsigned v = static_cast<unsigned char>(p[i]) << 16;
    if (i + 1 < n) v |= static_cast<unsigned char>(p[i + 1]) << 8;
    if (i + 2 < n) v |= static_cast<unsigned char>(p[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < n ? kAlphabet[v & 63] : '=');
  }
  return out;
}

// Thrown when the JSON text grows past its limit: a map key that is itself a map has its
// text escaped as a string, so keys nested in keys double their escapes at every level.
struct JsonTooLong {};

void write_json(std::string& out, const msgpack::object& o, std::size_t limit) {
  switch (o.type) {
    case msgpack::type::NIL: out += "null"; break;
    case msgpack::type::BOOLEAN: out += o.via.boolean ? "true" : "false"; break;
    case msgpack::type::POSITIVE_INTEGER: out += std::to_string(o.via.u64); break;
    case msgpack::type::NEGATIVE_INTEGER: out += std::to_string(o.via.i64); break;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: {
      if (!std::isfinite(o.via.f64)) {
        out += "null";
        break;
      }
      // The shortest text that reads back as the same value, and a float still looks
      // like one: 0.1 (not 0.10000000000000001), 2.0 (not 2, an integer to a reader).
      char buf[64];
      auto [end, ec] = o.type == msgpack::type::FLOAT32
                           ? std::to_chars(buf, buf + sizeof(buf), static_cast<float>(o.via.f64))
                           : std::to_chars(buf, buf + sizeof(buf), o.via.f64);
      std::string_view text(buf, static_cast<std::size_t>(end - buf));
      out += text;
      if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
      break;
    }
    case msgpack::type::STR: append_json_string(out, {o.via.str.ptr, o.via.str.size}); break;
    case msgpack::type::BIN:
      append_json_string(out, base64(o.via.bin.ptr, o.via.bin.size));
      break;
    case msgpack::type::EXT:
      out += "{\"$ext\":" + std::to_string(o.via.ext.type()) + ",\"base64\":";
      append_json_string(out, base64(o.via.ext.data(), o.via.ext.size));
      out += "}";
      break;
    case msgpack::type::ARRAY:
      out.push_back('[');
      for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
        if (i) out.push_back(',');
        write_json(out, o.via.array.ptr[i], limit);
      }
      out.push_back(']');
      break;
    case msgpack::type::MAP:
      out.push_back('{');
      for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
        if (i) out.push_back(',');
        const auto& kv = o.via.map.ptr[i];
        if (kv.key.type == msgpack::type::STR) {
          write_json(out, kv.key, limit);
        } else {
          std::string key;
          write_json(key, kv.key, limit);
          append_json_string(out, key);
        }
        out.push_back(':');
        write_json(out, kv.val, limit);
      }
      out.push_back('}');
      break;
  }
  if (out.size() > limit) throw JsonTooLong{};
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned char>(c));
          out += buf;
        } else if (static_cast<unsigned char>(c) < 0x80) {
          out.push_back(c);
        } else if (std::size_t n = internal::utf8_sequence_at(text, i); n > 0) {
          out.append(text.substr(i, n));
          i += n;
          continue;
        } else {
          out += "\xef\xbf\xbd";  // U+FFFD for a byte that is not part of valid UTF-8
        }
    }
    ++i;
  }
  out.push_back('"');
}

std::string json_string(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

absl::StatusOr<std::string> json_to_msgpack(std::string_view json) {
  std::string out;
  JsonReader reader(json, out);
  if (absl::Status s = reader.read_document(); !s.ok()) return s;
  return out;
}

absl::StatusOr<std::string> msgpack_to_json(std::string_view bytes) {
  std::size_t offset = 0;
  msgpack::object_handle handle;
  try {
    // Sizes and nesting (write_json recurses) bounded as for every decode.
    handle = msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr, nullptr,
                             shoal::internal::unpack_limit_for(bytes.size()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(std::string("malformed MessagePack: ") + e.what());
  }
  if (offset != bytes.size()) return absl::InvalidArgumentError("trailing bytes after the value");
  // Room for every escape a string can need (\u0000 is six bytes for one), never more.
  const std::size_t limit = (std::size_t{8} << 20) + 8 * bytes.size();
  std::string out;
  try {
    write_json(out, handle.get(), limit);
  } catch (const JsonTooLong&) {
    return absl::InvalidArgumentError(
        absl::StrCat("the value's JSON text would pass ", limit,
                     " bytes (map keys that are maps nest their escaping)"));
  }
  return out;
}

}  // namespace shoal::cli
