#pragma once
// How the remote backend and the `shoal` CLI reach a broker: the channel (plain or
// TLS, reconnecting quickly after a broker restart) and per-call contexts (auth).

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "shoal/options.hpp"

namespace shoal::internal {

// A channel to `address` ("HOST:PORT"). No I/O happens until the first call.
std::shared_ptr<grpc::Channel> make_channel(const std::string& address,
                                            const ConnectOptions& options);

// A context carrying "authorization: Bearer <token>" when options.auth_token is set,
// and a deadline `timeout` from now unless it is zero.
std::unique_ptr<grpc::ClientContext> make_context(const ConnectOptions& options,
                                                  std::chrono::milliseconds timeout);

// How wait_connected()'s hint names the TLS settings: ConnectOptions' fields for the
// C++ API, the flags for the `shoal` CLI.
struct TlsSettingNames {
  std::string tls = "tls";
  std::string root_certs = "root_certs_pem";
  std::string cert = "cert_chain_pem";
};

// The `shoal` CLI's names of the TLS settings (--tls, --root-certs, --cert).
TlsSettingNames cli_tls_setting_names();

// Waits up to options.connect_timeout for the channel to connect; kUnavailable naming
// `address`, with a hint about TLS that names its settings as `names` do, if it does not.
absl::Status wait_connected(grpc::Channel& channel, const std::string& address,
                            const ConnectOptions& options, const TlsSettingNames& names = {});

}  // namespace shoal::internal
