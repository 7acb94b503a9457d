#include "broker/config.h"

#include "absl/strings/str_cat.h"
#include "shared/endpoint.h"
#include "shoal/internal/keepalive.h"

namespace shoal::broker {

absl::Status validate(const BrokerConfig& config) {
  const SchedulerOptions& s = config.scheduler;
  if (absl::Status client =
          internal::check_host_port(config.client_address, internal::EndpointUse::kBind);
      !client.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--client-address ", client.message()));
  }
  if (absl::Status worker =
          internal::check_tcp_endpoint(config.worker_address, internal::EndpointUse::kBind);
      !worker.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--worker-address ", worker.message()));
  }
  if (config.tls_cert_pem.empty() != config.tls_key_pem.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key must be given together");
  }
  if (!config.tls_client_ca_pem.empty() && config.tls_cert_pem.empty()) {
    return absl::InvalidArgumentError("--tls-client-ca needs --tls-cert and --tls-key");
  }
  if (!config.curve_worker_keys.empty() && config.curve_secret_key.empty()) {
    return absl::InvalidArgumentError(
        "--curve-worker-keys-file needs --curve-secret-key-file (CURVE on the worker endpoint)");
  }
  if (config.client_keepalive_ms != 0 && config.client_keepalive_ms < internal::kMinKeepaliveMs) {
    return absl::InvalidArgumentError("--client-keepalive-ms must be 0 (never) or >= 1000");
  }
  if (s.heartbeat_ms < kMinHeartbeatMs || s.heartbeat_ms > kMaxHeartbeatMs) {
    return absl::InvalidArgumentError(absl::StrCat("--heartbeat-ms must be in ", kMinHeartbeatMs,
                                                   "..", kMaxHeartbeatMs, ", not ",
                                                   s.heartbeat_ms));
  }
  if (s.liveness < kMinLiveness || s.liveness > kMaxLiveness) {
    return absl::InvalidArgumentError(absl::StrCat("--liveness must be in ", kMinLiveness, "..",
                                                   kMaxLiveness, ", not ", s.liveness));
  }
  if (s.max_queued == 0) {  // no task could ever be queued
    return absl::InvalidArgumentError("--max-queued must be at least 1, not 0");
  }
  if (s.result_ttl_ms < 0) return absl::InvalidArgumentError("--result-ttl-s must be >= 0");
  if (s.default_max_retries < 0 || s.default_max_retries > 30000) {
    return absl::InvalidArgumentError("--default-max-retries must be in 0..30000");
  }
  if (s.max_message_bytes == 0 || s.max_message_bytes > kMaxMessageBytesLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-message-bytes must be in 1..", kMaxMessageBytesLimit, " (256 MiB)"));
  }
  // Results that no client took yet count against the cap too (their retention starts at
  // their end): a cap that cannot hold one result of the largest size dropped them as
  // soon as the next one ended (--result-memory-mb=0 lost all but the newest).
  if (const uint64_t floor_mb = min_result_memory_mb(s.max_message_bytes);
      s.max_retained_bytes < (floor_mb << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--result-memory-mb must be at least ", floor_mb,
        " (room for one result of --max-message-bytes), not ", s.max_retained_bytes >> 20));
  }
  // A bound below one task of the largest size would refuse that task for ever.
  if (const uint64_t floor_mb = min_task_memory_mb(s.max_message_bytes);
      s.max_task_bytes < (floor_mb << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--task-memory-mb must be at least ", floor_mb,
        " (room for the arguments of one task of --max-message-bytes), not ",
        s.max_task_bytes >> 20));
  }
  return absl::OkStatus();
}

}  // namespace shoal::broker
