#include "client/remote_wire.h"

#include <array>
#include <cstring>

#include "shoal/codec.hpp"
#include "shoal/internal/utf8.h"
#include "shoal/internal/reply.h"

namespace shoal::internal {
namespace {

constexpr char kArrayOfOne = '\x91';  // MessagePack fixarray header, one element

// Big-endian unsigned integer of `n` bytes at `p`.
std::uint64_t read_be(const char* p, int n) {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// The size of a value's header and payload, and how many nested values follow it.
struct Head {
  std::size_t header = 1;     // bytes of the header (type byte included)
  std::uint64_t payload = 0;  // bytes after the header (str/bin/ext/number)
  std::uint64_t children = 0; // nested values (array elements, map keys and values)
};

// Decodes the header at in[offset]; false when the type byte is invalid or cut off.
bool read_head(std::string_view in, std::size_t offset, Head& h) {
  auto b = static_cast<unsigned char>(in[offset]);
  auto need = [&](std::size_t n) { return in.size() - offset >= n; };
  auto sized = [&](int len_bytes, std::uint64_t extra) {
    if (!need(1 + len_bytes)) return false;
    h.header = 1 + len_bytes;
    h.payload = read_be(in.data() + offset + 1, len_bytes) + extra;
    return true;
  };
  auto counted = [&](int len_bytes, std::uint64_t per) {
    if (!need(1 + len_bytes)) return false;
    h.header = 1 + len_bytes;
    h.children = read_be(in.data() + offset + 1, len_bytes) * per;
    return true;
  };
  if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) return true;
  if ((b & 0xf0) == 0x80) return h.children = 2ull * (b & 0x0f), true;
  if ((b & 0xf0) == 0x90) return h.children = b & 0x0f, true;
  if ((b & 0xe0) == 0xa0) return h.payload = b & 0x1f, true;
  switch (b) {
    case 0xc4: case 0xd9: return sized(1, 0);
    case 0xc5: case 0xda: return sized(2, 0);
    case 0xc6: case 0xdb: return sized(4, 0);
    case 0xc7: return sized(1, 1);  // ext: length, then a type byte
    case 0xc8: return sized(2, 1);
    case 0xc9: return sized(4, 1);
    case 0xca: case 0xce: case 0xd2: return h.payload = 4, true;
    case 0xcb: case 0xcf: case 0xd3: return h.payload = 8, true;
    case 0xcc: case 0xd0: return h.payload = 1, true;
    case 0xcd: case 0xd1: return h.payload = 2, true;
    case 0xd4: return h.payload = 2, true;   // fixext 1 (+ type byte)
    case 0xd5: return h.payload = 3, true;
    case 0xd6: return h.payload = 5, true;
    case 0xd7: return h.payload = 9, true;
    case 0xd8: return h.payload = 17, true;
    case 0xdc: return counted(2, 1);
    case 0xdd: return counted(4, 1);
    case 0xde: return counted(2, 2);
    case 0xdf: return counted(4, 2);
    default: return false;  // 0xc1 is never used
  }
}

}  // namespace

bool msgpack_skip(std::string_view in, std::size_t& offset) {
  std::uint64_t remaining = 1;
  while (remaining > 0) {
    if (offset >= in.size()) return false;
    Head h;
    if (!read_head(in, offset, h)) return false;
    std::uint64_t left = in.size() - offset;
    if (h.header > left || h.payload > left - h.header) return false;
    offset += h.header + h.payload;
    // Every element needs at least one byte: reject counts the input cannot hold.
    if (h.children > in.size() - offset) return false;
    remaining = remaining - 1 + h.children;
  }
  return true;
}

namespace {

// True when `bytes` is the byte `head` and then exactly one whole MessagePack value: a
// single call's reply (head kReplyOk) or values (head kArrayOfOne), which differ only there.
bool one_value_after(std::string_view bytes, char head) {
  std::size_t end = 1;
  return !bytes.empty() && bytes[0] == head && msgpack_skip(bytes, end) && end == bytes.size();
}

}  // namespace

void msgpack_append_array_header(std::string& out, std::uint32_t count) {
  if (count < 16) {
    out.push_back(static_cast<char>(0x90 | count));
  } else if (count <= 0xffff) {
    out.push_back(static_cast<char>(0xdc));
    out.push_back(static_cast<char>(count >> 8));
    out.push_back(static_cast<char>(count));
  } else {
    out.push_back(static_cast<char>(0xdd));
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(count >> shift));
  }
}

std::string wire_args(std::string_view args, std::size_t items) {
  if (items <= 1) return std::string(args);
  std::string out;
  out.reserve(args.size() + 5);
  msgpack_append_array_header(out, static_cast<std::uint32_t>(items));
  out.append(args);
  return out;
}

