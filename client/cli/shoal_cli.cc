// shoal: the command-line client of a shoal-broker (API.md §8).
//
//   shoal status | workers | queues            --broker=HOST:PORT
//   shoal submit TASK --args='[7]'             prints the result as JSON
//   shoal result ID | cancel ID
//   shoal map TASK --input=FILE.jsonl          one JSON argument array a line;
//                                              results as JSON lines, in input order
//   shoal keygen PATH                          a CURVE key pair for the worker link
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/marshalling.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "client/cli/commands.h"
#include "shared/command_line.h"
#include "shared/endpoint.h"
#include "shared/grpc_log_capture.h"

ABSL_FLAG(std::string, broker, "127.0.0.1:50051",
          "the broker's client address HOST:PORT, PORT 1..65535 ([::1]:PORT for IPv6)");
ABSL_FLAG(int, connect_timeout_ms, 5000,
          "give up reaching the broker after this long (> 0); submit --no-wait: waiting for "
          "room in a full broker too");
ABSL_FLAG(int, reconnect_timeout_ms, 30000,
          "submit/map: wait this long (> 0) for a broker lost meanwhile to be back, then fail "
          "what is not done");
ABSL_FLAG(std::string, auth_token, "",
          "sent as 'authorization: Bearer TOKEN' (visible to other users in ps: prefer "
          "--auth-token-file)");
ABSL_FLAG(std::string, auth_token_file, "",
          "read the auth token from this file (its first line), in place of --auth-token");
ABSL_FLAG(bool, tls, false, "use TLS (system roots unless --root-certs is given)");
ABSL_FLAG(std::string, root_certs, "", "PEM file of root certificates (with --tls)");
ABSL_FLAG(std::string, cert, "",
          "PEM file of this client's certificate chain, for a broker that requires one "
          "(mutual TLS; with --key and --tls)");
ABSL_FLAG(std::string, key, "", "PEM file of the private key of --cert");
ABSL_FLAG(std::string, args, "[]",
          "submit: the task's arguments as a JSON array ([] for none; not empty)");
ABSL_FLAG(bool, no_wait, false, "submit: print the task id instead of waiting");
ABSL_FLAG(std::string, input, "", "map: a .jsonl file, one JSON array of arguments a line");
ABSL_FLAG(int, chunksize, 0,
          "map: items per task, >= 0 (0: picked from the worker slots and the first item's size)");
ABSL_FLAG(bool, progress, true, "map: show a progress bar when stderr is a terminal");
ABSL_FLAG(std::string, queue, "", "submit/map: the queue (default: default)");
ABSL_FLAG(int, priority, 0, "submit/map: 0..9, higher runs first");
ABSL_FLAG(int, time_limit_ms, 0, "submit/map: kill a run after this long, >= 0 (0: none)");
ABSL_FLAG(int, max_retries, -1,
          "submit/map: re-runs after a lost worker, >= 0 (-1: the broker's default)");
ABSL_FLAG(int, wait_ms, 0, "result: wait up to this long for the task to end, >= 0");

namespace {

constexpr int kMaxInt = std::numeric_limits<int>::max();

constexpr char kUsage[] =
    "the command-line client of a shoal-broker.\n\n"
    "  shoal status                       queues, workers and counters\n"
    "  shoal workers | queues             one table\n"
    "  shoal submit TASK --args=JSON      run one task, print its result as JSON\n"
    "  shoal result ID [--wait-ms=N]      the result of a task\n"
    "  shoal cancel ID                    cancel a queued task\n"
    "  shoal map TASK --input=FILE.jsonl  run TASK on every line, print JSON lines\n"
    "  shoal keygen PATH                  write a CURVE key pair (PATH, PATH.pub) for\n"
    "                                     shoal-broker/shoal-worker; print the public key\n\n"
    "All but keygen take --broker=HOST:PORT (the broker's client address; [::1]:PORT for\n"
    "IPv6); flags may be spelled with dashes or underscores, a value after '=' or a\n"
    "space (one that starts with \"--\" only after '='). submit and map wait for a\n"
    "worker of the queue, and for room in a full broker (its --max-queued reached),\n"
    "saying so on stderr after 2 s; submit --no-wait waits for room up to\n"
    "--connect-timeout-ms, then withdraws the task (it will not run). A broker lost\n"
    "meanwhile is said at once on stderr and waited for up to --reconnect-timeout-ms;\n"
    "then what is not done fails. Ctrl-C (SIGINT) or SIGTERM while submit or map waits\n"
    "cancels at the broker what they submitted and has not ended, prints what has (map: a\n"
    "line per input line still, an error for each item cancelled or left running), and\n"
    "says how many on stderr. In --input, blank lines are skipped (a result line per\n"
    "non-blank input line). Results on stdout are JSON lines (a byte of a string that is\n"
    "not UTF-8 prints as U+FFFD).\n\n"
    "Exit status: 0 done; 1 a failure (a task failed, the broker could not be reached or,\n"
    "for submit --no-wait, had no room in time or did not answer its withdrawal, cancel\n"
    "found the task running or finished, results could not be written to stdout); 2 a\n"
    "usage error (a flag, one the command does not take, an argument or an --input file;\n"
    "one line on stderr); 3 result: the task is queued or running, not finished yet; 4\n"
    "result, cancel: the broker knows no such task (never seen, or its result expired);\n"
    "130 or 143 submit, map: interrupted by SIGINT or SIGTERM.";

// Prints the usage and every flag of this program, as spelled on the command line.
void print_help() {
  std::vector<absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (flag->Filename().find("shoal_cli") != std::string::npos) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(), [](auto* a, auto* b) { return a->Name() < b->Name(); });
  std::string text = std::string("usage: shoal COMMAND [ARG] [--flags]; ") + kUsage + "\n\n";
  for (const absl::CommandLineFlag* flag : flags) {
    std::string dashed(flag->Name());
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    text += "  --" + dashed + "=" + flag->DefaultValue() + "\n      " + flag->Help() + "\n";
  }
  text += "  --help\n      this text\n";
  std::fputs(text.c_str(), stdout);
}

