#include "broker/session_outbox.h"

#include <string>
#include <type_traits>
#include <utility>

#include "google/protobuf/io/coded_stream.h"

namespace shoal::broker {

using google::protobuf::io::CodedOutputStream;
using shoal::v1::ServerMessage;

namespace {

bool same_error(const shoal::v1::TaskError& a, const shoal::v1::TaskError& b) {
  return a.kind() == b.kind() && a.message() == b.message() && a.type_name() == b.type_name() &&
         a.where() == b.where();
}

// Moves the results (or accepted ids, or the ids rejected with the same error) of `from`
// into `into`; false when the two are not of one mergeable kind.
bool merge_into(ServerMessage& into, ServerMessage& from) {
  if (into.has_results() && from.has_results()) {
    for (auto& r : *from.mutable_results()->mutable_results()) {
      into.mutable_results()->mutable_results()->Add(std::move(r));
    }
    return true;
  }
  if (into.has_accepted() && from.has_accepted()) {
    for (auto& id : *from.mutable_accepted()->mutable_ids()) {
      into.mutable_accepted()->add_ids(std::move(id));
    }
    return true;
  }
  if (into.has_rejected() && from.has_rejected() &&
      same_error(into.rejected().error(), from.rejected().error())) {
    for (auto& id : *from.mutable_rejected()->mutable_ids()) {
      into.mutable_rejected()->add_ids(std::move(id));
    }
    return true;
  }
  return false;
}

// The results or ids `message` holds.
std::size_t entries(const ServerMessage& message) {
  switch (message.body_case()) {
    case ServerMessage::kResults: return message.results().results_size();
    case ServerMessage::kAccepted: return message.accepted().ids_size();
    case ServerMessage::kRejected: return message.rejected().ids_size();
    case ServerMessage::kUnknown: return message.unknown().ids_size();
    default: return 0;
  }
}

}  // namespace

void SessionOutbox::push(ServerMessage&& message) {
  std::size_t bytes = message.ByteSizeLong();
  if (bytes <= bound_) {
    push_one(std::move(message), bytes);
    return;
  }
  for (ServerMessage& part : split_message(std::move(message), bound_)) {
    std::size_t part_bytes = part.ByteSizeLong();
    push_one(std::move(part), part_bytes);
  }
}

void SessionOutbox::push_one(ServerMessage&& message, std::size_t bytes) {
  const std::size_t memory = bytes + entries(message) * kEntryOverheadBytes;
  bytes_ += bytes;
  memory_ += memory;
  if (!queue_.empty() && sizes_.back() + bytes <= bound_ && merge_into(queue_.back(), message)) {
    sizes_.back() += bytes;
    memories_.back() += memory;
    return;
  }
  queue_.push_back(std::move(message));
  sizes_.push_back(bytes);
  memories_.push_back(memory);
}

ServerMessage SessionOutbox::pop() {
  ServerMessage front = std::move(queue_.front());
  queue_.pop_front();
  bytes_ -= sizes_.front();
  sizes_.pop_front();
  memory_ -= memories_.front();
  memories_.pop_front();
  return front;
}

void SessionOutbox::clear() {
  queue_.clear();
  sizes_.clear();
  bytes_ = 0;
  memories_.clear();
  memory_ = 0;
}

std::vector<ServerMessage> split_message(ServerMessage&& message, std::size_t limit) {
  std::vector<ServerMessage> parts;
  if (message.ByteSizeLong() <= limit) {
    parts.push_back(std::move(message));
    return parts;
  }
  constexpr std::size_t kFieldOverhead = 16;  // tags and lengths around a part's list
  // Moves the items of `from` into parts made by `start`, a new part whenever the next
  // item would take the current one past the limit.
  auto split = [&](auto& from, auto start, std::size_t head) {
    using Items = std::decay_t<decltype(from)>;
    std::size_t bytes = limit;  // of parts.back(): start a part at once
    Items* into = nullptr;
    for (auto& item : from) {
      std::size_t body;
      if constexpr (std::is_same_v<Items, google::protobuf::RepeatedPtrField<std::string>>) {
        body = item.size();
      } else {
        body = item.ByteSizeLong();
      }
      // Its tag (one byte: field 1), its length and itself.
      std::size_t size = 1 + CodedOutputStream::VarintSize64(body) + body;
      if (bytes + size > limit) {
        into = start(parts.emplace_back());
        bytes = head + kFieldOverhead;
      }
      into->Add(std::move(item));
      bytes += size;
    }
  };
  switch (message.body_case()) {
    case ServerMessage::kResults:
      split(*message.mutable_results()->mutable_results(),
            [](ServerMessage& m) { return m.mutable_results()->mutable_results(); }, 0);
      break;
    case ServerMessage::kAccepted:
      split(*message.mutable_accepted()->mutable_ids(),
            [](ServerMessage& m) { return m.mutable_accepted()->mutable_ids(); }, 0);
      break;
    case ServerMessage::kUnknown:
      split(*message.mutable_unknown()->mutable_ids(),
            [](ServerMessage& m) { return m.mutable_unknown()->mutable_ids(); }, 0);
      break;
    case ServerMessage::kRejected: {
      const shoal::v1::TaskError& error = message.rejected().error();
      split(*message.mutable_rejected()->mutable_ids(),
            [&error](ServerMessage& m) {
              *m.mutable_rejected()->mutable_error() = error;  // each part says why
              return m.mutable_rejected()->mutable_ids();
            },
            error.ByteSizeLong());
      break;
    }
    default:
      parts.push_back(std::move(message));
  }
  return parts;
}

}  // namespace shoal::broker
