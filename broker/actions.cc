#include "broker/actions.h"

namespace shoal::broker {

shoal::v1::BrokerMessage* Actions::add_worker_message(const std::string& peer) {
  WorkerSend& send = to_workers.emplace_back();
  send.peer = peer;
  send.message.set_version(1);
  return &send.message;
}

shoal::v1::TaskBatch* Actions::batch_for(WorkerRef w, const std::string& peer) {
  auto [it, inserted] = batch_index_.try_emplace(w, to_workers.size());
  if (inserted) add_worker_message(peer);
  return to_workers[it->second].message.mutable_tasks();
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
