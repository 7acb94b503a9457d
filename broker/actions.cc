#include "broker/actions.h"

#include <cstring>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace shoal::broker {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedOutputStream;

shoal::v1::BrokerMessage* Actions::add_worker_message(const std::string& peer) {
  WorkerSend& send = to_workers.emplace_back();
  send.peer = peer;
  send.message.set_version(1);
  return &send.message;
}

void Actions::add_task(WorkerRef w, const std::string& peer, const shoal::v1::Task& task,
                       std::string_view args, size_t max_frame_bytes) {
  auto [it, inserted] = batch_index_.try_emplace(w, to_workers.size());
  if (!inserted) {
    const EncodedTaskBatch& batch = to_workers[it->second].task_batch;
    // Frame overhead (version and the length of `tasks`) is at most 16 bytes, and a
    // task's fields but its arguments take well under 64 KiB (ids and names are bounded):
    // entry_bytes() is only worked out near the limit.
    if (batch.bytes() + args.size() + (64 << 10) > max_frame_bytes &&
        batch.bytes() + EncodedTaskBatch::entry_bytes(task, args) + 16 > max_frame_bytes) {
      it->second = to_workers.size();  // this one is full: a new batch to the same peer
      inserted = true;
    }
  }
  if (inserted) to_workers.emplace_back().peer = peer;
  to_workers[it->second].task_batch.add(task, args);
}

namespace {
constexpr size_t kOwnPieceBytes = 64 << 10;  // arguments this big get a piece of their own
constexpr size_t kPieceBytes = 1 << 20;      // small tasks fill pieces up to this
}  // namespace

size_t EncodedTaskBatch::entry_bytes(const shoal::v1::Task& task, std::string_view args) {
  const size_t args_field =
      args.empty() ? 0 : 1 + WireFormatLite::UInt32Size(uint32_t(args.size())) + args.size();
  const size_t body = task.ByteSizeLong() + args_field;
  return 1 + WireFormatLite::UInt32Size(uint32_t(body)) + body;
}

void EncodedTaskBatch::add(const shoal::v1::Task& task, std::string_view args) {
  // TaskBatch.tasks is field 1: tag, length, then the Task, whose field 3 (args) is
  // written after the others (protobuf accepts fields in any order).
  const size_t head = task.ByteSizeLong();  // cached: SerializeWithCachedSizes follows
  const size_t args_field =
      args.empty() ? 0 : 1 + WireFormatLite::UInt32Size(uint32_t(args.size())) + args.size();
  const size_t body = head + args_field;
  const size_t entry = 1 + WireFormatLite::UInt32Size(uint32_t(body)) + body;
  const bool own = args.size() >= kOwnPieceBytes;
  if (pieces_.empty() || own || !back_shared_ || pieces_.back().size() >= kPieceBytes) {
    pieces_.emplace_back().reserve(own ? entry : kPieceBytes / 16);
    back_shared_ = !own;
  }
  std::string& out = pieces_.back();
  const size_t at = out.size();
  // All but the arguments written in place; they are appended (resizing over them first
  // would clear a MiB only to overwrite it).
  out.resize(at + entry - args.size());
  auto* p = reinterpret_cast<uint8_t*>(out.data() + at);
  p = WireFormatLite::WriteTagToArray(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED, p);
  p = CodedOutputStream::WriteVarint32ToArray(uint32_t(body), p);
  p = task.SerializeWithCachedSizesToArray(p);
  if (!args.empty()) {
    p = WireFormatLite::WriteTagToArray(3, WireFormatLite::WIRETYPE_LENGTH_DELIMITED, p);
    p = CodedOutputStream::WriteVarint32ToArray(uint32_t(args.size()), p);
    out.append(args);
  }
  size_ += entry;
}

std::vector<uint64_t> EncodedTaskBatch::leases() const {
  std::vector<uint64_t> leases;
  shoal::v1::TaskBatch tasks;
  for (const std::string& piece : pieces_) {
    // A piece is whole `tasks` entries: a TaskBatch of its own.
    tasks.Clear();
    tasks.ParseFromString(piece);
    for (const shoal::v1::Task& task : tasks.tasks()) leases.push_back(task.lease());
  }
  return leases;
}

size_t EncodedTaskBatch::frame_size() const {
  // version (field 1, varint 1) + tasks (field 3, length-delimited).
  return 2 + 1 + WireFormatLite::UInt32Size(uint32_t(size_)) + size_;
}

void EncodedTaskBatch::write_frame(uint8_t* p) const {
  p = WireFormatLite::WriteUInt32ToArray(1, 1, p);
  p = WireFormatLite::WriteTagToArray(3, WireFormatLite::WIRETYPE_LENGTH_DELIMITED, p);
  p = CodedOutputStream::WriteVarint32ToArray(uint32_t(size_), p);
  for (const std::string& piece : pieces_) {
    memcpy(p, piece.data(), piece.size());
    p += piece.size();
  }
}

std::string EncodedTaskBatch::frame() const {
  std::string frame(frame_size(), '\0');
  write_frame(reinterpret_cast<uint8_t*>(frame.data()));
  return frame;
}

shoal::v1::Results* Actions::results_for(SessionId s) {
  auto [it, inserted] = results_index_.try_emplace(s, to_sessions.size());
  if (inserted) add_session_message(s);
  return to_sessions[it->second].message.mutable_results();
}

shoal::v1::ServerMessage* Actions::add_session_message(SessionId s) {
  SessionSend& send = to_sessions.emplace_back();
  send.session = s;
  return &send.message;
}

void Actions::clear() {
  to_workers.clear();
  to_sessions.clear();
  replies.clear();
  sessions_to_close.clear();
  batch_index_.clear();
  results_index_.clear();
}

}  // namespace shoal::broker
