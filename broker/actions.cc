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

void Actions::add_task(WorkerRef w, const std::string& peer, const shoal::v1::Task& task) {
  auto [it, inserted] = batch_index_.try_emplace(w, to_workers.size());
  if (inserted) to_workers.emplace_back().peer = peer;
  std::string& out = to_workers[it->second].task_batch;
  // TaskBatch.tasks is field 1, length-delimited: tag, length, then the Task's bytes.
  const size_t size = task.ByteSizeLong();
  const size_t at = out.size();
  out.resize(at + 1 + WireFormatLite::UInt32Size(uint32_t(size)) + size);
  auto* p = reinterpret_cast<uint8_t*>(out.data() + at);
  p = WireFormatLite::WriteTagToArray(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED, p);
  p = CodedOutputStream::WriteVarint32ToArray(uint32_t(size), p);
  task.SerializeWithCachedSizesToArray(p);
}

size_t task_batch_frame_size(std::string_view task_batch) {
  // version (field 1, varint 1) + tasks (field 3, length-delimited).
  return 2 + 1 + WireFormatLite::UInt32Size(uint32_t(task_batch.size())) + task_batch.size();
}

uint8_t* write_task_batch_frame(std::string_view task_batch, uint8_t* p) {
  p = WireFormatLite::WriteUInt32ToArray(1, 1, p);
  p = WireFormatLite::WriteTagToArray(3, WireFormatLite::WIRETYPE_LENGTH_DELIMITED, p);
  p = CodedOutputStream::WriteVarint32ToArray(uint32_t(task_batch.size()), p);
  memcpy(p, task_batch.data(), task_batch.size());
  return p + task_batch.size();
}

std::string encode_task_batch_frame(std::string_view task_batch) {
  std::string frame(task_batch_frame_size(task_batch), '\0');
  write_task_batch_frame(task_batch, reinterpret_cast<uint8_t*>(frame.data()));
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
