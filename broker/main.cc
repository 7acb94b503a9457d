// shoal-broker: parses flags into a BrokerConfig, starts the Broker, prints the
// listening line, and shuts down cleanly on SIGTERM/SIGINT.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "broker/broker.h"
#include "shared/command_line.h"
#include "shared/curve_keys.h"
#include "shared/include/shoal/internal/malloc_tuning.h"

// Flag names use '_' inside (C identifiers); the command line spells them with '-'
// (API.md §8) and both spellings are accepted.
ABSL_FLAG(std::string, client_address, "127.0.0.1:50051",
          "gRPC endpoint for clients, HOST:PORT; port 0 picks a free one; host *, 0.0.0.0 "
          "or [::] listens on every address (shown as 127.0.0.1 or [::1])");
ABSL_FLAG(std::string, worker_address, "tcp://127.0.0.1:5555",
          "ZeroMQ endpoint for workers, tcp://HOST:PORT (PORT 0..65535; 0 picks a free one)");
ABSL_FLAG(int, heartbeat_ms, 1000, "heartbeat period sent to workers, in ms, 50..60000");
ABSL_FLAG(int, liveness, 3, "a worker silent for liveness x heartbeat-ms is lost, 2..100");
ABSL_FLAG(int64_t, client_keepalive_ms, 20000,
          "ping a client connection silent for this long; drop it when the ping goes "
          "unanswered for max(1 s, half of it) (0 = never; else >= 1000)");
ABSL_FLAG(int64_t, result_ttl_s, 3600, "how long a result is kept after its delivery (or its end, if no client took it), in s");
ABSL_FLAG(uint64_t, result_memory_mb, 256,
          "delivered results kept beyond this many MiB are dropped, oldest first (remembered "
          "cancels last), before their ttl; at least --max-message-bytes in MiB (64)");
ABSL_FLAG(uint64_t, max_queued, 1000000,
          "queued tasks beyond this are rejected with RESOURCE_EXHAUSTED (clients retry), >= 1");
ABSL_FLAG(uint64_t, task_memory_mb, 2048,
          "tasks whose arguments would take those of the tasks not done yet (queued or "
          "running) past this many MiB are rejected as --max-queued's; at least "
          "--max-message-bytes in MiB (64)");
ABSL_FLAG(uint64_t, max_message_bytes, 67108864,
          "largest task arguments, and largest task result, accepted, in bytes, at most "
          "268435456 (a task whose result is larger fails with RESOURCE_EXHAUSTED)");
ABSL_FLAG(int, default_max_retries, 3, "re-runs after a lost worker when a task says -1");
ABSL_FLAG(std::string, store_dir, "",
          "keep tasks in a journal in this directory: a restarted broker loses nothing it "
          "acknowledged (default: in memory only)");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error (to stderr)");
ABSL_FLAG(std::string, auth_token, "",
          "when set, clients must send metadata 'authorization: Bearer <token>' (a unary "
          "call without it is refused before its request is read); visible to other users "
          "in ps: prefer --auth-token-file");
ABSL_FLAG(std::string, auth_token_file, "",
          "read --auth-token from this file (its first line; e.g. a systemd credential)");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain: clients must then connect with TLS (needs --tls-key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM root certificates: clients must then present a certificate they sign "
          "(mutual TLS; needs --tls-cert)");
ABSL_FLAG(std::string, curve_secret_key_file, "",
          "the broker's CURVE secret key (`shoal keygen`): workers must then connect with "
          "--broker-public-key, encrypted");
ABSL_FLAG(std::string, curve_worker_keys_file, "",
          "CURVE public keys of the workers let in, one per line (default: any worker that "
          "knows the broker's public key)");

namespace {

int stop_pipe[2] = {-1, -1};

// Async-signal-safe: one byte naming the signal.
void on_stop_signal(int signal_number) {
  unsigned char byte = static_cast<unsigned char>(signal_number);
  [[maybe_unused]] ssize_t n = write(stop_pipe[1], &byte, 1);
}

// Retention beyond a century is as good as for ever (and stays within int64 ms).
constexpr int64_t kMaxResultTtlS = int64_t{100} * 366 * 24 * 3600;

constexpr const char* kFlags[] = {
    "client_address",    "worker_address",      "heartbeat_ms",     "liveness",
    "client_keepalive_ms", "result_ttl_s",      "result_memory_mb", "max_queued",
    "task_memory_mb",    "max_message_bytes",   "default_max_retries", "store_dir",
    "log_level",         "auth_token",          "auth_token_file",  "tls_cert",
    "tls_key",           "tls_client_ca",       "curve_secret_key_file", "curve_worker_keys_file"};

void print_help() {
  std::string text =
      "usage: shoal-broker [--flag=value ...]\n"
      "Shoal's broker: clients submit tasks over gRPC, workers run them over ZeroMQ.\n"
      "Flags are spelled with dashes or underscores, a value after '=' or a space (one\n"
      "that starts with \"--\" only after '=').\n\n";
  for (const char* name : kFlags) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string dashed = name;
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    absl::StrAppend(&text, "  --", dashed, "=", flag->DefaultValue(), "\n      ", flag->Help(),
                    "\n");
  }
  absl::StrAppend(&text,
                  "  -h, --help\n      this text\n\n"
                  "First line on stdout once both endpoints accept:\n"
                  "  shoal-broker listening clients=HOST:PORT workers=tcp://HOST:PORT\n"
                  "SIGTERM/SIGINT: stop accepting, send Shutdown to workers, exit 0.\n"
                  "Exit 2 on a bad flag: an unknown one, a missing or malformed value, one\n"
                  "out of range, or a file it names that cannot be read (one line on stderr).\n"
                  "Exit 1 if it cannot start (e.g. a port is in use, even by another\n"
                  "broker), or if its --store-dir journal cannot be written.\n");
  std::fputs(text.c_str(), stdout);
}

