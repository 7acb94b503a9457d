#pragma once
// One client's Session stream on the client gateway's completion queue: its reads parsed
// and posted to the scheduler's thread, its replies written from an outbox, and the bound
// on what a client that does not read can make the broker hold for it. ClientGateway
// (client_gateway.h) creates the first AsyncSession, finds them by id and sends through
// them; the stream's state machine lives apart from the gateway as it is most of the code.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "broker/client_events.h"
#include "broker/internal/client_call_util.h"
#include "broker/session_outbox.h"
#include "google/protobuf/arena.h"
#include "grpcpp/alarm.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/async_stream.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/status.h"
#include "shoal/v1/service.pb.h"

namespace shoal::broker {

class ClientGateway;

// One Session stream on the gateway's completion queue. Reads are parsed and turned into
// events on the queue's thread (bytes that do not parse end the stream with
// INVALID_ARGUMENT once the replies owed to what was read before them are written: the
// scheduler's thread sends them, then fail()s the session); writes go out one at a time from
// an outbox in which consecutive Results (or Accepted) messages are merged, so a slow
// reader costs fewer, larger writes. A client that does not read its results cannot
// make the broker hold more and more for it: what it has not read (the outbox) and what
// was read from it but not yet handled by the scheduler's thread (the posted messages'
// arenas, which become replies in the outbox) count together; past max_unread_bytes the
// message it sent is held and its stream is not read (what it sends waits in gRPC's
// flow control) until writes and the scheduler's thread took that down to half. Each
// object first waits for a call; once one
// arrives it asks for the next. It deletes itself once gRPC has said the call is done
// and none of its operations is outstanding.
class AsyncSession {
 public:
  enum class Op : std::uint8_t { kAccept, kRead, kWrite, kFinish, kDone, kResume };
  struct Tag final : internal::CqTag {
    Tag(AsyncSession* s, Op o) : session(s), op(o) {}
    void proceed(bool ok) override { session->on_event(op, ok); }
    AsyncSession* session;
    Op op;
  };

  // Asks gRPC for the next Session call on `cq`.
  AsyncSession(ClientGateway* gateway, grpc::ServerCompletionQueue* cq);

  // One completion of this session's operations (the queue's thread). May delete this.
  void on_event(Op op, bool ok);

  // Queues a message (the scheduler's thread). Thread-safe.
  void enqueue(shoal::v1::ServerMessage&& message);
  // Finishes with `status` (OK unless given) once the outbox is written; a later call
  // changes nothing. Thread-safe.
  void close_when_drained(grpc::Status status = grpc::Status::OK);
  // The scheduler's thread handled a message of `bytes` posted by take_read(): reading
  // goes on (on the queue's thread) if it waited for that. Thread-safe.
  void release(std::size_t bytes);
  // Finishes now with `status`, dropping what is queued. Thread-safe.
  void abort(grpc::Status status);
  // Tests only: reading waits for the client to read (or the scheduler to catch up).
  bool read_paused_for_testing();

 private:
  void accept();
  // Ends a call refused before it started.
  void refuse(grpc::Status status);
  void on_read(bool ok);
  // Posts the message read (with its arena, counted as in flight) and starts the next read.
  void take_read();
  // Counts the message read (its arena's size) as posted and not yet handled; before it
  // is posted, as the scheduler's thread may handle it at once. Returns the count.
  std::size_t charge();
  // The message read is bad: nothing more is read, and the scheduler's thread, once it
  // has sent the replies owed to the messages before it (their Accepted, results it
  // has), ends the stream with `status` (ClientGateway::fail). Without that thread (the
  // broker is stopping) it ends now.
  void reject(grpc::Status status);
  // True while the client has more than max_unread_bytes of messages to read or in
  // flight: the message just read waits, unposted and with no read after it, for
  // pump_and_unpause (after a write, or a release()).
  bool pause_if_unread();
  // With mu_ held: what the client has not read, and what was read from it and is not
  // handled yet (it becomes replies).
  std::size_t unanswered() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // With mu_ held: a paused read may go on, being down to half of the bound that paused it.
  bool may_resume() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // With mu_ held: every session together holds more than the gateway's total bound.
  bool all_over_bound() const;
  // With mu_ held: adds the outbox's change since it held `before` bytes to the total.
  void count_unread(std::size_t before) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void read_into_new_arena();
  void start_read();
  // Starts the next write; true when reading was paused and may go on (the caller
  // takes the message read: the queue's thread owns it).
  bool pump_and_unpause();
  // Starts the next write or the finish. The operations only queue work for gRPC (their
  // completions come through the queue), so they may start under mu_.
  void pump_locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The call is done and nothing of ours is outstanding.
  void end();

  ClientGateway* gateway_;
  grpc::ServerCompletionQueue* cq_;
  grpc::ServerContext context_;
  grpc::ServerAsyncReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer> stream_;
  Tag accept_tag_{this, Op::kAccept}, read_tag_{this, Op::kRead}, write_tag_{this, Op::kWrite},
      finish_tag_{this, Op::kFinish}, done_tag_{this, Op::kDone}, resume_tag_{this, Op::kResume};
  grpc::Alarm resume_alarm_;  // brings a release() to the queue's thread
  SessionId id_ = 0;
  bool registered_ = false;  // the queue's thread only
  // The read in flight (the queue's thread only), as gRPC received it, then parsed into
  // its own arena, which a submit hands over to the scheduler's thread with the batch.
  grpc::ByteBuffer read_;
  std::unique_ptr<google::protobuf::Arena> arena_;
  shoal::v1::ClientMessage* in_ = nullptr;
  absl::Mutex mu_;
  SessionOutbox outbox_ ABSL_GUARDED_BY(mu_);
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;  // reads, writes and finishes in flight
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool close_when_drained_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status close_status_ ABSL_GUARDED_BY(mu_);    // with close_when_drained_
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;     // in_ waits: too much unread
  bool resume_pending_ ABSL_GUARDED_BY(mu_) = false;  // resume_alarm_ is set
  // The `bytes` of posted messages the scheduler's thread has not handled yet.
  std::size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // no more operations may start
  bool done_ ABSL_GUARDED_BY(mu_) = false;      // gRPC said the call is over
  std::optional<grpc::Status> abort_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::broker