// What is wrong with the flags in `args` (argv, names with '_') that Abseil would report
// and exit 1 for: an unknown flag, a missing value, or one that does not parse as the
// flag's type. "" if nothing. Adds the name of each flag given (FLAG for --noFLAG) to
// `given`.
std::string flag_syntax_error(const std::vector<std::string>& args,
                              std::vector<std::string>& given) {
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") break;  // positional arguments only from here on
    if (arg.size() < 2 || arg[0] != '-') continue;
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::size_t eq = body.find('=');
    std::string name = body.substr(0, eq);
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string dashed = name;
    std::replace(dashed.begin(), dashed.end(), '_', '-');
    if (flag == nullptr && name.rfind("no", 0) == 0) {  // --noFLAG for a bool FLAG
      flag = absl::FindCommandLineFlag(name.substr(2));
      if (flag != nullptr && (!flag->IsOfType<bool>() || eq != std::string::npos)) flag = nullptr;
      if (flag != nullptr) {
        given.push_back(name.substr(2));
        continue;
      }
    }
    if (flag == nullptr) return "unknown flag --" + dashed + " (see --help)";
    given.push_back(name);
    if (flag->IsOfType<bool>() && eq == std::string::npos) continue;
    std::string value;
    if (eq != std::string::npos) {
      value = body.substr(eq + 1);
    } else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
      value = args[++i];  // --flag VALUE; "--queue --args=[4]" is no value for --queue
    } else {
      return "--" + dashed + " needs a value";
    }
    std::string error;
    bool ok = true;
    if (flag->IsOfType<int>()) {
      int number;
      ok = absl::ParseFlag(value, &number, &error);
    } else if (flag->IsOfType<bool>()) {
      bool on;
      ok = absl::ParseFlag(value, &on, &error);
    }
    if (!ok)
      return "--" + dashed + ": '" + value + "' is not " +
             (flag->IsOfType<int>() ? "a 32-bit integer" : "true or false");
  }
  return "";
}

// "" when flag `name` (spelled with '_') means something to `command`, else why not:
// a flag that would be silently ignored is a usage error.
std::string flag_not_applicable(const std::string& name, const std::string& command) {
  static const std::map<std::string, std::vector<std::string>> kCommandsOf = {
      {"args", {"submit"}},
      {"no_wait", {"submit"}},
      {"input", {"map"}},
      {"chunksize", {"map"}},
      {"progress", {"map"}},
      {"queue", {"submit", "map"}},
      {"priority", {"submit", "map"}},
      {"time_limit_ms", {"submit", "map"}},
      {"max_retries", {"submit", "map"}},
      {"wait_ms", {"result"}},
      {"reconnect_timeout_ms", {"submit", "map"}},
  };
  auto it = kCommandsOf.find(name);
  bool applies = it == kCommandsOf.end()
                     ? command != "keygen"  // the connection flags: every command but keygen
                     : std::find(it->second.begin(), it->second.end(), command) != it->second.end();
  if (applies) return "";
  std::string dashed = name;
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  return "--" + dashed + " does not apply to " + command + " (see --help)";
}

