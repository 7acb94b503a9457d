#include "broker/broker.h"

#include <chrono>
#include <climits>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "broker/status_macros.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace shoal::broker {
namespace {

std::string random_broker_id() {
  std::random_device rd;
  return absl::StrCat(absl::Hex(uint64_t(rd()) << 32 | rd(), absl::kZeroPad16));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Broker>> Broker::start(BrokerConfig config, const Logger* log) {
  RETURN_IF_ERROR(validate(config));
  size_t colon = config.client_address.rfind(':');
  if (config.scheduler.broker_id.empty()) config.scheduler.broker_id = random_broker_id();

  std::unique_ptr<Broker> broker(new Broker(log));
  Broker& b = *broker;
  b.config_ = config;
  if (!b.inbox_.valid()) return absl::InternalError("eventfd failed");
  b.scheduler_ = std::make_unique<Scheduler>(config.scheduler, Scheduler::Deps{&b.clock_, &b.store_});

  auto workers = WorkerGateway::bind(b.zmq_,
                                     {.address = config.worker_address,
                                      .max_message_bytes = config.scheduler.max_message_bytes,
                                      .curve_secret_key = config.curve_secret_key,
                                      .curve_worker_keys = config.curve_worker_keys},
                                     log);
  if (!workers.ok()) return workers.status();
  b.workers_ = std::move(*workers);

  b.clients_ = std::make_unique<ClientGateway>(ClientGateway::Options{config.auth_token},
                                               &b.inbox_, log);
  grpc::ServerBuilder builder;
  int port = 0;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!config.tls_cert_pem.empty()) {
    grpc::SslServerCredentialsOptions tls;
    tls.pem_key_cert_pairs.push_back({config.tls_key_pem, config.tls_cert_pem});
    credentials = grpc::SslServerCredentials(tls);
  }
  builder.AddListeningPort(config.client_address, credentials, &port);
  builder.RegisterService(b.clients_.get());
  // A batch may carry many tasks of up to max_message_bytes each.
  uint64_t limit = std::min<uint64_t>(config.scheduler.max_message_bytes * 4 + (1 << 20), INT_MAX);
  builder.SetMaxReceiveMessageSize(int(limit));
  builder.SetMaxSendMessageSize(int(limit));
  std::unique_ptr<grpc::ServerCompletionQueue> call_cq = builder.AddCompletionQueue();
  b.server_ = builder.BuildAndStart();
  // Served at once: shutdown() must find the queue's thread even if `port` is bad.
  if (b.server_ != nullptr) b.clients_->serve(std::move(call_cq));
  if (b.server_ == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen for clients on ", config.client_address,
        config.tls_cert_pem.empty() ? "" : " (or --tls-cert/--tls-key hold no valid PEM pair)"));
  }
  b.client_endpoint_ = absl::StrCat(config.client_address.substr(0, colon), ":", port);

  b.loop_ = std::make_unique<BrokerLoop>(BrokerLoop::Deps{
      .scheduler = b.scheduler_.get(),
      .workers = b.workers_.get(),
      .inbox = &b.inbox_,
      .sessions = b.clients_.get(),
      .clock = &b.clock_,
      .log = log,
  });
  b.loop_thread_ = std::thread([loop = b.loop_.get()] { loop->run(); });
  return broker;
}

Broker::~Broker() { shutdown(); }

void Broker::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  if (loop_ != nullptr) {
    loop_->stop();  // closes the inbox: later calls are refused with UNAVAILABLE
    loop_thread_.join();
  }
  if (clients_ != nullptr) clients_->abort_all_sessions();
  if (server_ != nullptr) {
    // Calls were all answered above; the deadline only bounds gRPC's wait for idle
    // client connections to go away.
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    server_->Wait();
  }
  if (clients_ != nullptr) clients_->stop_serving();
  if (workers_ != nullptr) workers_->close(/*linger_ms=*/1000);  // let Shutdown frames leave
  log_->info("stopped");
}

}  // namespace shoal::broker
