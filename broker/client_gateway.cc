#include "broker/client_gateway.h"

#include <deque>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace shoal::broker {

using shoal::v1::ClientMessage;
using shoal::v1::ServerMessage;

// One Session stream. Reads are turned into events; writes go out one at a time from
// an outbox in which consecutive Results (or Accepted) messages are merged, so a slow
// reader costs fewer, larger writes. gRPC deletes nothing: OnDone deletes this.
class SessionReactor final : public grpc::ServerBidiReactor<ClientMessage, ServerMessage> {
 public:
  SessionReactor(ClientGateway* gateway, SessionId id) : gateway_(gateway), id_(id) {}

  // Starts reading; call once the session is registered.
  void start() { read_into_new_arena(); }

  // Queues a message (the scheduler's thread). Thread-safe.
  void enqueue(ServerMessage&& message) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || abort_) return;
      if (!outbox_.empty() && merge_into(outbox_.back(), message)) return;
      outbox_.push_back(std::move(message));
    }
    pump();
  }
  // Finishes with OK once the outbox is written. Thread-safe.
  void close_when_drained() {
    {
      absl::MutexLock lock(&mu_);
      close_when_drained_ = true;
    }
    pump();
  }
  // Finishes now with `status`, dropping what is queued. Thread-safe.
  void abort(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      if (!abort_) abort_ = std::move(status);
    }
    pump();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed (or the call broke: OnDone follows)
      gateway_->inbox_->post(SessionHalfClosed{id_});
      return;
    }
    switch (in_->body_case()) {
      case ClientMessage::kSubmit:
        gateway_->inbox_->post(SubmitEvent{id_, std::move(arena_), in_->mutable_submit()});
        read_into_new_arena();  // the batch went away with its arena
        return;
      case ClientMessage::kWatch:
        gateway_->inbox_->post(WatchEvent{id_, *in_->mutable_watch()});
        break;
      default:
        gateway_->inbox_->post(BadClientMessage{});
        abort(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                           "a ClientMessage must hold a submit or a watch"));
        return;
    }
    in_->Clear();
    StartRead(in_);
  }
  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok && !abort_) abort_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed");
    }
    pump();
  }
  void OnCancel() override { abort(grpc::Status::CANCELLED); }
  void OnDone() override {
    gateway_->forget(id_);
    gateway_->inbox_->post(SessionClosed{id_});
    delete this;
  }

 private:
  static bool merge_into(ServerMessage& into, ServerMessage& from) {
    if (into.has_results() && from.has_results()) {
      for (auto& r : *from.mutable_results()->mutable_results()) {
        into.mutable_results()->mutable_results()->Add(std::move(r));
      }
      return true;
    }
    if (into.has_accepted() && from.has_accepted()) {
      for (auto& id : *from.mutable_accepted()->mutable_ids()) {
        into.mutable_accepted()->add_ids(std::move(id));
      }
      return true;
    }
    return false;
  }

  // Starts the next write or the finish, outside the lock (gRPC may react inline).
  void pump() {
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || writing_) return;
      if (abort_) {
        finish = *abort_;
      } else if (!outbox_.empty()) {
        current_ = std::move(outbox_.front());
        outbox_.pop_front();
        writing_ = true;
      } else if (close_when_drained_) {
        finish = grpc::Status::OK;
      } else {
        return;
      }
      if (finish) {
        finished_ = true;
        outbox_.clear();
      }
    }
    if (finish) {
      Finish(*finish);
    } else {
      StartWrite(&current_);
    }
  }

  void read_into_new_arena() {
    google::protobuf::ArenaOptions options;
    options.start_block_size = 16 << 10;
    options.max_block_size = 1 << 20;
    arena_ = std::make_unique<google::protobuf::Arena>(options);
    in_ = google::protobuf::Arena::CreateMessage<ClientMessage>(arena_.get());
    StartRead(in_);
  }

  ClientGateway* gateway_;
  const SessionId id_;
  // The read in flight (gRPC's thread only), parsed into its own arena, which a submit
  // hands over to the scheduler's thread with the batch.
  std::unique_ptr<google::protobuf::Arena> arena_;
  ClientMessage* in_ = nullptr;
  ServerMessage current_;   // the write in flight
  absl::Mutex mu_;
  std::deque<ServerMessage> outbox_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool close_when_drained_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> abort_ ABSL_GUARDED_BY(mu_);
};