// "" when `value` of --`flag` lies in min..max, else why not.
std::string out_of_range(const std::string& flag, int value, int min, int max) {
  if (value >= min && value <= max) return "";
  std::string range = max == kMaxInt ? ">= " + std::to_string(min)
                                     : std::to_string(min) + ".." + std::to_string(max);
  return "--" + flag + " must be " + range + ", not " + std::to_string(value);
}

// Runs subcommand `command` (a known one) with its argument `arg`; its exit code.
int run_command(const std::string& command, const std::string& arg,
                const shoal::cli::CliConfig& config) {
  using shoal::cli::fail;
  if (command == "keygen") return shoal::cli::run_keygen(arg);
  if (config.broker.rfind("tcp://", 0) == 0) {  // what shoal-worker --broker takes
    return fail("--broker: '" + config.broker +
                    "' looks like the broker's worker endpoint; give its client (gRPC) "
                    "address, HOST:PORT (its --client-address)",
                2);
  }
  // gRPC would take a malformed address, log about it and wait out the connect timeout.
  if (config.broker.rfind("unix:", 0) == 0) {
    return fail("--broker: '" + config.broker +
                    "': a broker listens on HOST:PORT only, not on a unix socket",
                2);
  }
  if (absl::Status address =
          shoal::internal::check_host_port(config.broker, shoal::internal::EndpointUse::kConnect);
      !address.ok()) {
    return fail("--broker: " + std::string(address.message()), 2);
  }
  if (command == "status") return shoal::cli::run_status(config);
  if (command == "workers") return shoal::cli::run_workers(config);
  if (command == "queues") return shoal::cli::run_queues(config);
  if (command == "submit") return shoal::cli::run_submit(config, arg);
  if (command == "result") return shoal::cli::run_result(config, arg);
  if (command == "cancel") return shoal::cli::run_cancel(config, arg);
  if (config.input.empty()) return fail("map needs --input=FILE.jsonl", 2);
  return shoal::cli::run_map(config, arg);
}

}  // namespace

