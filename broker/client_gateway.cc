#include "broker/client_gateway.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "broker/session_outbox.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/alarm.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "shoal/internal/name_limits.h"

namespace shoal::broker {

using shoal::v1::ClientMessage;
using shoal::v1::ServerMessage;

namespace {

const grpc::Status& unavailable() {
  static const grpc::Status* status =
      new grpc::Status(grpc::StatusCode::UNAVAILABLE, "the broker is shutting down");
  return *status;
}

grpc::Status unauthenticated() {
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "missing or wrong 'authorization: Bearer <token>' metadata");
}

// Compares in a time that depends on the lengths only, not on where the bytes first
// differ: timing refusals tells a client nothing of the token.
bool equal_in_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char differ = 0;  // volatile: no early exit compiled in
  for (std::size_t i = 0; i < a.size(); ++i) {
    differ = differ | static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return differ == 0;
}

// Parses `bytes` (and clears them) into `*message` as gRPC's generated code does; bytes
// that do not parse give INVALID_ARGUMENT: "a <what> did not parse as a <message type>
// (<size> bytes)".
template <class Message>
grpc::Status parse(grpc::ByteBuffer& bytes, Message* message, const char* what) {
  const std::size_t size = bytes.Length();
  if (grpc::SerializationTraits<Message>::Deserialize(&bytes, message).ok()) {
    return grpc::Status::OK;
  }
  bytes.Clear();
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat("a ", what, " did not parse as a ", message->GetTypeName(), " (",
                                   size, " bytes)"));
}

// How many tasks (SubmitBatch.tasks) and ids (Watch.ids) an encoded ClientMessage holds,
// counted on the wire without parsing it: a message of a few bytes per entry would
// otherwise become as many objects of a hundred bytes or more before it could be
// refused. Bytes that are not a message stop the count (parsing refuses them).
struct Entries {
  std::size_t tasks = 0;
  std::size_t ids = 0;
};
Entries count_entries(grpc::ByteBuffer& bytes) {
  using google::protobuf::internal::WireFormatLite;
  constexpr std::uint32_t kListTag =  // field 1 of SubmitBatch and of Watch
      WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  Entries entries;
  grpc::ProtoBufferReader reader(&bytes);
  google::protobuf::io::CodedInputStream in(&reader);
  while (std::uint32_t tag = in.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    if ((field != ClientMessage::kSubmitFieldNumber && field != ClientMessage::kWatchFieldNumber) ||
        WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      if (!WireFormatLite::SkipField(&in, tag)) break;
      continue;
    }
    std::uint32_t length;
    if (!in.ReadVarint32(&length)) break;
    const auto limit = in.PushLimit(static_cast<int>(std::min<std::uint32_t>(length, INT_MAX)));
    std::size_t& count = field == ClientMessage::kSubmitFieldNumber ? entries.tasks : entries.ids;
    while (std::uint32_t inner = in.ReadTag()) {
      count += inner == kListTag;
      if (!WireFormatLite::SkipField(&in, inner)) return entries;
    }
    in.PopLimit(limit);
  }
  return entries;
}

// Why a Session message is refused before it is parsed ("": it is not): more entries
// than a message may hold.
std::string too_many_entries(grpc::ByteBuffer& bytes) {
  const Entries entries = count_entries(bytes);
  constexpr std::size_t kMax = internal::kMaxSessionEntries;
  if (entries.tasks > kMax) {
    return absl::StrCat("a SubmitBatch holds ", entries.tasks, " tasks, more than the ", kMax,
                        " a message may hold: split it");
  }
  if (entries.ids > kMax) {
    return absl::StrCat("a Watch holds ", entries.ids, " ids, more than the ", kMax,
                        " a message may hold: split it");
  }
  return "";
}

// What a completion-queue tag of the gateway points at.
class CqTag {
 public:
  // The operation completed (`ok` as gRPC reports it). May delete the tag's owner.
  virtual void proceed(bool ok) = 0;