absl::StatusOr<std::string_view> invoke_args(const v1::Task& task) {
  std::string_view args = task.args();
  std::size_t offset = 0;
  if (task.items() <= 1) return args;
  std::uint32_t count = 0;
  if (!msgpack_read_array_header(args, offset, count)) {
    return absl::InvalidArgumentError("chunk arguments are not a MessagePack array");
  }
  if (count != task.items()) {
    return absl::InvalidArgumentError("chunk of " + std::to_string(task.items()) +
                                      " items carries " + std::to_string(count) +
                                      " argument arrays");
  }
  // Each array takes a byte at least: else a 5-byte header would have the worker make
  // billions of failed calls (and their reply) for arrays that are not there.
  if (count > args.size() - offset) {
    return absl::InvalidArgumentError("chunk of " + std::to_string(count) + " items carries " +
                                      std::to_string(args.size() - offset) +
                                      " bytes of arguments");
  }
  return args.substr(offset);
}

ErrorInfo to_error_info(const v1::TaskError& error) {
  ErrorInfo info;
  int kind = error.kind();
  info.kind = kind >= 0 && kind <= static_cast<int>(ErrorKind::kInvalid)
                  ? static_cast<ErrorKind>(kind)
                  : ErrorKind::kOther;
  info.type_name = error.type_name();
  info.message = error.message();
  info.where = error.where();
  // A failure the broker or a worker reported without words is named by its kind; a
  // task's own exception keeps its message, even an empty one.
  if (info.message.empty() && info.kind != ErrorKind::kRemote) {
    info.message = v1::ErrorKind_Name(error.kind());
    if (info.message.empty()) info.message = "error of kind " + std::to_string(kind);
  }
  return info;
}

void to_task_error(const ErrorInfo& info, v1::TaskError* out) {
  // Protobuf strings must be UTF-8, or the frame does not parse at the broker (the
  // task then never ended): a task may throw any bytes.
  out->set_kind(static_cast<v1::ErrorKind>(info.kind));
  out->set_type_name(utf8_or_escaped(info.type_name));
  out->set_message(utf8_or_escaped(info.message));
  out->set_where(utf8_or_escaped(info.where));
}

absl::Status reply_to_items(std::string_view reply, std::size_t items, v1::TaskResult* result) {
  std::size_t offset = 0;
  for (std::size_t i = 0; i < std::max<std::size_t>(1, items); ++i) {
    if (offset >= reply.size()) return absl::InvalidArgumentError("task reply ended early");
    char status = reply[offset++];
    std::size_t start = offset;
    if (!msgpack_skip(reply, offset)) return absl::InvalidArgumentError("malformed reply item");
    v1::ItemOutcome* item = result->add_items();
    std::string_view body = reply.substr(start, offset - start);
    if (status == kReplyOk) {
      item->set_value(body.data(), body.size());
    } else if (status == kReplyFailed) {
      ErrorInfo info;
      try {
        info = decode<ErrorInfo>(body);
      } catch (const SerializationError&) {
        return absl::InvalidArgumentError("malformed error item in task reply");
      }
      to_task_error(info, item->mutable_error());
    } else {
      return absl::InvalidArgumentError("bad reply status byte");
    }
  }
  return absl::OkStatus();
}

absl::Status reply_to_result(std::string reply, std::size_t items, v1::TaskResult* result) {
  std::size_t count = std::max<std::size_t>(1, items);
  // A single call that succeeded (the usual big result): the reply becomes the values in
  // place, its status byte turned into the header of an array of one.
  if (count == 1 && one_value_after(reply, kReplyOk)) {
    reply[0] = kArrayOfOne;
    result->set_values(std::move(reply));
    return absl::OkStatus();
  }
  // One pass: copy each value after its status byte; the first failed call switches to
  // the per-item form (rare: only results with a failure take the second scan).
  std::string* values = result->mutable_values();
  values->reserve(reply.size() + 5);  // the values are the reply minus its status bytes
  msgpack_append_array_header(*values, static_cast<std::uint32_t>(count));
  std::size_t offset = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (offset >= reply.size()) return absl::InvalidArgumentError("task reply ended early");
    if (reply[offset++] != kReplyOk) {
      result->clear_values();
      return reply_to_items(reply, items, result);
    }
    std::size_t start = offset;
    if (!msgpack_skip(reply, offset)) return absl::InvalidArgumentError("malformed reply item");
    values->append(reply.data() + start, offset - start);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string_view>> result_values(const v1::TaskResult& result) {
  std::vector<std::string_view> out;
  if (result.values().empty()) {
    out.reserve(static_cast<std::size_t>(result.items_size()));
    for (const auto& item : result.items()) out.push_back(item.value());
    return out;
  }
  std::string_view values = result.values();
  std::size_t offset = 0;
  std::uint32_t count = 0;
  if (!msgpack_read_array_header(values, offset, count)) {
    return absl::InvalidArgumentError("TaskResult.values is not a MessagePack array");
  }
  if (count > values.size()) {  // every value takes at least one byte
    return absl::InvalidArgumentError("TaskResult.values announces more values than it holds");
  }
  out.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    std::size_t start = offset;
    if (!msgpack_skip(values, offset)) {
      return absl::InvalidArgumentError("TaskResult.values holds a malformed value");
    }
    out.push_back(values.substr(start, offset - start));
  }
  if (offset != values.size()) {
    return absl::InvalidArgumentError("TaskResult.values has bytes after its array");
  }
  return out;
}