namespace {

const grpc::Status& unavailable() {
  static const grpc::Status* status =
      new grpc::Status(grpc::StatusCode::UNAVAILABLE, "the broker is shutting down");
  return *status;
}

// Finishes a stream at once (refused before it started).
class RefusedSession final : public grpc::ServerBidiReactor<ClientMessage, ServerMessage> {
 public:
  explicit RefusedSession(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

ClientGateway::ClientGateway(Options options, ClientInbox* inbox, const Logger* log)
    : options_(std::move(options)),
      inbox_(inbox),
      log_(log),
      expected_authorization_(absl::StrCat("Bearer ", options_.auth_token)) {}

ClientGateway::~ClientGateway() = default;

bool ClientGateway::authorized(grpc::CallbackServerContext* context) const {
  if (options_.auth_token.empty()) return true;
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  return it != metadata.end() &&
         std::string_view(it->second.data(), it->second.size()) == expected_authorization_;
}

namespace {
grpc::Status unauthenticated() {
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "missing or wrong 'authorization: Bearer <token>' metadata");
}
}  // namespace

grpc::ServerBidiReactor<ClientMessage, ServerMessage>* ClientGateway::Session(
    grpc::CallbackServerContext* context) {
  if (!authorized(context)) return new RefusedSession(unauthenticated());
  SessionId id = next_session_.fetch_add(1);
  if (!inbox_->post(SessionOpened{id})) return new RefusedSession(unavailable());
  auto* reactor = new SessionReactor(this, id);
  {
    absl::MutexLock lock(&mu_);
    sessions_[id] = reactor;
  }
  reactor->start();
  return reactor;
}

template <class Call>
grpc::ServerUnaryReactor* ClientGateway::post_unary(grpc::CallbackServerContext* context,
                                                    Call call) {
  grpc::ServerUnaryReactor* reactor = call.reactor;
  if (!authorized(context)) {
    reactor->Finish(unauthenticated());
  } else if (!inbox_->post(std::move(call))) {
    reactor->Finish(unavailable());
  }
  return reactor;
}

grpc::ServerUnaryReactor* ClientGateway::GetResult(grpc::CallbackServerContext* context,
                                                   const shoal::v1::GetResultRequest* request,
                                                   shoal::v1::GetResultResponse* response) {
  if (request->id().empty()) {
    inbox_->post(BadClientMessage{});
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "GetResult needs an id"));
    return reactor;
  }
  return post_unary(context, GetResultCall{context->DefaultReactor(), request, response});
}

grpc::ServerUnaryReactor* ClientGateway::Cancel(grpc::CallbackServerContext* context,
                                                const shoal::v1::CancelRequest* request,
                                                shoal::v1::CancelResponse* response) {
  if (request->id().empty()) {
    inbox_->post(BadClientMessage{});
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "Cancel needs an id"));
    return reactor;
  }
  return post_unary(context, CancelCall{context->DefaultReactor(), request, response});
}

grpc::ServerUnaryReactor* ClientGateway::GetStats(grpc::CallbackServerContext* context,
                                                  const shoal::v1::StatsRequest* request,
                                                  shoal::v1::Stats* response) {
  return post_unary(context, StatsCall{context->DefaultReactor(), request, response});
}

grpc::ServerUnaryReactor* ClientGateway::ListWorkers(grpc::CallbackServerContext* context,
                                                     const shoal::v1::ListWorkersRequest* request,
                                                     shoal::v1::ListWorkersResponse* response) {
  return post_unary(context, ListWorkersCall{context->DefaultReactor(), request, response});
}

grpc::ServerUnaryReactor* ClientGateway::ListQueues(grpc::CallbackServerContext* context,
                                                    const shoal::v1::ListQueuesRequest* request,
                                                    shoal::v1::ListQueuesResponse* response) {
  return post_unary(context, ListQueuesCall{context->DefaultReactor(), request, response});
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

void ClientGateway::abort_all_sessions() {
  absl::MutexLock lock(&mu_);
  for (auto& [id, reactor] : sessions_) reactor->abort(unavailable());
}

void ClientGateway::forget(SessionId s) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(s);
}

}  // namespace shoal::broker
