#include "broker/client_unary.h"

#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "broker/client_gateway.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/message.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "shoal/v1/service.pb.h"

namespace shoal::broker {

using internal::CqTag;
using internal::parse;
using internal::unauthenticated;
using internal::unavailable;

// One unary method's request and response, and the event its call becomes.
class UnaryBody {
 public:
  virtual ~UnaryBody() = default;
  // The request, parsed into by the gateway's thread before the call is posted.
  virtual google::protobuf::Message& request() = 0;
  // The response, filled in by the scheduler's thread before it finishes the call.
  virtual const google::protobuf::Message& response() const = 0;
  // Why the parsed request cannot be served (nullptr: it can).
  virtual const char* malformed() const = 0;
  // Posts the call to the scheduler's thread; false once the inbox is closed.
  virtual bool post(ClientInbox& inbox, UnaryResponder* responder) = 0;
};

namespace {

// Why a request cannot be served at all (nullptr: it can).
const char* malformed(const shoal::v1::GetResultRequest& r) {
  return r.id().empty() ? "GetResult needs an id" : nullptr;
}
const char* malformed(const shoal::v1::CancelRequest& r) {
  return r.id().empty() ? "Cancel needs an id" : nullptr;
}
template <class Request>
const char* malformed(const Request&) {
  return nullptr;
}

// The more_ids of CancelRequest bytes, counted on the wire: a call with too many is
// refused before it is parsed (2 million empty ids took 134 MB parsed). Counts what
// precedes bytes that do not parse (parsing then refuses them).
std::size_t count_more_ids(grpc::ByteBuffer& bytes) {
  using google::protobuf::internal::WireFormatLite;
  constexpr uint32_t kMoreIdsTag = WireFormatLite::MakeTag(
      shoal::v1::CancelRequest::kMoreIdsFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  grpc::ProtoBufferReader reader(&bytes);  // reads the slices; leaves them in `bytes`
  google::protobuf::io::CodedInputStream in(&reader);
  std::size_t n = 0;
  while (uint32_t tag = in.ReadTag()) {
    n += tag == kMoreIdsTag;
    if (!WireFormatLite::SkipField(&in, tag)) break;
  }
  return n;
}

template <class Request, class Response, class Call>
class UnaryBodyOf final : public UnaryBody {
 public:
  google::protobuf::Message& request() override { return request_; }
  const google::protobuf::Message& response() const override { return response_; }
  const char* malformed() const override { return shoal::broker::malformed(request_); }
  bool post(ClientInbox& inbox, UnaryResponder* responder) override {
    return inbox.post(Call{responder, &request_, &response_});
  }

 private:
  Request request_;
  Response response_;
};

// The body for a call of `method` ("/shoal.v1.TaskService/GetResult"); nullptr for a
// method TaskService does not have.
std::unique_ptr<UnaryBody> body_for(std::string_view method) {
  using namespace shoal::v1;
  constexpr std::string_view kPrefix = "/shoal.v1.TaskService/";
  if (!method.starts_with(kPrefix)) return nullptr;
  method.remove_prefix(kPrefix.size());
  if (method == "GetResult") {
    return std::make_unique<UnaryBodyOf<GetResultRequest, GetResultResponse, GetResultCall>>();
  }
  if (method == "Cancel") {
    return std::make_unique<UnaryBodyOf<CancelRequest, CancelResponse, CancelCall>>();
  }
  if (method == "GetStats") return std::make_unique<UnaryBodyOf<StatsRequest, Stats, StatsCall>>();
  if (method == "ListWorkers") {
    return std::make_unique<
        UnaryBodyOf<ListWorkersRequest, ListWorkersResponse, ListWorkersCall>>();
  }
  if (method == "ListQueues") {
    return std::make_unique<UnaryBodyOf<ListQueuesRequest, ListQueuesResponse, ListQueuesCall>>();
  }
  return nullptr;
}

}  // namespace

AsyncUnary::AsyncUnary(ClientGateway* gateway, grpc::ServerCompletionQueue* cq)
    : gateway_(gateway), cq_(cq), stream_(&context_) {
  context_.AsyncNotifyWhenDone(static_cast<CqTag*>(&done_tag_));
  gateway_->unary_.RequestCall(&context_, &stream_, cq, cq, static_cast<CqTag*>(&accept_tag_));
}

AsyncUnary::~AsyncUnary() = default;

void AsyncUnary::Finish(const grpc::Status& status) {
  grpc::ByteBuffer bytes;
  bool own;
  grpc::Status answer = status;
  if (answer.ok()) {
    answer = grpc::SerializationTraits<google::protobuf::Message>::Serialize(body_->response(),
                                                                             &bytes, &own);
  }
  if (answer.ok()) {  // takes refs to the bytes
    stream_.WriteAndFinish(bytes, grpc::WriteOptions(), answer, static_cast<CqTag*>(&finish_tag_));
  } else {
    stream_.Finish(answer, static_cast<CqTag*>(&finish_tag_));
  }
}

void AsyncUnary::on_event(Op op, bool ok) {
  switch (op) {
    case Op::kAccept:
      if (!ok) {  // the server is shutting down; the call never started
        delete this;
        return;
      }
      new AsyncUnary(gateway_, cq_);  // the next client's call
      accept();
      return;
    case Op::kRead: on_read(ok); return;
    case Op::kFinish: finished_ = true; break;
    case Op::kDone:
      done_ = true;
      // Unanswered and the client gone: the scheduler's thread need not wait for it.
      if (posted_ && !finished_ && context_.IsCancelled()) {
        gateway_->inbox_->post(UnaryCallEnded{this});
      }
      break;
  }
  if (finished_ && done_) delete this;
}

void AsyncUnary::accept() {
  body_ = body_for(context_.method());
  if (body_ == nullptr) {
    Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        absl::StrCat("no method ", context_.method())));
  } else if (!gateway_->authorized(context_)) {
    Finish(unauthenticated());  // its request is not read
  } else {
    stream_.Read(&request_bytes_, static_cast<CqTag*>(&read_tag_));
  }
}

void AsyncUnary::on_read(bool ok) {
  if (!ok) {  // no request: the client half-closed without one, or the call broke
    Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the call sent no request"));
    return;
  }
  const std::size_t size = request_bytes_.Length();
  if (size > kMaxUnaryRequestBytes) {
    request_bytes_.Clear();
    gateway_->inbox_->post(BadClientMessage{});
    Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("a ", body_->request().GetTypeName(), " of ", size,
                                     " bytes; at most ", kMaxUnaryRequestBytes, " are taken")));
    return;
  }
  if (std::string_view(context_.method()).ends_with("/Cancel")) {
    if (std::size_t ids = count_more_ids(request_bytes_); ids > std::size_t{kMaxCancelIds}) {
      request_bytes_.Clear();  // refused whole: none cancelled
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("more than ", kMaxCancelIds,
                                       " more_ids in one Cancel call (", ids, "): split it")));
      return;
    }
  }
  if (grpc::Status status = parse(request_bytes_, &body_->request(), "request"); !status.ok()) {
    gateway_->inbox_->post(BadClientMessage{});
    Finish(status);
  } else if (const char* why = body_->malformed()) {
    gateway_->inbox_->post(BadClientMessage{});
    Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why));
  } else if (body_->post(*gateway_->inbox_, this)) {
    posted_ = true;  // the done notification comes later, on this thread
  } else {
    Finish(unavailable());
  }
}

}  // namespace shoal::broker