// What the type of `flag` takes, for an error message: "a 32-bit integer".
std::string expected_value(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<int>()) return "an integer in -2147483648..2147483647";
  if (flag.IsOfType<int64_t>()) return "a 64-bit integer";
  if (flag.IsOfType<uint64_t>()) return "an integer in 0..18446744073709551615";
  return "a valid value";
}

// Sets the flags in `argv` (--name=VALUE or --name VALUE, names with '-' or '_'); "" or
// the one error to print: an unknown flag, a missing value, or one its type does not
// parse (Abseil's own parser exits 1 on those, naming the flag with '_').
std::string parse_flags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return arg.rfind("-", 0) == 0 && arg.size() > 1
                 ? "unknown flag '" + arg + "' (see --help)"
                 : "unexpected argument '" + arg + "' (see --help)";
    }
    std::size_t eq = arg.find('=');
    std::string dashed = arg.substr(0, eq);
    std::string name = dashed.substr(2);
    std::replace(name.begin(), name.end(), '-', '_');
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    absl::CommandLineFlag* flag = nullptr;
    if (std::find(std::begin(kFlags), std::end(kFlags), name) != std::end(kFlags)) {
      flag = absl::FindCommandLineFlag(name);
    }
    if (flag == nullptr) return "unknown flag '" + arg.substr(0, eq) + "' (see --help)";
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc && std::string_view(argv[i + 1]).rfind("--", 0) != 0) {
      value = argv[++i];  // --flag VALUE; "--auth-token --tls-cert=F" is no value
    } else {
      return dashed + " needs a value";
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return dashed + ": '" + value + "' is not " + expected_value(*flag);
    }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h" || a == "--helpfull") {
      print_help();
      return 0;
    }
  }
  if (std::string error = parse_flags(argc, argv); !error.empty()) {
    std::fprintf(stderr, "shoal-broker: %s\n", error.c_str());
    return 2;
  }
  // Task arguments and results of many MiB pass through this process; the loop gives
  // freed memory back when no task is queued or running.
  shoal::internal::retain_payload_memory_until_idle();

  auto level = shoal::broker::parse_log_level(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) {
    std::fprintf(stderr, "shoal-broker: --log-level: %s\n", level.status().ToString().c_str());
    return 2;
  }
  shoal::broker::Logger log(*level);
  shoal::broker::BrokerConfig config;
  config.client_address = absl::GetFlag(FLAGS_client_address);
  config.worker_address = absl::GetFlag(FLAGS_worker_address);
  config.auth_token = absl::GetFlag(FLAGS_auth_token);
  if (std::string path = absl::GetFlag(FLAGS_auth_token_file); !path.empty()) {
    std::string text;
    if (!config.auth_token.empty()) {
      std::fprintf(stderr, "shoal-broker: --auth-token and --auth-token-file: give one\n");
      return 2;
    }
    if (!shoal::internal::read_whole_file(path, &text)) {
      std::fprintf(stderr, "shoal-broker: --auth-token-file: cannot read '%s': %s\n",
                   path.c_str(), std::strerror(errno));
      return 2;
    }
    config.auth_token = text.substr(0, text.find_first_of("\r\n"));
    if (config.auth_token.empty()) {  // must not fall back to no token at all
      std::fprintf(stderr, "shoal-broker: --auth-token-file: '%s' is empty\n", path.c_str());
      return 2;
    }
  }
  config.store_dir = absl::GetFlag(FLAGS_store_dir);
  config.on_store_failure = [](const absl::Status&) {
    unsigned char store_failed = 0;  // not a signal: main exits 1
    [[maybe_unused]] ssize_t n = write(stop_pipe[1], &store_failed, 1);
  };
  for (auto [flag, path, pem] :
       {std::tuple{"--tls-cert", absl::GetFlag(FLAGS_tls_cert), &config.tls_cert_pem},
        std::tuple{"--tls-key", absl::GetFlag(FLAGS_tls_key), &config.tls_key_pem},
        std::tuple{"--tls-client-ca", absl::GetFlag(FLAGS_tls_client_ca),
                   &config.tls_client_ca_pem}}) {
    if (path.empty()) continue;
    if (!shoal::internal::read_whole_file(path, pem)) {
      std::fprintf(stderr, "shoal-broker: %s: cannot read '%s': %s\n", flag, path.c_str(),
                   std::strerror(errno));
      return 2;
    }
    if (pem->empty()) {  // must not fall back to plaintext
      std::fprintf(stderr, "shoal-broker: %s: '%s' is empty\n", flag, path.c_str());
      return 2;
    }
  }
  std::string curve_public_key;
  if (std::string path = absl::GetFlag(FLAGS_curve_secret_key_file); !path.empty()) {
    auto pair = shoal::internal::read_curve_key_pair(path);
    if (!pair.ok()) {
      std::fprintf(stderr, "shoal-broker: --curve-secret-key-file: %s\n",
                   std::string(pair.status().message()).c_str());
      return 2;
    }
    config.curve_secret_key = pair->secret_key;
    curve_public_key = pair->public_key;
  }
  if (std::string path = absl::GetFlag(FLAGS_curve_worker_keys_file); !path.empty()) {
    auto keys = shoal::internal::read_curve_keys(path);
    if (!keys.ok() || keys->empty()) {
      std::fprintf(stderr, "shoal-broker: --curve-worker-keys-file: %s\n",
                   keys.ok() ? (path + " holds no key").c_str()
                             : std::string(keys.status().message()).c_str());
      return 2;
    }
    config.curve_worker_keys = *std::move(keys);
  }
  config.scheduler.heartbeat_ms = absl::GetFlag(FLAGS_heartbeat_ms);
  config.scheduler.liveness = absl::GetFlag(FLAGS_liveness);
  config.client_keepalive_ms = absl::GetFlag(FLAGS_client_keepalive_ms);
  // In range before they are scaled: a huge value wrapped past validate() (a negative
  // ttl, or a memory cap of a few bytes).
  const int64_t ttl_s = absl::GetFlag(FLAGS_result_ttl_s);
  const uint64_t memory_mb = absl::GetFlag(FLAGS_result_memory_mb);
  if (ttl_s < 0 || ttl_s > kMaxResultTtlS) {
    std::fprintf(stderr, "shoal-broker: --result-ttl-s must be in 0..%lld (100 years)\n",
                 static_cast<long long>(kMaxResultTtlS));
    return 2;
  }
  const uint64_t task_memory_mb = absl::GetFlag(FLAGS_task_memory_mb);
  for (auto [flag, mb] :
       {std::pair{"result-memory-mb", memory_mb}, {"task-memory-mb", task_memory_mb}}) {
    if (mb > (UINT64_MAX >> 20)) {
      std::fprintf(stderr, "shoal-broker: --%s must be at most %llu\n", flag,
                   static_cast<unsigned long long>(UINT64_MAX >> 20));
      return 2;
    }
  }
  config.scheduler.result_ttl_ms = ttl_s * 1000;
  config.scheduler.max_retained_bytes = memory_mb << 20;
  config.scheduler.max_queued = absl::GetFlag(FLAGS_max_queued);
  config.scheduler.max_task_bytes = task_memory_mb << 20;
  config.scheduler.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  config.scheduler.default_max_retries = absl::GetFlag(FLAGS_default_max_retries);
  if (absl::Status valid = shoal::broker::validate(config); !valid.ok()) {
    std::fprintf(stderr, "shoal-broker: %s\n", std::string(valid.message()).c_str());
    return 2;
  }

  // gRPC may have started threads before main (static initialisation), so signals are
  // not blocked and waited for: a handler on any thread writes to a pipe main reads.
  if (pipe(stop_pipe) != 0) {
    std::perror("shoal-broker: pipe");
    return 1;
  }
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto broker = shoal::broker::Broker::start(config, &log);
  if (!broker.ok()) {
    std::fprintf(stderr, "shoal-broker: %s\n", broker.status().ToString().c_str());
    return 1;
  }
  if (!curve_public_key.empty()) {
    log.info("workers use CURVE: they connect with --broker-public-key=", curve_public_key,
             config.curve_worker_keys.empty()
                 ? " (any such worker is let in)"
                 : absl::StrCat(" and one of ", config.curve_worker_keys.size(), " allowed keys"));
  }
  if (!config.tls_cert_pem.empty()) {
    log.info(config.tls_client_ca_pem.empty()
                 ? "clients use TLS"
                 : "clients use mutual TLS: each presents a certificate --tls-client-ca signs");
  }
  std::printf("shoal-broker listening clients=%s workers=%s\n",
              (*broker)->client_endpoint().c_str(), (*broker)->worker_endpoint().c_str());
  std::fflush(stdout);

  unsigned char signal_number = 0;
  while (read(stop_pipe[0], &signal_number, 1) < 0 && errno == EINTR) {
  }
  if (signal_number == 0) {  // the store failed; the broker logged why
    (*broker)->shutdown();
    return 1;
  }
  log.info("received ", strsignal(signal_number), ": shutting down");
  (*broker)->shutdown();
  return 0;
}
