#include "client/remote_session.h"

namespace shoal::internal {

RemoteSession::RemoteSession(v1::TaskService::Stub* stub,
                             std::unique_ptr<grpc::ClientContext> context,
                             SessionListener* listener)
    : context_(std::move(context)), listener_(listener) {
  stub->async()->Session(context_.get(), this);
  // The hold keeps the call open (so write() stays legal) until the read side ends.
  AddHold();
  StartRead(&in_);
  StartCall();
}

bool RemoteSession::write(v1::ClientMessage message) {
  std::lock_guard lock(mu_);
  if (closed_) return false;
  out_ = std::move(message);
  StartWrite(&out_);
  return true;
}

void RemoteSession::cancel() { context_->TryCancel(); }

void RemoteSession::OnReadDone(bool ok) {
  if (ok) {
    listener_->on_message(this, in_);
    in_.Clear();
    StartRead(&in_);
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