int main(int argc, char** argv) {
  // A closed stdout or stderr would be the next file gRPC opens (a socket, an eventfd),
  // and results or errors would go there. Hold them with /dev/null opened read-only, so
  // that writes fail (EBADF) and are reported, not lost.
  for (int fd : {STDOUT_FILENO, STDERR_FILENO}) {
    if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
      int held = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (held >= 0 && held != fd) {
        dup2(held, fd);
        close(held);
      }
    }
  }
  // gRPC logs to stderr what the CLI says in its one line (a TLS handshake that failed,
  // once per retry): it is kept out of sight.
  shoal::internal::GrpcLogCapture grpc_log;
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return file.find("shoal_cli") != absl::string_view::npos;
  };
  absl::SetFlagsUsageConfig(usage);
  using shoal::cli::fail;
  // Flags are documented with dashes (--root-certs); Abseil's names use '_'.
  std::vector<std::string> args = shoal::internal::underscore_flag_names(argc, argv);
  for (std::size_t i = 1; i < args.size() && args[i] != "--"; ++i) {
    // Abseil's own --help exits 1; asking for help is no error.
    if (args[i] == "--help" || args[i] == "-h" || args[i] == "-help" || args[i] == "--helpfull") {
      print_help();
      return 0;
    }
  }
  std::vector<std::string> given;
  if (std::string error = flag_syntax_error(args, given); !error.empty()) return fail(error, 2);
  std::vector<char*> arg_ptrs = shoal::internal::argv_of(args);
  std::vector<char*> positional = absl::ParseCommandLine(int(arg_ptrs.size()), arg_ptrs.data());
  if (positional.size() < 2) {
    std::fprintf(stderr, "usage: shoal COMMAND [ARG] [--flags]; %s\n", kUsage);
    return 2;
  }
  std::string command = positional[1];
  std::string arg = positional.size() > 2 ? positional[2] : "";
  bool takes_arg = command == "submit" || command == "result" || command == "cancel" ||
                   command == "map" || command == "keygen";
  if (!takes_arg && command != "status" && command != "workers" && command != "queues") {
    return fail("unknown command '" + command + "' (see --help)", 2);
  }
  if (positional.size() > (takes_arg ? 3u : 2u)) {
    return fail(command + " takes " + (takes_arg ? "one argument" : "no argument") +
                    ", not also '" + positional[takes_arg ? 3 : 2] + "' (see --help)",
                2);
  }
  for (const std::string& name : given) {
    if (std::string error = flag_not_applicable(name, command); !error.empty()) {
      return fail(error, 2);
    }
  }
  for (const std::string& error :
       {out_of_range("connect-timeout-ms", absl::GetFlag(FLAGS_connect_timeout_ms), 1, kMaxInt),
        out_of_range("reconnect-timeout-ms", absl::GetFlag(FLAGS_reconnect_timeout_ms), 1,
                     kMaxInt),
        out_of_range("priority", absl::GetFlag(FLAGS_priority), 0, 9),
        out_of_range("time-limit-ms", absl::GetFlag(FLAGS_time_limit_ms), 0, kMaxInt),
        out_of_range("max-retries", absl::GetFlag(FLAGS_max_retries), -1, kMaxInt),
        out_of_range("chunksize", absl::GetFlag(FLAGS_chunksize), 0, kMaxInt),
        out_of_range("wait-ms", absl::GetFlag(FLAGS_wait_ms), 0, kMaxInt)}) {
    if (!error.empty()) return fail(error, 2);
  }

  shoal::cli::CliConfig config;
  config.broker = absl::GetFlag(FLAGS_broker);
  config.connect.connect_timeout =
      std::chrono::milliseconds(absl::GetFlag(FLAGS_connect_timeout_ms));
  config.connect.auth_token = absl::GetFlag(FLAGS_auth_token);
  if (std::string path = absl::GetFlag(FLAGS_auth_token_file); !path.empty()) {
    if (!config.connect.auth_token.empty()) {
      return fail("--auth-token and --auth-token-file: give one", 2);
    }
    std::string text;
    if (!shoal::internal::read_whole_file(path, &text)) {
      return fail("--auth-token-file: cannot read " + path, 2);
    }
    config.connect.auth_token = text.substr(0, text.find_first_of("\r\n"));
    if (config.connect.auth_token.empty()) return fail("--auth-token-file: " + path + " is empty", 2);
  }
  config.connect.tls = absl::GetFlag(FLAGS_tls);
  for (auto [flag, path] : {std::pair{"--root-certs", absl::GetFlag(FLAGS_root_certs)},
                            std::pair{"--cert", absl::GetFlag(FLAGS_cert)},
                            std::pair{"--key", absl::GetFlag(FLAGS_key)}}) {
    // Else a plaintext connection, the file ignored without a word.
    if (!path.empty() && !config.connect.tls) return fail(std::string(flag) + " needs --tls", 2);
  }
  if (std::string path = absl::GetFlag(FLAGS_root_certs); !path.empty()) {
    if (!shoal::internal::read_whole_file(path, &config.connect.root_certs_pem) ||
        config.connect.root_certs_pem.empty()) {
      return fail("--root-certs: cannot read " + path, 2);
    }
  }
  for (auto [flag, path, pem] :
       {std::tuple{"--cert", absl::GetFlag(FLAGS_cert), &config.connect.cert_chain_pem},
        std::tuple{"--key", absl::GetFlag(FLAGS_key), &config.connect.private_key_pem}}) {
    if (path.empty()) continue;
    if (!shoal::internal::read_whole_file(path, pem) || pem->empty()) {
      return fail(std::string(flag) + ": cannot read " + path, 2);
    }
  }
  if (config.connect.cert_chain_pem.empty() != config.connect.private_key_pem.empty()) {
    return fail("--cert and --key go together", 2);
  }
  config.task.queue = absl::GetFlag(FLAGS_queue);
  config.task.priority = absl::GetFlag(FLAGS_priority);
  config.task.time_limit = std::chrono::milliseconds(absl::GetFlag(FLAGS_time_limit_ms));
  config.task.max_retries = absl::GetFlag(FLAGS_max_retries);
  config.args_json = absl::GetFlag(FLAGS_args);
  config.no_wait = absl::GetFlag(FLAGS_no_wait);
  config.input = absl::GetFlag(FLAGS_input);
  config.chunksize = static_cast<std::size_t>(absl::GetFlag(FLAGS_chunksize));
  config.progress = absl::GetFlag(FLAGS_progress);
  config.wait = std::chrono::milliseconds(absl::GetFlag(FLAGS_wait_ms));
  config.reconnect_timeout = std::chrono::milliseconds(absl::GetFlag(FLAGS_reconnect_timeout_ms));

  if (takes_arg && arg.empty()) return fail(command + " needs an argument (see --help)", 2);
  if (command == "result" || command == "cancel") {
    if (absl::Status id = shoal::cli::check_task_id(arg); !id.ok()) {
      return fail(command + ": " + std::string(id.message()), 2);
    }
  }
  int code = run_command(command, arg, config);
  // Results that never reached stdout are a failure, whatever the tasks did.
  return shoal::cli::flush_output() || code != 0 ? code : 1;
}
