#pragma once
// Broker configuration: parsed from flags in main, passed down as plain structs.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace shoal::broker {

// The largest --max-message-bytes: 256 MiB, so that every frame either way (at most
// max_frame_bytes()) and every journal frame stays below 2 GiB, protobuf's limit.
inline constexpr uint64_t kMaxMessageBytesLimit = 256u << 20;

// --heartbeat-ms and --liveness ranges: a heartbeat of a few ms lost workers to any
// scheduling hiccup (they reconnected over and over), and one of hours never noticed a
// lost worker; a liveness of 1 took a worker a moment late for a lost one.
inline constexpr int64_t kMinHeartbeatMs = 50;
inline constexpr int64_t kMaxHeartbeatMs = 60'000;
inline constexpr int kMinLiveness = 2;
inline constexpr int kMaxLiveness = 100;

// The largest frame either way between broker and workers with `max_message_bytes`:
// room for several tasks or results of the largest size.
constexpr uint64_t max_frame_bytes(uint64_t max_message_bytes) {
  return max_message_bytes * 4 + (1u << 20);
}

// The smallest --result-memory-mb with `max_message_bytes`: one result of the largest
// size, in whole MiB (at least 1).
constexpr uint64_t min_result_memory_mb(uint64_t max_message_bytes) {
  return max_message_bytes <= (1u << 20) ? 1 : (max_message_bytes + (1u << 20) - 1) >> 20;
}

// The smallest --task-memory-mb with `max_message_bytes`: the arguments of one task of
// the largest size, in whole MiB (at least 1); the same floor as the results'.
constexpr uint64_t min_task_memory_mb(uint64_t max_message_bytes) {
  return min_result_memory_mb(max_message_bytes);
}

// What the scheduler needs to know; every field has the documented flag default.
struct SchedulerOptions {
  int64_t heartbeat_ms = 1000;            // heartbeat period sent to workers in Welcome
  int liveness = 3;                       // silent for liveness x heartbeat_ms -> lost
  int64_t result_ttl_ms = 3'600'000;      // retention of a delivered result
  uint64_t max_retained_bytes = 256u << 20;  // delivered results beyond: oldest dropped early
  uint64_t max_queued = 1'000'000;        // queued tasks beyond this are rejected
  // The arguments of tasks not done yet (queued or running: a running task's are kept for
  // its retry), in bytes: a submission that would hold more is rejected as max_queued's.
  uint64_t max_task_bytes = uint64_t{2048} << 20;
  // GetResult calls waiting for their task at once (each holds about 16 KB of gRPC's);
  // one more that would wait is refused with RESOURCE_EXHAUSTED. Not a flag.
  uint64_t max_waiting_results = 100'000;
  // Larger args are rejected as invalid; workers learn it in Welcome and fail a task
  // whose result is larger (RESOURCE_EXHAUSTED).
  uint64_t max_message_bytes = 64 << 20;
  int default_max_retries = 3;            // Task.max_retries == -1 means this
  int64_t time_limit_grace_ms = 5000;     // lease > time_limit + grace -> treated as lost
  // For this long after start, tasks no connected worker has registered wait instead of
  // failing NOT_REGISTERED: workers of a restarted broker come back one by one.
  int64_t registration_grace_ms = 0;
  // 16 secret bytes that key the leases handed to workers (so that no worker can guess
  // the lease of a task it was not sent); "" = 16 zero bytes (tests). Random per start.
  std::string lease_key = {};
  std::string broker_id;                  // sent in Welcome; changes per broker start
};

// Everything the shoal-broker process needs.
struct BrokerConfig {
  std::string client_address = "127.0.0.1:50051";      // gRPC HOST:PORT; port 0 = any
  std::string worker_address = "tcp://127.0.0.1:5555";  // ZeroMQ ROUTER; port 0 = any
  std::string auth_token;                               // "" = no authentication
  // PEM certificate chain and private key for clients' TLS; both empty = plaintext.
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // PEM roots for mutual TLS: when set, a client must present a certificate they sign.
  std::string tls_client_ca_pem;
  // CURVE on the worker endpoint: the broker's secret key (Z85; empty = plaintext) and
  // the public keys of the workers let in (empty = any that knows the broker's key).
  std::string curve_secret_key;
  std::vector<std::string> curve_worker_keys;
  // The broker pings a client connection silent for this long and drops it (with its
  // sessions) when the ping is not answered within max(1 s, half of it): a client host
  // that vanished without a reset. 0 = never.
  int64_t client_keepalive_ms = 20000;
  // A directory for the durable task store; empty = tasks live in memory only.
  std::string store_dir;
  // Called once (on the scheduler's thread) if the store cannot be written any more;
  // the broker has then stopped serving. Not a flag: main exits on it.
  std::function<void(const absl::Status&)> on_store_failure;
  SchedulerOptions scheduler;
};

// OK, or kInvalidArgument naming the first flag with a value that cannot work.
absl::Status validate(const BrokerConfig& config);

}  // namespace shoal::broker
