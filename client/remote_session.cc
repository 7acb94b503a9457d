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
  stream_ = stub->PrepareAsyncSession(context_.get(), &cq_);
  stream_->StartCall(reinterpret_cast<void*>(kStart));
  thread_ = std::thread([this] { run(); });
}

RemoteSession::~RemoteSession() {
  if (thread_.joinable()) thread_.join();
}

v1::ClientMessage* RemoteSession::begin_write() {
  out_arena_.Reset();
  out_ = google::protobuf::Arena::CreateMessage<v1::ClientMessage>(&out_arena_);
  return out_;
}

bool RemoteSession::write() {
  std::lock_guard lock(mu_);
  if (closed_) return false;
  write_pending_ = true;
  // Until StartCall completes, its operation holds the stream's write slot: the write
  // is issued then.
  if (!started_) return true;
  stream_->Write(*out_, reinterpret_cast<void*>(kWrite));
  return true;
}

void RemoteSession::start_read() {
  in_arena_.Reset();
  in_ = google::protobuf::Arena::CreateMessage<v1::ServerMessage>(&in_arena_);
  stream_->Read(in_, reinterpret_cast<void*>(kRead));
}

void RemoteSession::cancel() { context_->TryCancel(); }

void RemoteSession::maybe_finish() {
  {
    std::lock_guard lock(mu_);
    if (!read_ended_ || write_pending_ || finishing_) return;
    finishing_ = true;
  }
  stream_->Finish(&status_, reinterpret_cast<void*>(kFinish));
}

void RemoteSession::run() {
  void* tag;
  bool ok;
  while (cq_.Next(&tag, &ok)) {
    switch (reinterpret_cast<std::uintptr_t>(tag)) {
      case kStart: {
        bool failed_write = false;
        {
          std::lock_guard lock(mu_);
          started_ = true;
          if (write_pending_) {  // written while the call was starting
            if (ok) {
              stream_->Write(*out_, reinterpret_cast<void*>(kWrite));
            } else {
              write_pending_ = false;
              failed_write = true;
            }
          }
          if (!ok) {  // the call could not start: it has ended
            closed_ = true;
            read_ended_ = true;
          }
        }
        if (ok) {
          start_read();
          break;
        }
        if (failed_write) listener_->on_write_done(this, false);
        maybe_finish();
        break;
      }
      case kRead:
        if (ok) {
          listener_->on_message(this, *in_);
          start_read();
          break;
        }
        {
          std::lock_guard lock(mu_);
          closed_ = true;
          read_ended_ = true;
        }
        maybe_finish();
        break;
      case kWrite: {
        {
          std::lock_guard lock(mu_);
          write_pending_ = false;
          if (!ok) closed_ = true;
        }
        listener_->on_write_done(this, ok);
        maybe_finish();
        break;
      }
      case kFinish:
        listener_->on_done(this, status_);  // last: the owner may delete us from here on
        cq_.Shutdown();  // Next() drains the queue, then returns false
        break;
    }
  }
}

}  // namespace shoal::internal
