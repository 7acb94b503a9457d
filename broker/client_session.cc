#include "broker/client_session.h"

#include <algorithm>
#include <climits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "broker/client_gateway.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "shoal/internal/name_limits.h"

namespace shoal::broker {

using internal::CqTag;
using internal::parse;
using internal::unauthenticated;
using internal::unavailable;
using shoal::v1::ClientMessage;
using shoal::v1::ServerMessage;

namespace {

// How many tasks (SubmitBatch.tasks) and ids (Watch.ids) an encoded ClientMessage holds,
// counted on the wire without parsing it: a message of a few bytes per entry would
// otherwise become as many objects of a hundred bytes or more before it could be
// refused. Bytes that are not a message stop the count (parsing refuses them).
struct Entries {
  std::size_t tasks = 0;
  std::size_t ids = 0;
};
Entries count_entries(grpc::ByteBuffer& bytes) {
  using google::protobuf::internal::WireFormatLite;
  constexpr std::uint32_t kListTag =  // field 1 of SubmitBatch and of Watch
      WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  Entries entries;
  grpc::ProtoBufferReader reader(&bytes);
  google::protobuf::io::CodedInputStream in(&reader);
  while (std::uint32_t tag = in.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    if ((field != ClientMessage::kSubmitFieldNumber && field != ClientMessage::kWatchFieldNumber) ||
        WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(&in, tag)) break;
      continue;
    }
    std::uint32_t length;
    if (!in.ReadVarint32(&length)) break;
    const auto limit = in.PushLimit(static_cast<int>(std::min<std::uint32_t>(length, INT_MAX)));
    std::size_t& count = field == ClientMessage::kSubmitFieldNumber ? entries.tasks : entries.ids;
    while (std::uint32_t inner = in.ReadTag()) {
      count += inner == kListTag;
      if (!WireFormatLite::SkipField(&in, inner)) return entries;
    }
    in.PopLimit(limit);
  }
  return entries;
}

// Why a Session message is refused before it is parsed ("": it is not): more entries
// than a message may hold.
std::string too_many_entries(grpc::ByteBuffer& bytes) {
  const Entries entries = count_entries(bytes);
  constexpr std::size_t kMax = internal::kMaxSessionEntries;
  if (entries.tasks > kMax) {
    return absl::StrCat("a SubmitBatch holds ", entries.tasks, " tasks, more than the ", kMax,
                        " a message may hold: split it");
  }
  if (entries.ids > kMax) {
    return absl::StrCat("a Watch holds ", entries.ids, " ids, more than the ", kMax,
                        " a message may hold: split it");
  }
  return "";
}

}  // namespace

AsyncSession::AsyncSession(ClientGateway* gateway, grpc::ServerCompletionQueue* cq)
    : gateway_(gateway),
      cq_(cq),
      stream_(&context_),
      outbox_(std::min(kMergedMessageBytes, gateway->options_.max_send_bytes)) {
  context_.AsyncNotifyWhenDone(static_cast<CqTag*>(&done_tag_));
  gateway_->RequestSession(&context_, &stream_, cq, cq, static_cast<CqTag*>(&accept_tag_));
}

void AsyncSession::on_event(Op op, bool ok) {
  switch (op) {
    case Op::kAccept:
      if (!ok) {  // the server is shutting down; the call never started
        delete this;
        return;
      }
      new AsyncSession(gateway_, cq_);  // the next client's call
      accept();
      break;
    case Op::kRead: on_read(ok); break;
    case Op::kWrite: {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok && !abort_) abort_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed");
      break;
    }
    case Op::kFinish: break;
    case Op::kDone: {
      absl::MutexLock lock(&mu_);
      done_ = true;
      finished_ = true;  // the call is over: no write or finish may start
      const std::size_t before = outbox_.memory();
      outbox_.clear();
      count_unread(before);
      // What is posted is the scheduler's now: no more is read, so it stops counting.
      gateway_->unread_total_.fetch_sub(in_flight_, std::memory_order_relaxed);
      in_flight_ = 0;
      break;
    }
    case Op::kResume: {
      absl::MutexLock lock(&mu_);
      resume_pending_ = false;
      break;
    }
  }
  bool last;
  {
    absl::MutexLock lock(&mu_);
    if (op != Op::kAccept && op != Op::kDone) --outstanding_;
    last = done_ && outstanding_ == 0;
  }
  if (last) {
    end();
    return;
  }
  if ((op == Op::kWrite || op == Op::kResume) && pump_and_unpause()) take_read();
}

void AsyncSession::enqueue(ServerMessage&& message) {
  absl::MutexLock lock(&mu_);
  if (finished_ || abort_) return;
  const std::size_t before = outbox_.memory();
  outbox_.push(std::move(message));
  count_unread(before);
  pump_locked();
}

void AsyncSession::close_when_drained(grpc::Status status) {
  absl::MutexLock lock(&mu_);
  if (!close_when_drained_) {
    close_when_drained_ = true;
    close_status_ = std::move(status);
  }
  pump_locked();
}

void AsyncSession::release(std::size_t bytes) {
  absl::MutexLock lock(&mu_);
  bytes = std::min(bytes, in_flight_);  // 0 once the call is done
  in_flight_ -= bytes;
  gateway_->unread_total_.fetch_sub(bytes, std::memory_order_relaxed);
  if (!read_paused_ || resume_pending_ || finished_ || !may_resume()) return;
  resume_pending_ = true;
  ++outstanding_;
  resume_alarm_.Set(cq_, gpr_now(GPR_CLOCK_MONOTONIC), static_cast<CqTag*>(&resume_tag_));
}

void AsyncSession::abort(grpc::Status status) {
  absl::MutexLock lock(&mu_);
  if (!abort_) abort_ = std::move(status);
  pump_locked();
}

