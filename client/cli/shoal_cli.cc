// shoal: the command-line client of a shoal-broker (API.md §8).
//
//   shoal status | workers | queues            --broker=HOST:PORT
//   shoal submit TASK --args='[7]'             prints the result as JSON
//   shoal result ID | cancel ID
//   shoal map TASK --input=FILE.jsonl          one JSON argument array a line;
//                                              results as JSON lines, in input order
//   shoal keygen PATH                          a CURVE key pair for the worker link
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "client/cli/commands.h"
#include "shared/command_line.h"

ABSL_FLAG(std::string, broker, "127.0.0.1:50051", "the broker's client address HOST:PORT");
ABSL_FLAG(int, connect_timeout_ms, 5000, "give up reaching the broker after this long");
ABSL_FLAG(std::string, auth_token, "", "sent as 'authorization: Bearer TOKEN'");
ABSL_FLAG(bool, tls, false, "use TLS (system roots unless --root-certs is given)");
ABSL_FLAG(std::string, root_certs, "", "PEM file of root certificates for --tls");
ABSL_FLAG(std::string, cert, "",
          "PEM file of this client's certificate chain, for a broker that requires one "
          "(mutual TLS; with --key and --tls)");
ABSL_FLAG(std::string, key, "", "PEM file of the private key of --cert");
ABSL_FLAG(std::string, args, "[]", "submit: the task's arguments as a JSON array");
ABSL_FLAG(bool, no_wait, false, "submit: print the task id instead of waiting");
ABSL_FLAG(std::string, input, "", "map: a .jsonl file, one JSON array of arguments a line");
ABSL_FLAG(int, chunksize, 0, "map: items per task (0: picked from the worker slots)");
ABSL_FLAG(bool, progress, true, "map: show a progress bar when stderr is a terminal");
ABSL_FLAG(std::string, queue, "", "submit/map: the queue (default: default)");
ABSL_FLAG(int, priority, 0, "submit/map: 0..9, higher runs first");
ABSL_FLAG(int, time_limit_ms, 0, "submit/map: kill a run after this long (0: none)");
ABSL_FLAG(int, max_retries, -1, "submit/map: re-runs after a lost worker (-1: broker default)");
ABSL_FLAG(int, wait_ms, 0, "result: wait up to this long for the task to end");

namespace {

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
    "All but keygen take --broker=HOST:PORT (the broker's client address); flags may be\n"
    "spelled with dashes or underscores.";

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return file.find("shoal_cli") != absl::string_view::npos;
  };
  absl::SetFlagsUsageConfig(usage);
  // Flags are documented with dashes (--root-certs); Abseil's names use '_'.
  std::vector<std::string> args = shoal::internal::underscore_flag_names(argc, argv);
  std::vector<char*> arg_ptrs = shoal::internal::argv_of(args);
  std::vector<char*> positional = absl::ParseCommandLine(int(arg_ptrs.size()), arg_ptrs.data());
  if (positional.size() < 2) {
    std::fprintf(stderr, "usage: shoal COMMAND [ARG] [--flags]; %s\n", kUsage);
    return 2;
  }
  using shoal::cli::fail;
  std::string command = positional[1];
  std::string arg = positional.size() > 2 ? positional[2] : "";

  shoal::cli::CliConfig config;
  config.broker = absl::GetFlag(FLAGS_broker);
  config.connect.connect_timeout = std::chrono::milliseconds(absl::GetFlag(FLAGS_connect_timeout_ms));
  config.connect.auth_token = absl::GetFlag(FLAGS_auth_token);
  config.connect.tls = absl::GetFlag(FLAGS_tls);
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
  if (!config.connect.cert_chain_pem.empty() && !config.connect.tls) {
    return fail("--cert needs --tls", 2);
  }
  config.task.queue = absl::GetFlag(FLAGS_queue);
  config.task.priority = absl::GetFlag(FLAGS_priority);
  config.task.time_limit = std::chrono::milliseconds(absl::GetFlag(FLAGS_time_limit_ms));
  config.task.max_retries = absl::GetFlag(FLAGS_max_retries);
  config.args_json = absl::GetFlag(FLAGS_args);
  config.no_wait = absl::GetFlag(FLAGS_no_wait);
  config.input = absl::GetFlag(FLAGS_input);
  config.chunksize = static_cast<std::size_t>(std::max(0, absl::GetFlag(FLAGS_chunksize)));
  config.progress = absl::GetFlag(FLAGS_progress);
  config.wait = std::chrono::milliseconds(absl::GetFlag(FLAGS_wait_ms));

  bool needs_arg = command == "submit" || command == "result" || command == "cancel" ||
                   command == "map" || command == "keygen";
  if (needs_arg && arg.empty()) return fail(command + " needs an argument (see --help)", 2);
  if (command == "keygen") return shoal::cli::run_keygen(arg);
  if (command == "status") return shoal::cli::run_status(config);
  if (command == "workers") return shoal::cli::run_workers(config);
  if (command == "queues") return shoal::cli::run_queues(config);
  if (command == "submit") return shoal::cli::run_submit(config, arg);
  if (command == "result") return shoal::cli::run_result(config, arg);
  if (command == "cancel") return shoal::cli::run_cancel(config, arg);
  if (command == "map") {
    if (config.input.empty()) return fail("map needs --input=FILE.jsonl", 2);
    return shoal::cli::run_map(config, arg);
  }
  return fail("unknown command '" + command + "' (see --help)", 2);
}