 protected:
  ~CqTag() = default;
};

}  // namespace

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
  struct Tag final : CqTag {
    Tag(AsyncSession* s, Op o) : session(s), op(o) {}
    void proceed(bool ok) override { session->on_event(op, ok); }
    AsyncSession* session;
    Op op;
  };

  // Asks gRPC for the next Session call on `cq`.
  AsyncSession(ClientGateway* gateway, grpc::ServerCompletionQueue* cq)
      : gateway_(gateway),
        cq_(cq),
        stream_(&context_),
        outbox_(std::min(kMergedMessageBytes, gateway->options_.max_send_bytes)) {
    context_.AsyncNotifyWhenDone(static_cast<CqTag*>(&done_tag_));
    gateway_->RequestSession(&context_, &stream_, cq, cq, static_cast<CqTag*>(&accept_tag_));
  }

  // One completion of this session's operations (the queue's thread). May delete this.
  void on_event(Op op, bool ok) {
    switch (op) {
      case Op::kAccept:
        if (!ok) {  // the server is shutting down; the call never started
          delete this;
          return;
        }
        new AsyncSession(gateway_, cq_);  // the next client's call
        accept();
        break;
      case Op::kRead:
        on_read(ok);
        break;
      case Op::kWrite: {
        absl::MutexLock lock(&mu_);
        writing_ = false;
        if (!ok && !abort_) abort_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed");
        break;
      }
      case Op::kFinish:
        break;
      case Op::kDone: {
        absl::MutexLock lock(&mu_);
        done_ = true;
        finished_ = true;  // the call is over: no write or finish may start
        const std::size_t before = outbox_.memory();
        outbox_.clear();
        count_unread(before);
        // What is posted is the scheduler's now: no more is read, so it stops counting.
        gateway_->unread_total_.fetch_sub(in_flight_, std::memory_order_relaxed);
        in_flight_ = 0;
        break;
      }
      case Op::kResume: {
        absl::MutexLock lock(&mu_);
        resume_pending_ = false;
        break;
      }
    }
    bool last;
    {
      absl::MutexLock lock(&mu_);
      if (op != Op::kAccept && op != Op::kDone) --outstanding_;
      last = done_ && outstanding_ == 0;
    }
    if (last) {
      end();
      return;
    }
    if ((op == Op::kWrite || op == Op::kResume) && pump_and_unpause()) take_read();
  }

  // Queues a message (the scheduler's thread). Thread-safe.
  void enqueue(ServerMessage&& message) {
    absl::MutexLock lock(&mu_);
    if (finished_ || abort_) return;
    const std::size_t before = outbox_.memory();
    outbox_.push(std::move(message));
    count_unread(before);
    pump_locked();
  }
  // Finishes with `status` (OK unless given) once the outbox is written; a later call
  // changes nothing. Thread-safe.
  void close_when_drained(grpc::Status status = grpc::Status::OK) {
    absl::MutexLock lock(&mu_);
    if (!close_when_drained_) {
      close_when_drained_ = true;
      close_status_ = std::move(status);
    }
    pump_locked();
  }
  // The scheduler's thread handled a message of `bytes` posted by take_read(): reading
  // goes on (on the queue's thread) if it waited for that. Thread-safe.
  void release(std::size_t bytes) {
    absl::MutexLock lock(&mu_);
    bytes = std::min(bytes, in_flight_);  // 0 once the call is done
    in_flight_ -= bytes;
    gateway_->unread_total_.fetch_sub(bytes, std::memory_order_relaxed);
    if (!read_paused_ || resume_pending_ || finished_ || !may_resume()) return;
    resume_pending_ = true;
    ++outstanding_;
    resume_alarm_.Set(cq_, gpr_now(GPR_CLOCK_MONOTONIC), static_cast<CqTag*>(&resume_tag_));
  }
  // Finishes now with `status`, dropping what is queued. Thread-safe.
  void abort(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    if (!abort_) abort_ = std::move(status);
    pump_locked();
  }
  // Tests only: reading waits for the client to read (or the scheduler to catch up).
  bool read_paused_for_testing() {
    absl::MutexLock lock(&mu_);
    return read_paused_;
  }

 private:
  void accept() {
    if (!gateway_->authorized(context_)) {
      refuse(unauthenticated());
      return;
    }
    id_ = gateway_->add(this);
    if (!gateway_->inbox_->post(SessionOpened{id_})) {
      gateway_->forget(id_);
      refuse(unavailable());
      return;
    }
    registered_ = true;
    read_into_new_arena();
  }

  // Ends a call refused before it started.
  void refuse(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    abort_ = std::move(status);
    pump_locked();
  }

  void on_read(bool ok) {
    if (!ok) {  // the client half-closed (or the call broke: kDone follows)
      if (registered_) gateway_->inbox_->post(SessionHalfClosed{id_});
      return;
    }
    if (std::string why = too_many_entries(read_); !why.empty()) {
      read_.Clear();
      reject(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why));
      return;
    }
    if (grpc::Status status = parse(read_, in_, "Session message"); !status.ok()) {
      reject(std::move(status));
      return;
    }
    if (!pause_if_unread()) take_read();
  }

  // Posts the message read (with its arena, counted as in flight) and starts the next read.
  void take_read() {
    bool posted;
    switch (in_->body_case()) {
      case ClientMessage::kSubmit: {
        const std::size_t bytes = charge();
        posted = gateway_->inbox_->post(
            SubmitEvent{id_, std::move(arena_), in_->mutable_submit(), bytes});
        if (!posted) release(bytes);
        break;
      }
      case ClientMessage::kWatch: {
        const std::size_t bytes = charge();
        posted =
            gateway_->inbox_->post(WatchEvent{id_, std::move(arena_), in_->mutable_watch(), bytes});
        if (!posted) release(bytes);
        break;
      }
      default:
        reject(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "a ClientMessage must hold a submit or a watch"));
        return;
    }
    read_into_new_arena();  // the message went away with its arena
  }

  // Counts the message read (its arena's size) as posted and not yet handled; before it
  // is posted, as the scheduler's thread may handle it at once. Returns the count.
  std::size_t charge() {
    const std::size_t bytes = static_cast<std::size_t>(arena_->SpaceAllocated());
    absl::MutexLock lock(&mu_);
    in_flight_ += bytes;
    gateway_->unread_total_.fetch_add(bytes, std::memory_order_relaxed);
    return bytes;
  }

  // The message read is bad: nothing more is read, and the scheduler's thread, once it
  // has sent the replies owed to the messages before it (their Accepted, results it
  // has), ends the stream with `status` (ClientGateway::fail). Without that thread (the
  // broker is stopping) it ends now.
  void reject(grpc::Status status) {
    in_->Clear();
    if (!gateway_->inbox_->post(BadClientMessage{id_, status})) abort(std::move(status));
  }

  // True while the client has more than max_unread_bytes of messages to read or in
  // flight: the message just read waits, unposted and with no read after it, for
  // pump_and_unpause (after a write, or a release()).
  bool pause_if_unread() {
    absl::MutexLock lock(&mu_);
    const std::size_t unread = unanswered();
    read_paused_ = unread > gateway_->options_.max_unread_bytes ||
                   (all_over_bound() && unread > outbox_.merge_limit());
    return read_paused_;
  }

  // With mu_ held: what the client has not read, and what was read from it and is not
  // handled yet (it becomes replies).
  std::size_t unanswered() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return outbox_.memory() + in_flight_;
  }

  // With mu_ held: a paused read may go on, being down to half of the bound that paused it.
  bool may_resume() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::size_t unread = unanswered();
    return unread <= gateway_->options_.max_unread_bytes / 2 &&
           !(all_over_bound() && unread > outbox_.merge_limit() / 2);
  }

  // With mu_ held: every session together holds more than the gateway's total bound.
  bool all_over_bound() const {
    return gateway_->unread_total_.load(std::memory_order_relaxed) >
           gateway_->options_.max_unread_total_bytes;
  }

  // With mu_ held: adds the outbox's change since it held `before` bytes to the total.
  void count_unread(std::size_t before) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::size_t now = outbox_.memory();
    if (now >= before) {
      gateway_->unread_total_.fetch_add(now - before, std::memory_order_relaxed);
    } else {
      gateway_->unread_total_.fetch_sub(before - now, std::memory_order_relaxed);
    }
  }

  void read_into_new_arena() {
    google::protobuf::ArenaOptions options;
    options.start_block_size = 16 << 10;
    options.max_block_size = 1 << 20;
    arena_ = std::make_unique<google::protobuf::Arena>(options);
    in_ = google::protobuf::Arena::CreateMessage<ClientMessage>(arena_.get());
    start_read();
  }

  void start_read() {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    ++outstanding_;
    stream_.Read(&read_, static_cast<CqTag*>(&read_tag_));
  }

  // Starts the next write; true when reading was paused and may go on (the caller
  // takes the message read: the queue's thread owns it).
  bool pump_and_unpause() {
    absl::MutexLock lock(&mu_);
    pump_locked();
    if (!read_paused_ || finished_ || !may_resume()) return false;
    read_paused_ = false;
    return true;
  }
  // Starts the next write or the finish. The operations only queue work for gRPC (their
  // completions come through the queue), so they may start under mu_.
  void pump_locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_) return;
    if (abort_) {
      finished_ = true;
      const std::size_t before = outbox_.memory();
      outbox_.clear();
      count_unread(before);
      ++outstanding_;
      stream_.Finish(*abort_, static_cast<CqTag*>(&finish_tag_));
    } else if (!outbox_.empty()) {
      const std::size_t before = outbox_.memory();
      const ServerMessage message = outbox_.pop();
      count_unread(before);
      // Serialized as gRPC did for a ServerMessage: once, into slices Write() takes refs to.
      grpc::ByteBuffer bytes;
      bool own;
      if (grpc::Status status =
              grpc::SerializationTraits<ServerMessage>::Serialize(message, &bytes, &own);
          !status.ok()) {
        abort_ = std::move(status);
        pump_locked();  // finishes with it
        return;
      }
      writing_ = true;
      ++outstanding_;
      stream_.Write(bytes, static_cast<CqTag*>(&write_tag_));
    } else if (close_when_drained_) {
      finished_ = true;
      ++outstanding_;
      stream_.Finish(close_status_, static_cast<CqTag*>(&finish_tag_));
    }
  }

  // The call is done and nothing of ours is outstanding.
  void end() {
    if (registered_) {
      gateway_->forget(id_);  // after this no other thread can reach us
      gateway_->inbox_->post(SessionClosed{id_});
    }
    delete this;
  }

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
  ClientMessage* in_ = nullptr;
  absl::Mutex mu_;
  SessionOutbox outbox_ ABSL_GUARDED_BY(mu_);
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;  // reads, writes and finishes in flight
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool close_when_drained_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status close_status_ ABSL_GUARDED_BY(mu_);  // with close_when_drained_
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;  // in_ waits: too much unread
  bool resume_pending_ ABSL_GUARDED_BY(mu_) = false;  // resume_alarm_ is set
  // The `bytes` of posted messages the scheduler's thread has not handled yet.
  std::size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // no more operations may start
  bool done_ ABSL_GUARDED_BY(mu_) = false;      // gRPC said the call is over
  std::optional<grpc::Status> abort_ ABSL_GUARDED_BY(mu_);
};


