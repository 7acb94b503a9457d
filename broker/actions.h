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

// A TaskBatch encoded task by task (the bytes of its `tasks` entries), so that leasing a
// task builds no message. Small tasks share a piece; a task with large arguments gets a
// piece of its own, sized exactly, so a batch of big payloads is never regrown.
class EncodedTaskBatch {
 public:
  // Appends `task` with `args` as its arguments (task.args() itself must be empty).
  void add(const shoal::v1::Task& task, std::string_view args);
  bool empty() const { return size_ == 0; }
  // The bytes of the `tasks` entries added so far.
  size_t bytes() const { return size_; }
  // What add(task, args) adds to bytes().
  static size_t entry_bytes(const shoal::v1::Task& task, std::string_view args);
  // The `lease` of each task added, in order: what the scheduler takes back when the
  // batch cannot be sent (Scheduler::undeliverable). Decoded from the batch (a rare
  // path: keeping them as tasks are added cost an allocation per round and worker).
  std::vector<uint64_t> leases() const;
  // The frame BrokerMessage{version: 1, tasks: <this batch>}: its size, and writing it
  // to `out` (which needs frame_size() bytes).
  size_t frame_size() const;
  void write_frame(uint8_t* out) const;
  std::string frame() const;

 private:
  std::vector<std::string> pieces_;
  bool back_shared_ = false;  // small tasks may be appended to pieces_.back()
  size_t size_ = 0;           // of all pieces
};

struct WorkerSend {
  std::string peer;  // ZeroMQ routing id
  shoal::v1::BrokerMessage message;  // unset body when this send is a task batch
  EncodedTaskBatch task_batch;       // non-empty only when `message` has no body
};

// Frames to one worker connection that could not be sent: the connection is gone
// (ZeroMQ's EHOSTUNREACH), so none of them reached the worker.
struct UndeliveredSend {
  std::string peer;              // ZeroMQ routing id
  std::vector<uint64_t> leases;  // of the tasks in the batches among them (may be none)
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
  // Appends `task` (with `args` as its arguments) to the TaskBatch for worker `w` in
  // this round, which goes to `peer`: one batch per worker and round, but a new one
  // whenever the task would take the batch's frame past `max_frame_bytes` (a task alone
  // always gets a batch, whatever its size).
  void add_task(WorkerRef w, const std::string& peer, const shoal::v1::Task& task,
                std::string_view args, size_t max_frame_bytes);
  // Worker `w` is gone: its batch of this round keeps going to its peer, and a worker
  // that takes the ref `w` later in the round gets a batch of its own, sent to its peer.
  void end_batch(WorkerRef w) { batch_index_.erase(w); }
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