absl::StatusOr<std::string> result_to_reply(const v1::TaskResult& result) {
  std::string reply;
  if (!result.values().empty()) {
    auto values = result_values(result);
    if (!values.ok()) return values.status();
    reply.reserve(result.values().size() + values->size());
    for (std::string_view value : *values) {
      reply.push_back(kReplyOk);
      reply.append(value);
    }
    return reply;
  }
  std::size_t size = 0;
  for (const auto& item : result.items()) size += 1 + item.value().size();
  reply.reserve(size);
  for (const auto& item : result.items()) {
    if (item.outcome_case() == v1::ItemOutcome::kError) {
      reply_failed(reply, to_error_info(item.error()));
    } else {
      // Exactly one value: more would be read as the next items' outcomes, none would
      // take the next item's status byte for this value.
      std::size_t end = 0;
      if (!msgpack_skip(item.value(), end) || end != item.value().size()) {
        return absl::InvalidArgumentError("TaskResult.items holds a malformed value");
      }
      reply.push_back(kReplyOk);
      reply.append(item.value());
    }
  }
  return reply;
}

std::optional<std::uint64_t> task_seq_of(std::string_view id) {
  const std::string_view prefix = task_id_prefix();  // renewed in a child of fork()
  static const auto value = [] {
    std::array<std::int8_t, 256> v;
    v.fill(-1);
    for (int i = 0; i < 64; ++i) v[static_cast<unsigned char>(kTaskIdDigits[i])] = std::int8_t(i);
    return v;
  }();
  if (id.size() <= prefix.size() || id.size() > prefix.size() + 11 ||
      id.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  if (id[prefix.size()] == kTaskIdDigits[0] && id.size() > prefix.size() + 1) {
    return std::nullopt;  // a leading zero: task_id_string never writes one
  }
  std::uint64_t seq = 0;
  for (char c : id.substr(prefix.size())) {
    int digit = value[static_cast<unsigned char>(c)];
    if (digit < 0 || (seq >> 58) != 0) return std::nullopt;  // not a digit, or > 64 bits
    seq = seq << 6 | static_cast<std::uint64_t>(digit);
  }
  return seq;
}

void resolve_with_result(v1::TaskResult& result, std::size_t items, Sink& sink,
                         std::size_t index) {
  auto malformed = [&](std::string message) {
    sink.fail(index, {ErrorKind::kSerialization, "shoal::SerializationError",
                      std::move(message), ""});
  };
  if (result.has_failure()) {
    sink.fail(index, to_error_info(result.failure()));
    return;
  }
  if (result.items_size() == 0 && result.values().empty()) {
    malformed("the broker sent a result without values");
    return;
  }
  // As many outcomes as calls: a value too many or too few is not this task's answer.
  std::size_t outcomes = static_cast<std::size_t>(result.items_size());
  if (!result.values().empty()) {
    std::size_t offset = 0;
    std::uint32_t count = 0;
    outcomes = msgpack_read_array_header(result.values(), offset, count) ? count : 0;
  }
  if (outcomes != std::max<std::size_t>(1, items)) {
    malformed("the broker sent " + std::to_string(outcomes) + " outcomes for a task of " +
              std::to_string(std::max<std::size_t>(1, items)) + " calls");
    return;
  }
  // One value (a single call's): the values become the reply in place, the header of the
  // array of one turned into the status byte.
  if (outcomes == 1 && one_value_after(result.values(), kArrayOfOne)) {
    std::string reply = std::move(*result.mutable_values());
    reply[0] = kReplyOk;
    sink.complete(index, std::move(reply));
    return;
  }
  if (auto reply = result_to_reply(result); reply.ok()) {
    sink.complete(index, *std::move(reply));
  } else {
    malformed(std::string(reply.status().message()));
  }
}

}  // namespace shoal::internal