ClientGateway::ClientGateway(Options options, ClientInbox* inbox, const Logger* log)
    : options_(std::move(options)),
      inbox_(inbox),
      log_(log),
      expected_authorization_(absl::StrCat("Bearer ", options_.auth_token)) {}

ClientGateway::~ClientGateway() { stop_serving(); }

bool ClientGateway::authorized(const grpc::ServerContextBase& context) const {
  if (options_.auth_token.empty()) return true;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  return it != metadata.end() &&
         equal_in_constant_time(std::string_view(it->second.data(), it->second.size()),
                                expected_authorization_);
}

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
  struct Tag final : CqTag {
    Tag(AsyncUnary* c, Op o) : call(c), op(o) {}
    void proceed(bool ok) override { call->on_event(op, ok); }
    AsyncUnary* call;
    Op op;
  };

  // Asks gRPC for the next unary call on `cq`.
  AsyncUnary(ClientGateway* gateway, grpc::ServerCompletionQueue* cq)
      : gateway_(gateway), cq_(cq), stream_(&context_) {
    context_.AsyncNotifyWhenDone(static_cast<CqTag*>(&done_tag_));
    gateway_->unary_.RequestCall(&context_, &stream_, cq, cq, static_cast<CqTag*>(&accept_tag_));
  }

  void Finish(const grpc::Status& status) override {
    grpc::ByteBuffer bytes;
    bool own;
    grpc::Status answer = status;
    if (answer.ok()) {
      answer = grpc::SerializationTraits<google::protobuf::Message>::Serialize(body_->response(),
                                                                               &bytes, &own);
    }
    if (answer.ok()) {  // takes refs to the bytes
      stream_.WriteAndFinish(bytes, grpc::WriteOptions(), answer,
                             static_cast<CqTag*>(&finish_tag_));
    } else {
      stream_.Finish(answer, static_cast<CqTag*>(&finish_tag_));
    }
  }

 private:
  // One completion of this call's operations (the queue's thread). May delete this.
  void on_event(Op op, bool ok) {
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

  void accept() {
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

  void on_read(bool ok) {
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

void ClientGateway::register_with(grpc::ServerBuilder& builder) {
  builder.RegisterService(this);
  builder.RegisterAsyncGenericService(&unary_);
}

void ClientGateway::serve(std::unique_ptr<grpc::ServerCompletionQueue> cq) {
  cq_ = std::move(cq);
  grpc::ServerCompletionQueue* q = cq_.get();
  new AsyncSession(this, q);
  new AsyncUnary(this, q);
  cq_thread_ = std::thread([this] {
    void* tag;
    bool ok;
    while (cq_->Next(&tag, &ok)) static_cast<CqTag*>(tag)->proceed(ok);
  });
}

void ClientGateway::stop_serving() {
  if (!cq_thread_.joinable()) return;
  cq_->Shutdown();  // Next() returns what is left, then false
  cq_thread_.join();
}

void ClientGateway::send(SessionId s, ServerMessage&& message) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(s);
  if (it != sessions_.end()) it->second->enqueue(std::move(message));
}

void ClientGateway::close(SessionId s) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(s);
  if (it != sessions_.end()) it->second->close_when_drained();
}

void ClientGateway::fail(SessionId s, grpc::Status status) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(s);
  if (it != sessions_.end()) it->second->close_when_drained(std::move(status));
}

