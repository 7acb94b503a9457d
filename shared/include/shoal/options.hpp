#pragma once
// Options of pools and submissions (API.md §3).

#include <chrono>
#include <functional>
#include <string>

namespace shoal {

// How a local pool is made.
struct PoolOptions {
  int processes = 0;                  // 0: cpu_count(); < 0: std::invalid_argument
  std::function<void()> initializer;  // run once in each worker process, before any task
  int max_tasks_per_child = 0;        // 0: unlimited; else a process is replaced after N tasks
};

// Per submission. Local pools honour time_limit and max_retries; queue and priority
// matter only through a broker.
struct TaskOptions {
  std::string queue;                        // named queue; "" = the pool's default ("default")
  int priority = 0;                         // 0..9, higher runs first
  std::chrono::milliseconds time_limit{0};  // hard limit; the process is killed → TaskTimeLimitError
  int max_retries = -1;                     // re-runs after WorkerLostError; -1 = pool default
                                            // (3 remote, 0 local)
};

// How Pool::connect reaches a broker.
struct ConnectOptions {
  std::string queue = "default";
  // How long connect() waits for the broker, and a call that asks it (cancel) for an
  // answer. Positive (milliseconds::max(): no limit), or Pool::connect throws
  // std::invalid_argument.
  std::chrono::milliseconds connect_timeout{5000};
  std::string auth_token;  // sent as gRPC metadata when set
  bool tls = false;
  std::string root_certs_pem;  // "" = the system's roots
  // Beyond API.md, after its fields so that their order (and aggregate initialization
  // in it) holds:
  // Ping the broker when its connection has been silent this long; a ping unanswered
  // within max(1 s, half of it) means the broker's host is gone: the pool reconnects
  // and resumes its tasks (or fails them after 30 s without a broker). 0 = never ping
  // (a broker host that vanishes while the pool only waits is then never noticed);
  // otherwise at least 1 s, or Pool::connect throws std::invalid_argument.
  std::chrono::milliseconds keepalive{10000};
  // For a broker that requires client certificates (mutual TLS, --tls-client-ca): this
  // client's PEM certificate chain and its private key; both or neither.
  std::string cert_chain_pem;
  std::string private_key_pem;
};

}  // namespace shoal
