#pragma once
// The clients' side of the broker: the gRPC TaskService (callback API). Every request
// becomes a ClientEvent for the scheduler's thread; answers come back through the
// SessionSink interface and UnaryCall reactors. Garbage is counted and answered with
// a clear status, never a crash.

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "broker/client_events.h"
#include "broker/logger.h"
#include "shoal/v1/service.grpc.pb.h"

namespace shoal::broker {

class SessionReactor;

class ClientGateway final : public shoal::v1::TaskService::CallbackService, public SessionSink {
 public:
  struct Options {
    std::string auth_token;  // "" = no authentication
  };
  // `inbox` and `log` must outlive the gateway (and the gRPC server using it).
  ClientGateway(Options options, ClientInbox* inbox, const Logger* log);
  ~ClientGateway() override;

  // TaskService (called by gRPC threads).
  grpc::ServerBidiReactor<shoal::v1::ClientMessage, shoal::v1::ServerMessage>* Session(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* GetResult(grpc::CallbackServerContext* context,
                                      const shoal::v1::GetResultRequest* request,
                                      shoal::v1::GetResultResponse* response) override;
  grpc::ServerUnaryReactor* Cancel(grpc::CallbackServerContext* context,
                                   const shoal::v1::CancelRequest* request,
                                   shoal::v1::CancelResponse* response) override;
  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* context,
                                     const shoal::v1::StatsRequest* request,
                                     shoal::v1::Stats* response) override;
  grpc::ServerUnaryReactor* ListWorkers(grpc::CallbackServerContext* context,
                                        const shoal::v1::ListWorkersRequest* request,
                                        shoal::v1::ListWorkersResponse* response) override;
  grpc::ServerUnaryReactor* ListQueues(grpc::CallbackServerContext* context,
                                       const shoal::v1::ListQueuesRequest* request,
                                       shoal::v1::ListQueuesResponse* response) override;

  // SessionSink. Thread-safe.
  void send(SessionId s, shoal::v1::ServerMessage&& message) override;
  void close(SessionId s) override;
  // Ends every open session with UNAVAILABLE (broker shutting down). Thread-safe.
  void abort_all_sessions();

 private:
  friend class SessionReactor;
  bool authorized(grpc::CallbackServerContext* context) const;
  template <class Call>
  grpc::ServerUnaryReactor* post_unary(grpc::CallbackServerContext* context, Call call);
  void forget(SessionId s);  // the session's OnDone

  Options options_;
  ClientInbox* inbox_;
  const Logger* log_;
  std::string expected_authorization_;
  std::atomic<SessionId> next_session_{1};
  absl::Mutex mu_;
  absl::flat_hash_map<SessionId, SessionReactor*> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shoal::broker
