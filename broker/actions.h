#pragma once
// What the scheduler asks the gateways to do after an event: frames to workers,
// messages to client sessions, answers to waiting GetResult calls. Messages are
// grouped so that one event yields at most one TaskBatch per worker and one Results
// per session.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "broker/task_store.h"
#include "shoal/v1/service.pb.h"
#include "shoal/v1/worker.pb.h"

namespace shoal::broker {

struct WorkerSend {
  std::string peer;  // ZeroMQ routing id
  shoal::v1::BrokerMessage message;  // unset body when this send is a task batch
  // A TaskBatch already encoded (the bytes of its `tasks` entries), written task by task
  // by Actions::add_task so that leasing a task allocates nothing. Non-empty only when
  // `message` has no body; the frame is then BrokerMessage{version: 1, tasks: <this>}.
  std::string task_batch;
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
  // Appends `task` to the TaskBatch for worker `w` in this round (one per worker).
  void add_task(WorkerRef w, const std::string& peer, const shoal::v1::Task& task);
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

// The encoded BrokerMessage of a task batch (`task_batch` of a WorkerSend).
std::string encode_task_batch_frame(std::string_view task_batch);
// Writes that frame into `out` (which needs task_batch_frame_size bytes); returns its end.
uint8_t* write_task_batch_frame(std::string_view task_batch, uint8_t* out);
size_t task_batch_frame_size(std::string_view task_batch);

}  // namespace shoal::broker
