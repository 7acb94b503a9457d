#include "broker/client_gateway.h"

#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "broker/client_session.h"
#include "broker/client_unary.h"
#include "broker/internal/client_call_util.h"
#include "grpcpp/server_builder.h"

namespace shoal::broker {

using internal::CqTag;
using internal::unavailable;
using shoal::v1::ServerMessage;

namespace {

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

}  // namespace

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
