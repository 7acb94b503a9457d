#include "broker/session_outbox.h"

#include <utility>

namespace shoal::broker {

using shoal::v1::ServerMessage;

namespace {

// Moves the results (or accepted ids) of `from` into `into`; false when the two are
// not of one mergeable kind.
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
  return false;
}

}  // namespace

void SessionOutbox::push(ServerMessage&& message) {
  std::size_t bytes = message.ByteSizeLong();
  if (bytes <= bound_ || !message.has_results()) {
    push_one(std::move(message), bytes);
    return;
  }
  for (ServerMessage& part : split_results(std::move(message), bound_)) {
    std::size_t part_bytes = part.ByteSizeLong();
    push_one(std::move(part), part_bytes);
  }
}

void SessionOutbox::push_one(ServerMessage&& message, std::size_t bytes) {
  if (!queue_.empty() && back_bytes_ + bytes <= bound_ && merge_into(queue_.back(), message)) {
    back_bytes_ += bytes;
    return;
  }
  queue_.push_back(std::move(message));
  back_bytes_ = bytes;
}

ServerMessage SessionOutbox::pop() {
  ServerMessage front = std::move(queue_.front());
  queue_.pop_front();
  return front;
}

std::vector<ServerMessage> split_results(ServerMessage&& message, std::size_t limit) {
  std::vector<ServerMessage> parts;
  if (!message.has_results() || message.ByteSizeLong() <= limit) {
    parts.push_back(std::move(message));
    return parts;
  }
  constexpr std::size_t kFieldOverhead = 16;  // tags and lengths around a result, at most
  std::size_t bytes = limit;                  // of parts.back(): start a part at once
  for (auto& result : *message.mutable_results()->mutable_results()) {
    std::size_t size = result.ByteSizeLong() + kFieldOverhead;
    if (bytes + size > limit) {
      parts.emplace_back().mutable_results();
      bytes = kFieldOverhead;
    }
    *parts.back().mutable_results()->add_results() = std::move(result);
    bytes += size;
  }
  return parts;
}

}  // namespace shoal::broker
