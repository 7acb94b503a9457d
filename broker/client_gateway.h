#pragma once
// The clients' side of the broker: the gRPC TaskService. Every request becomes a
// ClientEvent for the scheduler's thread; answers come back through the SessionSink
// interface and each unary call's UnaryResponder. Garbage is counted and answered with
// a clear status, never a crash.
//
// Every call uses gRPC's completion-queue API, served by one thread of ours: a read is
// parsed and posted on the thread that polled it. (With the callback API each message
// crossed several of gRPC's own threads: about five more wake-ups per round trip, on
// the latency path.) Every method is served as bytes the gateway parses itself (the
// unary ones through the generic API, to check the token before reading a request):
// gRPC's own parsing took a Session message that does not parse for the client's
// half-close, and answered a unary request that does not with INTERNAL; the gateway
// counts either (Stats.bad_client_messages) and ends the call with INVALID_ARGUMENT (a
// Session once the replies owed to the messages before the bad one are written).
//
// ClientGateway holds the open sessions and the queue's thread; each call is an object
// of its own: a Session stream an AsyncSession (broker/client_session.h), a unary call
// an AsyncUnary (broker/client_unary.h).

#include <atomic>
#include <climits>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "broker/client_events.h"
#include "broker/logger.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/server_builder.h"
#include "shoal/v1/service.grpc.pb.h"

namespace shoal::broker {

class AsyncSession;
class AsyncUnary;

// The largest request a unary call may carry: a Cancel of 1 + kMaxCancelIds ids of the
// longest kind (1,024 bytes; 10.3 MB on the wire), with room to spare. Larger ones are
// refused (INVALID_ARGUMENT) before they are parsed.
inline constexpr std::size_t kMaxUnaryRequestBytes = 16 << 20;

// TaskService with Session raw (messages as grpc::ByteBuffer) and the unary methods
// generic: those calls come through the gateway's AsyncGenericService, which sees a
// call's metadata before its request.
using RawTaskService = shoal::v1::TaskService::WithRawMethod_Session<
    shoal::v1::TaskService::WithGenericMethod_GetResult<
        shoal::v1::TaskService::WithGenericMethod_Cancel<
            shoal::v1::TaskService::WithGenericMethod_GetStats<
                shoal::v1::TaskService::WithGenericMethod_ListWorkers<
                    shoal::v1::TaskService::WithGenericMethod_ListQueues<
                        shoal::v1::TaskService::Service>>>>>>;

class ClientGateway final : public RawTaskService, public SessionSink {
 public:
  struct Options {
    std::string auth_token;  // "" = no authentication
    // gRPC's send limit: Results to a client are merged or split to stay within it.
    std::size_t max_send_bytes = INT_MAX;
    // A session holding more than this of messages its client has not read yet, and of
    // messages read from it that the scheduler's thread has not handled yet (their
    // parsed size), is not read from (its submissions wait in gRPC's flow control) until
    // it is down to half.
    std::size_t max_unread_bytes = SIZE_MAX;
    // Nor, while all sessions together hold more than this, is one holding more than a
    // merged message (4 MiB, or the send limit when less), until it is down to half of
    // that: many clients that do not read cannot add up past the bound either.
    std::size_t max_unread_total_bytes = SIZE_MAX;
  };
  // `inbox` and `log` must outlive the gateway (and the gRPC server using it).
  ClientGateway(Options options, ClientInbox* inbox, const Logger* log);
  ~ClientGateway() override;

  // Registers the gateway's services (Session, and the unary methods' generic service)
  // with `builder`. Call once, before the server is built.
  void register_with(grpc::ServerBuilder& builder);
  // Serves every call from `cq` (added to the server's builder before it was built) on
  // a thread of the gateway's own. Call once, after the server started.
  void serve(std::unique_ptr<grpc::ServerCompletionQueue> cq);
  // Shuts the queue down and joins its thread. Call after the server's Shutdown()
  // returned (gRPC requires that order). Idempotent.
  void stop_serving();

  // SessionSink. Thread-safe.
  void send(SessionId s, shoal::v1::ServerMessage&& message) override;
  void close(SessionId s) override;
  void fail(SessionId s, grpc::Status status) override;
  void handled(SessionId s, std::size_t bytes) override;
  // Ends every open session with UNAVAILABLE (broker shutting down). Thread-safe.
  void abort_all_sessions();

  // Tests only: how many sessions are not read from now (too much unread or in flight).
  std::size_t paused_reads_for_testing() ABSL_LOCKS_EXCLUDED(mu_);
  // Tests only: the id the next session gets, if it is free (ids wrap past 2^64 - 1).
  void set_next_session_for_testing(SessionId id) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class AsyncSession;
  friend class AsyncUnary;
  bool authorized(const grpc::ServerContextBase& context) const;
  // Registers `session` under a new id: never 0 (no session), never one still open.
  SessionId add(AsyncSession* session) ABSL_LOCKS_EXCLUDED(mu_);
  void forget(SessionId s) ABSL_LOCKS_EXCLUDED(mu_);  // the session's OnDone

  Options options_;
  ClientInbox* inbox_;
  const Logger* log_;
  std::string expected_authorization_;
  std::atomic<std::size_t> unread_total_{0};  // of every session's outbox and in flight
  absl::Mutex mu_;
  absl::flat_hash_map<SessionId, AsyncSession*> sessions_ ABSL_GUARDED_BY(mu_);
  SessionId next_session_ ABSL_GUARDED_BY(mu_) = 1;
  grpc::AsyncGenericService unary_;  // the unary methods' calls
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::thread cq_thread_;
};

}  // namespace shoal::broker
