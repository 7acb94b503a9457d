#include "broker/broker.h"

#include <pthread.h>

#include <chrono>
#include <climits>
#include <mutex>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "broker/durable_task_store.h"
#include "broker/status_macros.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "shared/grpc_log_capture.h"
#include "shared/zmq_term.h"
#include "shoal/internal/keepalive.h"

namespace shoal::broker {
namespace {

std::string random_broker_id() {
  std::random_device rd;
  return absl::StrCat(absl::Hex(uint64_t(rd()) << 32 | rd(), absl::kZeroPad16));
}

// 16 bytes from the system's entropy source, the key of this broker's task leases.
std::string random_lease_key() {
  std::random_device rd;
  std::string key;
  for (int i = 0; i < 4; ++i) {
    uint32_t word = rd();
    key.append(reinterpret_cast<const char*>(&word), sizeof(word));
  }
  return key;
}

// Keepalive both ways: clients may ping every second even while no data flows (gRPC
// would otherwise answer a client that waits on a long task with "too many pings" and
// close its connection); the broker pings a silent client connection with a call open
// (a Session) after `keepalive_ms` (0: not at all) and drops it when no answer comes
// within max(1 s, half of it). Connections without a call are not pinged: an idle
// client of unary calls only may not read its socket, and holds nothing in the broker.
void set_keepalive(grpc::ServerBuilder& builder, int64_t keepalive_ms) {
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             internal::kMinKeepaliveMs / 2);
  if (keepalive_ms == 0) return;
  auto ms = static_cast<int>(std::min<int64_t>(keepalive_ms, INT_MAX));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, internal::keepalive_timeout_ms(ms));
  // Not GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA = 0, as on the client: the server's
  // keepalive pings go on without it (a client idle for 35 s is still found gone), and
  // with it gRPC's flow-control pings cost a W3 round trip ~50 µs.
}

// The host a client of this machine connects to when the broker listens on `host`: a
// wildcard ("*", "0.0.0.0", "[::]") means every address, and is none a client can use.
std::string connectable_host(const std::string& host) {
  if (host == "*" || host == "0.0.0.0") return "127.0.0.1";
  if (host == "[::]" || host == "[::0]") return "[::1]";
  return host;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Broker>> Broker::start(BrokerConfig config, const Logger* log) {
  RETURN_IF_ERROR(validate(config));
  size_t colon = config.client_address.rfind(':');
  if (config.scheduler.broker_id.empty()) config.scheduler.broker_id = random_broker_id();
  if (config.scheduler.lease_key.empty()) config.scheduler.lease_key = random_lease_key();

  std::unique_ptr<Broker> broker(new Broker(log));
  Broker& b = *broker;
  b.config_ = config;
  if (!b.inbox_.valid()) return absl::InternalError("eventfd failed");
  if (config.store_dir.empty()) {
    b.store_ = std::make_unique<InMemoryTaskStore>();
    b.scheduler_ = std::make_unique<Scheduler>(config.scheduler, Scheduler::Deps{&b.clock_, b.store_.get()});
  } else {
    RETURN_IF_ERROR(b.open_store(config));
  }

  auto workers = WorkerGateway::bind(b.zmq_,
                                     {.address = config.worker_address,
                                      .max_message_bytes = config.scheduler.max_message_bytes,
                                      .curve_secret_key = config.curve_secret_key,
                                      .curve_worker_keys = config.curve_worker_keys},
                                     log);
  if (!workers.ok()) return workers.status();
  b.workers_ = std::move(*workers);

  // A batch may carry many tasks of up to max_message_bytes each.
  uint64_t limit = std::min<uint64_t>(config.scheduler.max_message_bytes * 4 + (1 << 20), INT_MAX);
  // A client that does not read its results may leave as much unread as the broker keeps
  // of delivered ones (and at least one message of the largest kind) before its session
  // is no longer read; all clients together as much, but for a merged message each.
  const uint64_t unread = std::max<uint64_t>(config.scheduler.max_retained_bytes, limit);
  b.clients_ = std::make_unique<ClientGateway>(
      ClientGateway::Options{.auth_token = config.auth_token,
                             .max_send_bytes = limit,
                             .max_unread_bytes = static_cast<std::size_t>(unread),
                             .max_unread_total_bytes = static_cast<std::size_t>(unread)},
      &b.inbox_, log);
  // gRPC's standard health service (grpc.health.v1.Health): SERVING for "" and for
  // shoal.v1.TaskService while the broker serves, NOT_SERVING once it shuts down; no
  // token needed, for probes (Kubernetes' grpc probe, grpc_health_probe).
  static std::once_flag health_once;
  std::call_once(health_once, [] { grpc::EnableDefaultHealthCheckService(true); });
  grpc::ServerBuilder builder;
  int port = 0;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!config.tls_cert_pem.empty()) {
    grpc::SslServerCredentialsOptions tls;
    tls.pem_key_cert_pairs.push_back({config.tls_key_pem, config.tls_cert_pem});
    if (!config.tls_client_ca_pem.empty()) {  // mutual TLS
      tls.pem_root_certs = config.tls_client_ca_pem;
      tls.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    credentials = grpc::SslServerCredentials(tls);
  }
  // gRPC sets SO_REUSEPORT by default: a second broker on a taken port would then start
  // too, and clients would alternate between the two. One listener per port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  set_keepalive(builder, config.client_keepalive_ms);
  builder.AddListeningPort(config.client_address, credentials, &port);
  b.clients_->register_with(builder);
  builder.SetMaxReceiveMessageSize(int(limit));
  builder.SetMaxSendMessageSize(int(limit));
  std::unique_ptr<grpc::ServerCompletionQueue> call_cq = builder.AddCompletionQueue();
  std::string bind_error;
  {
    // gRPC's reason for a failed bind is a long log line of nested statuses: the
    // system's part goes into our one line, the whole to the debug log. Other messages
    // (a bad certificate) stay visible.
    internal::GrpcLogCapture grpc_log;
    b.server_ = builder.BuildAndStart();
    bind_error = b.server_ != nullptr && port != 0 ? "" : grpc_log.os_error();
    for (const std::string& message : grpc_log.messages()) {
      if (bind_error.empty()) {
        log->warning("gRPC: ", message);
      } else {
        log->debug("gRPC: ", message);
      }
    }
  }
  // Served at once: shutdown() must find the queue's thread even if `port` is bad.
  if (b.server_ != nullptr) b.clients_->serve(std::move(call_cq));
  if (b.server_ != nullptr && b.server_->GetHealthCheckService() != nullptr) {
    b.server_->GetHealthCheckService()->SetServingStatus(v1::TaskService::service_full_name(),
                                                         true);
  }
  if (b.server_ == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen for clients on ", config.client_address, bind_error.empty() ? "" : ": ",
        bind_error,
        !bind_error.empty() || config.tls_cert_pem.empty()
            ? ""
            : " (or --tls-cert/--tls-key hold no valid PEM pair, or --tls-client-ca no "
              "certificate)"));
  }
  const std::string host = config.client_address.substr(0, colon);
  const std::string reachable = connectable_host(host);
  if (reachable != host) log->info("listening for clients on every address, port ", port);
  b.client_endpoint_ = absl::StrCat(reachable, ":", port);

  b.loop_ = std::make_unique<BrokerLoop>(BrokerLoop::Deps{
      .scheduler = b.scheduler_.get(),
      .workers = b.workers_.get(),
      .inbox = &b.inbox_,
      .sessions = b.clients_.get(),
      .clock = &b.clock_,
      .log = log,
      .store = b.store_.get(),
      .on_store_failure = config.on_store_failure,
  });
  b.loop_thread_ = std::thread([loop = b.loop_.get()] { loop->run(); });
  // Named for tools (top -H, gdb) and for tests that stop the loop alone, its ZeroMQ I/O
  // threads running on (a loop busy for seconds).
  pthread_setname_np(b.loop_thread_.native_handle(), "shoal-loop");
  return broker;
}

