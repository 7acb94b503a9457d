#pragma once
// The client gateway's unary calls (GetResult, Cancel, GetStats, ListWorkers, ListQueues):
// AsyncUnary takes one call from gRPC's generic API, refuses it before reading its request
// if the caller lacks the token, checks and parses the request, posts it to the
// scheduler's thread and sends that thread's answer. ClientGateway (client_gateway.h)
// creates the first one; each asks for the next. Apart from the gateway and from
// client_session.h, as a unary call shares no state with a Session stream.

#include <cstdint>
#include <memory>

#include "broker/client_events.h"
#include "broker/internal/client_call_util.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/status.h"

namespace shoal::broker {

class ClientGateway;
class UnaryBody;  // one method's request and response (client_unary.cc)

// One unary call, served through gRPC's generic API: the call arrives with its metadata
// only, so a caller without the token is refused before its request is read (a
// registered method received the whole request first: up to the receive limit, 257 MB
// by default, held for any peer). The request is then read, checked (size, and for a
// Cancel its id count, before parsing), parsed and posted to the scheduler's thread,
// whose Finish() sends the answer. A call that ends before its answer (the client
// cancelled it, or its deadline passed: a GetResult may wait for 10 minutes) is posted
// as UnaryCallEnded, and the scheduler's thread drops it and finishes it. The object
// deletes itself once both gRPC's done notification and its finish have completed
// (or when the server shuts down before a call arrived: then neither comes).
class AsyncUnary final : public UnaryResponder {
 public:
  enum class Op : std::uint8_t { kAccept, kRead, kFinish, kDone };
  struct Tag final : internal::CqTag {
    Tag(AsyncUnary* c, Op o) : call(c), op(o) {}
    void proceed(bool ok) override { call->on_event(op, ok); }
    AsyncUnary* call;
    Op op;
  };

  // Asks gRPC for the next unary call on `cq`.
  AsyncUnary(ClientGateway* gateway, grpc::ServerCompletionQueue* cq);
  // Defined where UnaryBody is complete.
  ~AsyncUnary() override;

  // UnaryResponder: sends the response (if `status` is OK) and `status`. Any thread.
  void Finish(const grpc::Status& status) override;

 private:
  // One completion of this call's operations (the queue's thread). May delete this.
  void on_event(Op op, bool ok);
  void accept();
  void on_read(bool ok);

  ClientGateway* gateway_;
  grpc::ServerCompletionQueue* cq_;
  grpc::GenericServerContext context_;
  grpc::GenericServerAsyncReaderWriter stream_;
  Tag accept_tag_{this, Op::kAccept}, read_tag_{this, Op::kRead}, finish_tag_{this, Op::kFinish},
      done_tag_{this, Op::kDone};
  grpc::ByteBuffer request_bytes_;
  std::unique_ptr<UnaryBody> body_;
  // The queue's thread only:
  bool posted_ = false;    // the scheduler's thread has the call
  bool finished_ = false;  // the finish completed
  bool done_ = false;      // gRPC said the call is over
};

}  // namespace shoal::broker