bool AsyncSession::read_paused_for_testing() {
  absl::MutexLock lock(&mu_);
  return read_paused_;
}

void AsyncSession::accept() {
  if (!gateway_->authorized(context_)) {
    refuse(unauthenticated());
    return;
  }
  id_ = gateway_->add(this);
  if (!gateway_->inbox_->post(SessionOpened{id_})) {
    gateway_->forget(id_);
    refuse(unavailable());
    return;
  }
  registered_ = true;
  read_into_new_arena();
}

void AsyncSession::refuse(grpc::Status status) {
  absl::MutexLock lock(&mu_);
  abort_ = std::move(status);
  pump_locked();
}

void AsyncSession::on_read(bool ok) {
  if (!ok) {  // the client half-closed (or the call broke: kDone follows)
    if (registered_) gateway_->inbox_->post(SessionHalfClosed{id_});
    return;
  }
  if (std::string why = too_many_entries(read_); !why.empty()) {
    read_.Clear();
    reject(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why));
    return;
  }
  if (grpc::Status status = parse(read_, in_, "Session message"); !status.ok()) {
    reject(std::move(status));
    return;
  }
  if (!pause_if_unread()) take_read();
}

void AsyncSession::take_read() {
  bool posted;
  switch (in_->body_case()) {
    case ClientMessage::kSubmit: {
      const std::size_t bytes = charge();
      posted =
          gateway_->inbox_->post(SubmitEvent{id_, std::move(arena_), in_->mutable_submit(), bytes});
      if (!posted) release(bytes);
      break;
    }
    case ClientMessage::kWatch: {
      const std::size_t bytes = charge();
      posted =
          gateway_->inbox_->post(WatchEvent{id_, std::move(arena_), in_->mutable_watch(), bytes});
      if (!posted) release(bytes);
      break;
    }
    default:
      reject(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a ClientMessage must hold a submit or a watch"));
      return;
  }
  read_into_new_arena();  // the message went away with its arena
}

std::size_t AsyncSession::charge() {
  const std::size_t bytes = static_cast<std::size_t>(arena_->SpaceAllocated());
  absl::MutexLock lock(&mu_);
  in_flight_ += bytes;
  gateway_->unread_total_.fetch_add(bytes, std::memory_order_relaxed);
  return bytes;
}

void AsyncSession::reject(grpc::Status status) {
  in_->Clear();
  if (!gateway_->inbox_->post(BadClientMessage{id_, status})) abort(std::move(status));
}

bool AsyncSession::pause_if_unread() {
  absl::MutexLock lock(&mu_);
  const std::size_t unread = unanswered();
  read_paused_ = unread > gateway_->options_.max_unread_bytes ||
                 (all_over_bound() && unread > outbox_.merge_limit());
  return read_paused_;
}

std::size_t AsyncSession::unanswered() const { return outbox_.memory() + in_flight_; }

bool AsyncSession::may_resume() const {
  const std::size_t unread = unanswered();
  return unread <= gateway_->options_.max_unread_bytes / 2 &&
         !(all_over_bound() && unread > outbox_.merge_limit() / 2);
}

bool AsyncSession::all_over_bound() const {
  return gateway_->unread_total_.load(std::memory_order_relaxed) >
         gateway_->options_.max_unread_total_bytes;
}

void AsyncSession::count_unread(std::size_t before) {
  const std::size_t now = outbox_.memory();
  if (now >= before) {
    gateway_->unread_total_.fetch_add(now - before, std::memory_order_relaxed);
  } else {
    gateway_->unread_total_.fetch_sub(before - now, std::memory_order_relaxed);
  }
}

void AsyncSession::read_into_new_arena() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 16 << 10;
  options.max_block_size = 1 << 20;
  arena_ = std::make_unique<google::protobuf::Arena>(options);
  in_ = google::protobuf::Arena::CreateMessage<ClientMessage>(arena_.get());
  start_read();
}

void AsyncSession::start_read() {
  absl::MutexLock lock(&mu_);
  if (finished_) return;
  ++outstanding_;
  stream_.Read(&read_, static_cast<CqTag*>(&read_tag_));
}

bool AsyncSession::pump_and_unpause() {
  absl::MutexLock lock(&mu_);
  pump_locked();
  if (!read_paused_ || finished_ || !may_resume()) return false;
  read_paused_ = false;
  return true;
}

void AsyncSession::pump_locked() {
  if (finished_ || writing_) return;
  if (abort_) {
    finished_ = true;
    const std::size_t before = outbox_.memory();
    outbox_.clear();
    count_unread(before);
    ++outstanding_;
    stream_.Finish(*abort_, static_cast<CqTag*>(&finish_tag_));
  } else if (!outbox_.empty()) {
    const std::size_t before = outbox_.memory();
    const ServerMessage message = outbox_.pop();
    count_unread(before);
    // Serialized as gRPC did for a ServerMessage: once, into slices Write() takes refs to.
    grpc::ByteBuffer bytes;
    bool own;
    if (grpc::Status status =
            grpc::SerializationTraits<ServerMessage>::Serialize(message, &bytes, &own);
        !status.ok()) {
      abort_ = std::move(status);
      pump_locked();  // finishes with it
      return;
    }
    writing_ = true;
    ++outstanding_;
    stream_.Write(bytes, static_cast<CqTag*>(&write_tag_));
  } else if (close_when_drained_) {
    finished_ = true;
    ++outstanding_;
    stream_.Finish(close_status_, static_cast<CqTag*>(&finish_tag_));
  }
}

void AsyncSession::end() {
  if (registered_) {
    gateway_->forget(id_);  // after this no other thread can reach us
    gateway_->inbox_->post(SessionClosed{id_});
  }
  delete this;
}

}  // namespace shoal::broker
