#include "client/remote_channel.h"

#include <algorithm>
#include <climits>
#include <cstdint>

#include "shoal/internal/keepalive.h"

namespace shoal::internal {
namespace {

// The system_clock time `timeout` from now; time_point::max() (gRPC: never) rather than
// overflowing.
std::chrono::system_clock::time_point system_deadline(std::chrono::milliseconds timeout) {
  using SystemClock = std::chrono::system_clock;
  const auto now = SystemClock::now();
  if (timeout >= std::chrono::duration_cast<std::chrono::milliseconds>(
                     SystemClock::time_point::max() - now)) {
    return SystemClock::time_point::max();
  }
  return now + timeout;
}

}  // namespace

std::shared_ptr<grpc::Channel> make_channel(const std::string& address,
                                            const ConnectOptions& options) {
  grpc::ChannelArguments args;
  // Results of big chunks exceed gRPC's 4 MiB default; the broker bounds them.
  args.SetMaxReceiveMessageSize(INT_MAX);
  args.SetMaxSendMessageSize(INT_MAX);
  // After a broker restart, reconnect within ~a second, not gRPC's default minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  if (options.keepalive.count() > 0) {
    // gRPC stops pinging after two pings without data unless told otherwise, and a pool
    // waiting on a long task sends none: it would never notice its broker's host gone.
    auto ms = static_cast<int>(std::min<std::int64_t>(options.keepalive.count(), INT_MAX));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, ms);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, keepalive_timeout_ms(ms));
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  }
  // Each Pool gets its own connection (and so its own ordering and flow control).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.root_certs_pem;
    ssl.pem_cert_chain = options.cert_chain_pem;
    ssl.pem_private_key = options.private_key_pem;
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  return grpc::CreateCustomChannel(address, creds, args);
}

std::unique_ptr<grpc::ClientContext> make_context(const ConnectOptions& options,
                                                  std::chrono::milliseconds timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!options.auth_token.empty()) {
    context->AddMetadata("authorization", "Bearer " + options.auth_token);
  }
  if (timeout.count() > 0) context->set_deadline(system_deadline(timeout));
  return context;
}

TlsSettingNames cli_tls_setting_names() { return {"--tls", "--root-certs", "--cert"}; }

absl::Status wait_connected(grpc::Channel& channel, const std::string& address,
                            const ConnectOptions& options, const TlsSettingNames& names) {
  auto timeout = options.connect_timeout;
  if (channel.WaitForConnected(system_deadline(timeout))) {
    return absl::OkStatus();
  }
  // gRPC does not say why; a TLS mismatch looks the same as nothing listening.
  const std::string hint =
      options.tls ? " over TLS (is it running, serving TLS, with a certificate that " +
                        names.root_certs +
                        " trusts and that names this host? and if it wants a client "
                        "certificate, one it trusts in " +
                        names.cert + "?)"
                  : " (is it running? one started with --tls-cert needs " + names.tls + ")";
  return absl::UnavailableError("could not reach the broker at " + address + " within " +
                                std::to_string(timeout.count()) + " ms" + hint);
}

}  // namespace shoal::internal
