#pragma once
// One gRPC Session stream of the remote backend (callback API): submissions and
// watches go out, acceptances and results come in. The owner drives writes; this
// class only keeps the stream's rules (one write in flight, no write after close).

#include <memory>
#include <mutex>

#include <grpcpp/grpcpp.h>

#include "google/protobuf/arena.h"
#include "shoal/v1/service.grpc.pb.h"

namespace shoal::internal {

class RemoteSession;

// What a session reports. Called on gRPC's threads, never with a session lock held.
class SessionListener {
 public:
  virtual ~SessionListener() = default;
  // A message arrived. It lives in an arena until this returns: the listener must copy
  // what it keeps (moving from it copies too).
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

  // An empty message to fill and then send with write(), in an arena that the previous
  // write's message leaves (so building a batch allocates almost nothing). Only while
  // no write is in flight; one caller at a time.
  v1::ClientMessage* begin_write();
  // Sends the message of begin_write() unless the stream is closing (then false and
  // nothing is sent). The caller keeps at most one write in flight (until
  // on_write_done). Thread-safe.
  bool write();
  // Ends the call now (on_done follows with CANCELLED). Thread-safe, idempotent.
  void cancel();

 private:
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

  void start_read();

  std::unique_ptr<grpc::ClientContext> context_;
  SessionListener* listener_;
  std::mutex mu_;
  bool closed_ = false;  // guarded by mu_: no more writes
  // Each direction parses or builds its message in an arena that is reset per message;
  // the first 64 KiB block is kept across resets.
  std::unique_ptr<char[]> out_block_, in_block_;
  google::protobuf::Arena out_arena_, in_arena_;
  v1::ClientMessage* out_ = nullptr;
  v1::ServerMessage* in_ = nullptr;
};

}  // namespace shoal::internal