absl::Status Broker::open_store(BrokerConfig& config) {
  JournalReplay replay;
  auto store = DurableTaskStore::open(config.store_dir, &replay);
  if (!store.ok()) return store.status();
  store_ = *std::move(store);
  if (config.scheduler.registration_grace_ms == 0) {  // until the workers are back
    config.scheduler.registration_grace_ms = config.scheduler.heartbeat_ms * config.scheduler.liveness;
  }
  scheduler_ = std::make_unique<Scheduler>(config.scheduler, Scheduler::Deps{&clock_, store_.get()});
  uint64_t results = 0;
  for (JournaledTask& t : replay.live) {
    results += t.result.has_value();
    scheduler_->restore(t.task, t.result ? &*t.result : nullptr);
  }
  // The journal starts again from what is live: a restart also compacts it. A rewrite that
  // fails before its rename leaves the old journal intact: the broker goes on with it, as
  // at runtime, unless the store's failure sticks (commit() then returns it).
  if (absl::Status s = scheduler_->rewrite_store(); !s.ok()) {
    RETURN_IF_ERROR(store_->commit());
    log_->warning("store ", config.store_dir, ": cannot rewrite the journal (going on with it "
                  "as it is): ", s.message());
  }
  log_->info("store ", config.store_dir, ": ", replay.live.size() - results, " tasks to run and ",
             results, " results restored");
  if (replay.dropped_bytes > 0) {
    log_->warning("store ", config.store_dir, ": cut off ", replay.dropped_bytes,
                  " bytes at the end of the journal (a write cut short by a crash; no whole "
                  "frame follows); they are kept in ", replay.cut_path);
  }
  return absl::OkStatus();
}

Broker::~Broker() {
  shutdown();
  workers_.reset();  // the last sockets of zmq_
  if (!internal::terminate_within(std::move(zmq_), std::chrono::seconds(5))) {
    log_->warning("ZeroMQ did not end in 5 s after every socket was closed; left behind");
  }
}

void Broker::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  if (server_ != nullptr && server_->GetHealthCheckService() != nullptr) {
    server_->GetHealthCheckService()->Shutdown();  // NOT_SERVING from now on
  }
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
  // A broker that never started serving says only why, in start()'s error.
  if (loop_ != nullptr) log_->info("stopped");
}

}  // namespace shoal::broker