void ClientGateway::handled(SessionId s, std::size_t bytes) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(s);
  if (it != sessions_.end()) it->second->release(bytes);
}

std::size_t ClientGateway::paused_reads_for_testing() {
  absl::MutexLock lock(&mu_);
  std::size_t paused = 0;
  for (auto& [id, session] : sessions_) paused += session->read_paused_for_testing();
  return paused;
}

void ClientGateway::abort_all_sessions() {
  absl::MutexLock lock(&mu_);
  for (auto& [id, session] : sessions_) session->abort(unavailable());
}

SessionId ClientGateway::add(AsyncSession* session) {
  absl::MutexLock lock(&mu_);
  // Ids are 64 bits, so they do not wrap in practice (a task keeps its session's id after
  // the session closes, and must not reach the next holder of that id). Were they to wrap,
  // 0 means no session and an id still open is skipped.
  SessionId id = next_session_;
  while (id == 0 || sessions_.contains(id)) ++id;
  next_session_ = id + 1;
  sessions_.emplace(id, session);
  return id;
}

void ClientGateway::set_next_session_for_testing(SessionId id) {
  absl::MutexLock lock(&mu_);
  next_session_ = id;
}

void ClientGateway::forget(SessionId s) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(s);
}

}  // namespace shoal::broker
