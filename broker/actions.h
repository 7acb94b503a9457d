#pragma once
// What the scheduler asks the gateways to do after an event: frames to workers,
// messages to client sessions, answers to waiting GetResult calls. Messages are
// grouped so that one event yields at most one TaskBatch per worker and one Results
// per session.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "broker/task_store.h"
#include "shoal/v1/service.pb.h"
#include "shoal/v1/worker.pb.h"

namespace shoal::broker {

struct WorkerSend {
  std::string peer;  // ZeroMQ routing id
  shoal::v1::BrokerMessage message;
};

struct SessionSend {
  SessionId session;
  shoal::v1::ServerMessage message;
};

struct ResultReply {
  uint64_t token;  // the GetResult call it answers
  shoal::v1::GetResultResponse response;
};

// A growing list of actions; not thread-safe. Pointers returned are valid until the
// next call on this object.
class Actions {
 public:
  std::vector<WorkerSend> to_workers;
  std::vector<SessionSend> to_sessions;
  std::vector<ResultReply> replies;
  std::vector<SessionId> sessions_to_close;  // half-closed sessions with nothing pending

  // A new frame to `peer` (version already set).
  shoal::v1::BrokerMessage* add_worker_message(const std::string& peer);
  // The TaskBatch for worker `w` in this round, created on first use.
  shoal::v1::TaskBatch* batch_for(WorkerRef w, const std::string& peer);
  // The Results message for session `s` in this round, created on first use.
  shoal::v1::Results* results_for(SessionId s);
  // A new message to session `s`.
  shoal::v1::ServerMessage* add_session_message(SessionId s);
  // Forgets everything (keeps capacity).
  void clear();
  bool empty() const {
    return to_workers.empty() && to_sessions.empty() && replies.empty() &&
           sessions_to_close.empty();
  }

 private:
  absl::flat_hash_map<WorkerRef, size_t> batch_index_;
  absl::flat_hash_map<SessionId, size_t> results_index_;
};

}  // namespace shoal::broker
