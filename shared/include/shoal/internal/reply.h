#pragma once
// The reply format: what a worker sends back for a task of `count` items.
// A reply is `count` items back to back; each item is one status byte followed by
//   kOk:     the result — sizeof(R) raw bytes in raw mode, else one MessagePack value
//            (nil for void);
//   kFailed: one MessagePack ErrorInfo.
// Raw mode is chosen at compile time by the submitter (trivially copyable results on
// a local pool) and never crosses a host.

#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "shoal/codec.hpp"
#include "shoal/internal/error_info.h"

namespace shoal::internal {

enum ReplyStatus : char { kReplyOk = 0, kReplyFailed = 1 };

// The unit type standing in for a void result.
struct VoidResult {};

template <class R>
using Stored = std::conditional_t<std::is_void_v<R>, VoidResult, R>;

// Appends a successful item to `reply`. A value that cannot be encoded (its adaptor
// throws a std::exception, or memory runs out) throws SerializationError naming R and
// the thrower's message, and leaves `reply` as it was: no half-written item for a reader
// to take as a result.
template <bool kRaw, class R>
void reply_ok(std::string& reply, const R& value) {
  const std::size_t mark = reply.size();
  try {
    reply.push_back(kReplyOk);
    if constexpr (std::is_same_v<R, VoidResult>) {
      if constexpr (!kRaw) reply.push_back(static_cast<char>(0xc0));  // MessagePack nil
    } else if constexpr (kRaw) {
      static_assert(std::is_trivially_copyable_v<R>);
      reply.append(reinterpret_cast<const char*>(&value), sizeof(R));
    } else {
      encode_to(reply, value);
    }
  } catch (const std::exception& e) {
    reply.resize(mark);
    throw SerializationError("the task's result (" + type_name<R>() +
                             ") could not be encoded: " + e.what());
  }
}

// Appends a failed item to `reply`.
void reply_failed(std::string& reply, const ErrorInfo& error);

// MiB-sized reply buffers are recycled: the local engine's collector takes the buffer
// of a big reply here, and the future or map that consumed it gives it back when it is
// destroyed. Each round of big payloads then reuses warm memory; freed and allocated
// anew in another thread's malloc arena, it would fault in fresh pages every time.
//
// Buffers from this size up are recycled.
inline constexpr std::size_t kRecycledReplyBytes = std::size_t{1} << 20;
// An empty string with at least `capacity` bytes reserved, reusing a recycled buffer
// when one is big enough. Thread-safe; never blocks.
std::string take_reply_buffer(std::size_t capacity);
// Keeps `buffer`'s storage for take_reply_buffer() if it is that big and
// take_reply_buffer() has been used in this process (at most 256 MiB are kept, the
// oldest dropped first); else frees it. Thread-safe; never blocks.
void recycle_reply_buffer(std::string&& buffer);

// One decoded item: the value, or the failure.
template <class R>
using ItemOutcome = std::variant<Stored<R>, ErrorInfo>;

// Reads the items of a reply in order. Malformed input becomes a kSerialization
// failure for the item where it was found and for every item after it; a value that
// does not convert (also one other than nil for a void result) fails its item only.
class ReplyReader {
 public:
  explicit ReplyReader(std::string_view reply) : reply_(reply) {}

  // The common case, read fast: the next item into `value` if it succeeded and is whole
  // (raw) or a number that fits R (MessagePack); else false, with nothing read, and
  // next<kRaw, R>() then reads it.
  template <bool kRaw, class R>
  bool next_ok(R& value) {
    if (broken_ || offset_ >= reply_.size() || reply_[offset_] != kReplyOk) return false;
    if constexpr (kRaw) {
      if (reply_.size() - offset_ - 1 < sizeof(R)) return false;
      std::memcpy(static_cast<void*>(&value), reply_.data() + offset_ + 1, sizeof(R));
      offset_ += 1 + sizeof(R);
      return true;
    } else {
      static_assert(kFastNumber<R>);
      std::size_t at = offset_ + 1;
      if (!read_number(reply_, at, value)) return false;
      offset_ = at;
      return true;
    }
  }

  // Reads the next item as an R encoded in raw or MessagePack mode.
  template <bool kRaw, class R>
  ItemOutcome<R> next() {
    if (broken_ || offset_ >= reply_.size()) return broken("reply ended early");
    char status = reply_[offset_++];
    if (status == kReplyFailed) return next_error();
    if (status != kReplyOk) return broken("bad reply status byte");
    if constexpr (std::is_void_v<R>) {
      if constexpr (!kRaw) {
        if (offset_ >= reply_.size()) return broken("reply ended early");
        if (reply_[offset_] != '\xc0') return not_nil();
        ++offset_;  // nil
      }
      return VoidResult{};
    } else if constexpr (kRaw) {
      if (reply_.size() - offset_ < sizeof(R)) return broken("reply ended early");
      R value;
      std::memcpy(static_cast<void*>(&value), reply_.data() + offset_, sizeof(R));
      offset_ += sizeof(R);
      return value;
    } else {
      if constexpr (kFastNumber<R>) {
        R value;
        if (read_number(reply_, offset_, value)) return value;
      }
      msgpack::object_handle handle;
      try {
        handle = unpack_at(reply_, offset_);
      } catch (const std::exception&) {
        return broken("malformed value");
      }
      try {  // a type mismatch fails this item only: the value was consumed
        return from_object<R>(handle.get());
      } catch (const SerializationError& e) {
        return ErrorInfo{ErrorKind::kSerialization, "shoal::SerializationError", e.what(), ""};
      }
    }
  }

 private:
  ErrorInfo next_error();
  ErrorInfo broken(const char* why);
  // Consumes the value where a void result's nil is due: a kSerialization failure.
  ErrorInfo not_nil();

  std::string_view reply_;
  std::size_t offset_ = 0;
  bool broken_ = false;
};

}  // namespace shoal::internal
