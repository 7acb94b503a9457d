#pragma once
// One gRPC Session stream of the remote backend (callback API): submissions and
// watches go out, acceptances and results come in. The owner drives writes; this
// class only keeps the stream's rules (one write in flight, no write after close).

#include <memory>
#include <mutex>

#include <grpcpp/grpcpp.h>

#include "shoal/v1/service.grpc.pb.h"

namespace shoal::internal {

class RemoteSession;

// What a session reports. Called on gRPC's threads, never with a session lock held.
class SessionListener {
 public:
  virtual ~SessionListener() = default;
  // A message arrived; the listener may move from it.
  virtual void on_message(RemoteSession* session, v1::ServerMessage& message) = 0;
  // The write started by RemoteSession::write finished (ok: it went out).
  virtual void on_write_done(RemoteSession* session, bool ok) = 0;
  // The stream ended; the last call for this session. The session may be deleted once
  // this returns (from another thread: it touches nothing after the call).
  virtual void on_done(RemoteSession* session, const grpc::Status& status) = 0;
};

class RemoteSession final
    : public grpc::ClientBidiReactor<v1::ClientMessage, v1::ServerMessage> {
 public:
  // Opens the stream at once. `stub` and `listener` must outlive on_done.
  RemoteSession(v1::TaskService::Stub* stub, std::unique_ptr<grpc::ClientContext> context,
                SessionListener* listener);

  // Sends `message` unless the stream is closing (then false and nothing is sent).
  // The caller keeps at most one write in flight (until on_write_done). Thread-safe.
  bool write(v1::ClientMessage message);
  // Ends the call now (on_done follows with CANCELLED). Thread-safe, idempotent.
  void cancel();

 private:
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

  std::unique_ptr<grpc::ClientContext> context_;
  SessionListener* listener_;
  std::mutex mu_;
  bool closed_ = false;  // guarded by mu_: no more writes
  v1::ClientMessage out_;
  v1::ServerMessage in_;
};

}  // namespace shoal::internal
