#pragma once
// Events the client gateway (its completion-queue thread) hands to the scheduler's
// thread, and the seam through which that thread answers sessions.

#include <cstddef>
#include <memory>
#include <variant>

#include "broker/event_inbox.h"
#include "broker/task_store.h"
#include "google/protobuf/arena.h"
#include "grpcpp/support/status.h"
#include "shoal/v1/service.pb.h"

namespace shoal::broker {

struct SessionOpened { SessionId session; };
struct SessionClosed { SessionId session; };
struct SessionHalfClosed { SessionId session; };
// A batch parsed into its own arena: one block allocation per batch instead of several
// per task, and freeing it is one call. `batch` lives in `arena`. `bytes` (the arena's
// size) counts against what its session may have read and not had handled, until the
// scheduler's thread says it handled it (SessionSink::handled).
struct SubmitEvent {
  SessionId session;
  std::unique_ptr<google::protobuf::Arena> arena;
  shoal::v1::SubmitBatch* batch;
  std::size_t bytes = 0;
};
// Ids to watch, parsed and counted as a SubmitEvent's batch.
struct WatchEvent {
  SessionId session;
  std::unique_ptr<google::protobuf::Arena> arena;
  shoal::v1::Watch* watch;
  std::size_t bytes = 0;
};
// A message that does not parse, or a request that cannot be served. On a session
// (`session` not 0) it ends the stream with `status` once the replies owed to what the
// session sent before it are written; a unary call the gateway answers itself.
struct BadClientMessage {
  SessionId session = 0;
  grpc::Status status;
};

// Answers one unary call.
class UnaryResponder {
 public:
  virtual ~UnaryResponder() = default;
  // Sends the response (only if `status` is OK) and the status. Call once, from any
  // thread; the call's request, response and responder are freed afterwards.
  virtual void Finish(const grpc::Status& status) = 0;
};

// A unary call waiting for its answer: the scheduler's thread fills *response and
// calls responder->Finish. request and response live until then.
template <class Request, class Response>
struct UnaryCall {
  UnaryResponder* responder;
  const Request* request;
  Response* response;
};
using GetResultCall = UnaryCall<shoal::v1::GetResultRequest, shoal::v1::GetResultResponse>;
using CancelCall = UnaryCall<shoal::v1::CancelRequest, shoal::v1::CancelResponse>;
using StatsCall = UnaryCall<shoal::v1::StatsRequest, shoal::v1::Stats>;
using ListWorkersCall = UnaryCall<shoal::v1::ListWorkersRequest, shoal::v1::ListWorkersResponse>;
using ListQueuesCall = UnaryCall<shoal::v1::ListQueuesRequest, shoal::v1::ListQueuesResponse>;

// At most this many CancelRequest.more_ids in one call (service.proto): one call's work
// in the scheduler's thread stays bounded. The gateway refuses more before parsing.
inline constexpr int kMaxCancelIds = 10'000;

// A unary call posted to the scheduler's thread ended before its answer (the client
// cancelled it, or its deadline passed): a GetResult waiting for its task is dropped
// and finished. `responder` lives until finished; an answered call's event is ignored.
struct UnaryCallEnded {
  UnaryResponder* responder;
};

using ClientEvent = std::variant<SessionOpened, SessionClosed, SessionHalfClosed, SubmitEvent,
                                 WatchEvent, BadClientMessage, GetResultCall, CancelCall, StatsCall,
                                 ListWorkersCall, ListQueuesCall, UnaryCallEnded>;
using ClientInbox = EventInbox<ClientEvent>;

// Where the scheduler's thread sends session traffic. Implementations are thread-safe.
class SessionSink {
 public:
  virtual ~SessionSink() = default;
  // Queues `message` on session `s`; dropped if the session is gone.
  virtual void send(SessionId s, shoal::v1::ServerMessage&& message) = 0;
  // Ends session `s` with OK once everything queued on it is written.
  virtual void close(SessionId s) = 0;
  // Ends session `s` with `status` (an error) once everything queued on it is written;
  // nothing more is read from it.
  virtual void fail(SessionId s, grpc::Status status) = 0;
  // A SubmitEvent or WatchEvent of session `s` holding `bytes` (its `bytes`) was handled
  // and its replies sent: it no longer counts against what the session may have read
  // and not had answered, so reading it may go on.
  virtual void handled(SessionId s, std::size_t bytes) = 0;
};

}  // namespace shoal::broker
