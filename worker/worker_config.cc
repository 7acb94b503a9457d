#include "worker/worker_config.h"

#include <algorithm>
#include <limits>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "shared/curve_keys.h"
#include "shared/endpoint.h"
#include "shoal/internal/name_limits.h"
#include "shoal/internal/utf8.h"

namespace shoal::worker {
namespace {

absl::Status bad(const std::string& flag, const std::string& why) {
  return absl::InvalidArgumentError("--" + flag + ": " + why);
}

absl::StatusOr<int> parse_int(const std::string& flag, const std::string& value, int min,
                              int max = std::numeric_limits<int>::max()) {
  int n = 0;
  if (!absl::SimpleAtoi(value, &n) || n < min || n > max) {
    return bad(flag, "expected an integer from " + std::to_string(min) +
                         (max == std::numeric_limits<int>::max() ? " up"
                                                                 : " to " + std::to_string(max)) +
                         ", got '" + value + "'");
  }
  return n;
}

// Every flag that takes a value (--load only where `allow_load`).
constexpr std::string_view kFlags[] = {
    "broker",           "processes",         "queues",
    "prefetch",         "log-level",         "name",
    "drain-timeout-ms", "broker-public-key", "curve-secret-key-file",
    "load"};

bool is_flag(const std::string& name) {
  return std::find(std::begin(kFlags), std::end(kFlags), name) != std::end(kFlags);
}

}  // namespace

absl::StatusOr<WorkerConfig> parse_worker_flags(int argc, char** argv, bool allow_load) {
  WorkerConfig config;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h") {  // as the broker and the CLI take it
      config.help = true;
      continue;
    }
    if (arg.rfind("-", 0) == 0 && arg.rfind("--", 0) != 0 && arg.size() > 1) {
      return absl::InvalidArgumentError("unknown flag " + arg + " (see --help)");
    }
    if (arg.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError("unexpected argument '" + arg + "' (see --help)");
    }
    std::string flag = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
      has_value = true;
    }
    std::replace(flag.begin(), flag.end(), '_', '-');
    if (flag == "help") {
      config.help = true;
      continue;
    }
    if (!is_flag(flag) || (flag == "load" && !allow_load)) {
      return absl::InvalidArgumentError("unknown flag --" + flag + " (see --help)");
    }
    if (!has_value) {
      // "--name --load=x.so": the next flag is not the value of this one.
      if (i + 1 >= argc || std::string_view(argv[i + 1]).starts_with("--")) {
        return absl::InvalidArgumentError("--" + flag + " needs a value");
      }
      value = argv[++i];
    }
    if (flag == "broker") {
      if (value.find("://") == std::string::npos) value = "tcp://" + value;
      if (value.rfind("tcp://", 0) == 0) {
        auto valid = internal::check_tcp_endpoint(value, internal::EndpointUse::kConnect);
        if (!valid.ok()) return bad(flag, std::string(valid.message()));
      }
      config.broker = value;
    } else if (flag == "processes") {
      auto n = parse_int(flag, value, 0, kMaxProcesses);
      if (!n.ok()) return n.status();
      config.processes = *n;
    } else if (flag == "queues") {
      config.queues = absl::StrSplit(value, ',', absl::SkipWhitespace());
      if (config.queues.empty()) return bad(flag, "needs at least one queue name");
      if (!internal::is_utf8(value)) return bad(flag, "queue names must be UTF-8");
      if (config.queues.size() > internal::kMaxQueuesPerWorker) {
        return bad(flag, "at most " + std::to_string(internal::kMaxQueuesPerWorker) + " queues");
      }
      for (const auto& q : config.queues) {
        if (q.size() > internal::kMaxNameBytes) {
          return bad(flag, "a queue name has at most " +
                               std::to_string(internal::kMaxNameBytes) + " bytes");
        }
      }
    } else if (flag == "prefetch") {
      auto n = parse_int(flag, value, 1);
      if (!n.ok()) return n.status();
      config.prefetch = *n;
    } else if (flag == "log-level") {
      config.log_level = value;
    } else if (flag == "name") {
      if (value.empty()) return bad(flag, "must not be empty");
      if (!internal::is_utf8(value)) return bad(flag, "must be UTF-8");
      if (value.size() > internal::kMaxNameBytes) {
        return bad(flag, "has at most " + std::to_string(internal::kMaxNameBytes) + " bytes");
      }
      config.name = value;
    } else if (flag == "drain-timeout-ms") {
      auto n = parse_int(flag, value, 0);
      if (!n.ok()) return n.status();
      config.drain_timeout = std::chrono::milliseconds(*n);
    } else if (flag == "broker-public-key") {
      auto key = internal::curve_key_or_file(value, "--broker-public-key");
      if (!key.ok()) return key.status();
      config.broker_public_key = *std::move(key);
    } else if (flag == "curve-secret-key-file") {
      config.curve_secret_key_file = value;
    } else if (flag == "load" && allow_load) {
      config.load.push_back(value);
    } else {
      return absl::InvalidArgumentError("unknown flag --" + flag + " (see --help)");
    }
  }
  if (!config.curve_secret_key_file.empty() && config.broker_public_key.empty()) {
    return bad("curve-secret-key-file", "needs --broker-public-key (CURVE)");
  }
  if (!config.help && config.broker.empty()) {
    return absl::InvalidArgumentError("--broker=tcp://HOST:PORT is required (see --help)");
  }
  return config;
}

std::string worker_usage(const std::string& program, bool allow_load) {
  std::string text =
      "usage: " + program +
      " --broker=tcp://HOST:PORT [flags]\n"
      "Runs registered Shoal tasks for a shoal-broker on a local pool of processes.\n\n"
      "  --broker=tcp://HOST:PORT   the broker's worker endpoint, PORT 1..65535 (required)\n"
      "  --processes=N              worker processes, up to 1024 (default: cpu_count)\n"
      "  --queues=a,b               queues to serve (default: default)\n"
      "  --prefetch=N               tasks held per process, running ones included (default: 1)\n"
      "  --log-level=LEVEL          debug, info, warning or error (default: info)\n"
      "  --name=NAME                this worker's identity at the broker (default:\n"
      "                             HOST-PID); one live process per name\n"
      "  --drain-timeout-ms=MS      on SIGTERM, wait this long for running tasks\n"
      "                             before killing them (default: 30000)\n"
      "  --broker-public-key=KEY    the broker's CURVE public key (Z85, or its file):\n"
      "                             the link is then encrypted, the broker authenticated\n"
      "  --curve-secret-key-file=F  this worker's CURVE secret key (`shoal keygen`), for\n"
      "                             a broker that lets in listed keys only (default:\n"
      "                             a new key pair each start)\n";
  if (allow_load) {
    text += "  --load=path/to/lib.so      load a library that registers tasks (repeatable)\n";
  }
  text += "  -h, --help                 this text\n\n"
          "A value may follow its flag after '=' or a space; one that starts with \"--\"\n"
          "only after '=' (--name=--odd).\n\n"
          "Prints \"shoal-worker ready name=NAME slots=N queues=a,b\" once registered.\n"
          "SIGTERM: stop taking tasks, finish the ones it holds (the broker runs them\n"
          "nowhere else meanwhile; those still running after --drain-timeout-ms are\n"
          "killed and retried elsewhere), exit 0.\n"
          "Exit status 3: the broker refuses --name, which a live worker of another\n"
          "process holds (after saying hello again for the broker's liveness window, in\n"
          "case that is this worker's own crashed former process); 2: bad flags; 1: other\n"
          "fatal errors.\n";
  return text;
}

}  // namespace shoal::worker
