#pragma once
// One gRPC Session stream of the remote backend: submissions and watches go out,
// acceptances and results come in. The owner drives writes; this class only keeps the
// stream's rules (one write in flight, no write after close).
//
// The stream runs on gRPC's completion-queue API with one thread of its own, which
// polls the connection and calls the listener: a result reaches its waiter after one
// thread hand-off. (The callback API passed each message between several of gRPC's
// threads: about three more wake-ups per round trip.)

#include <memory>
#include <mutex>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "google/protobuf/arena.h"
#include "shoal/v1/service.grpc.pb.h"

namespace shoal::internal {

class RemoteSession;

// What a session reports. Called on the session's thread, never with a session lock held.
class SessionListener {
 public:
  virtual ~SessionListener() = default;
  // A message arrived. It lives in an arena until this returns: the listener must copy
  // what it keeps (moving from it copies too).
  virtual void on_message(RemoteSession* session, v1::ServerMessage& message) = 0;
  // The write started by RemoteSession::write finished (ok: it went out).
  virtual void on_write_done(RemoteSession* session, bool ok) = 0;
  // The stream ended; the last call for this session. The session may be deleted once
  // this returns, from another thread (deleting it joins its thread, which only shuts
  // its queue down after this call).
  virtual void on_done(RemoteSession* session, const grpc::Status& status) = 0;
};

class RemoteSession final {
 public:
  // Opens the stream at once. `stub` and `listener` must outlive on_done.
  RemoteSession(v1::TaskService::Stub* stub, std::unique_ptr<grpc::ClientContext> context,
                SessionListener* listener);
  // Waits for the session's thread, which ends after on_done. Not from a listener call.
  ~RemoteSession();
  RemoteSession(const RemoteSession&) = delete;
  RemoteSession& operator=(const RemoteSession&) = delete;

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
  enum Op : std::uintptr_t { kStart = 1, kRead, kWrite, kFinish };

  void run();  // the session's thread: completions until the queue is drained
  void start_read();
  // Asks for the call's status once reading has ended and no write is in flight.
  void maybe_finish();

  std::unique_ptr<grpc::ClientContext> context_;
  SessionListener* listener_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<v1::ClientMessage, v1::ServerMessage>> stream_;
  grpc::Status status_;
  std::mutex mu_;
  bool closed_ = false;         // guarded by mu_: no more writes
  bool write_pending_ = false;  // guarded by mu_ (not yet issued while !started_)
  bool started_ = false;        // guarded by mu_: StartCall completed (it uses the write slot)
  bool read_ended_ = false;     // guarded by mu_
  bool finishing_ = false;      // guarded by mu_: Finish asked for
  // Each direction parses or builds its message in an arena that is reset per message;
  // the first 64 KiB block is kept across resets.
  std::unique_ptr<char[]> out_block_, in_block_;
  google::protobuf::Arena out_arena_, in_arena_;
  v1::ClientMessage* out_ = nullptr;
  v1::ServerMessage* in_ = nullptr;
  std::thread thread_;
};

}  // namespace shoal::internal
