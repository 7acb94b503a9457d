#include "client/remote_session.h"

namespace shoal::internal {

namespace {

constexpr std::size_t kArenaBlock = 64 << 10;

google::protobuf::ArenaOptions arena_options(char* block) {
  google::protobuf::ArenaOptions options;
  options.initial_block = block;
  options.initial_block_size = kArenaBlock;
  options.max_block_size = 1 << 20;
  return options;
}

}  // namespace

RemoteSession::RemoteSession(v1::TaskService::Stub* stub,
                             std::unique_ptr<grpc::ClientContext> context,
                             SessionListener* listener)
    : context_(std::move(context)),
      listener_(listener),
      out_block_(new char[kArenaBlock]),
      in_block_(new char[kArenaBlock]),
      out_arena_(arena_options(out_block_.get())),
      in_arena_(arena_options(in_block_.get())) {
  stub->async()->Session(context_.get(), this);
  // The hold keeps the call open (so write() stays legal) until the read side ends.
  AddHold();
  start_read();
  StartCall();
}

v1::ClientMessage* RemoteSession::begin_write() {
  out_arena_.Reset();
  out_ = google::protobuf::Arena::CreateMessage<v1::ClientMessage>(&out_arena_);
  return out_;
}

bool RemoteSession::write() {
  std::lock_guard lock(mu_);
  if (closed_) return false;
  StartWrite(out_);
  return true;
}

void RemoteSession::start_read() {
  in_arena_.Reset();
  in_ = google::protobuf::Arena::CreateMessage<v1::ServerMessage>(&in_arena_);
  StartRead(in_);
}

void RemoteSession::cancel() { context_->TryCancel(); }

void RemoteSession::OnReadDone(bool ok) {
  if (ok) {
    listener_->on_message(this, *in_);
    start_read();
    return;
  }
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  RemoveHold();
}

void RemoteSession::OnWriteDone(bool ok) {
  if (!ok) {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  listener_->on_write_done(this, ok);
}

void RemoteSession::OnDone(const grpc::Status& status) {
  listener_->on_done(this, status);  // last: the owner may delete us from here on
}

}  // namespace shoal::internal
