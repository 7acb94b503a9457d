// shoal-bench: runs the peers' workloads (../shared/peers, W1-W4) and ours (Q1, Q2, P1,
// M1) against Shoal and prints `shoal WORKLOAD METRIC VALUE UNIT` lines, so that
//   OURS_CMD="build/bench/shoal-bench" ../shared/peers/run_all.sh mp ours
// compares Shoal with Python's multiprocessing (and the other peers) in one run.

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_split.h"
#include "bench/workloads.h"
#include "shared/command_line.h"

ABSL_FLAG(int, reps, 3, "repetitions per workload (the median is printed)");
ABSL_FLAG(int, workers, 2, "worker processes");
ABSL_FLAG(std::string, workloads, "W1,W2,W3,W4", "comma-separated: W1,W2,W3,W4,I1,Q1,Q2,P1,M1");
ABSL_FLAG(long, n1, 1000000, "W1: tasks submitted one at a time");
ABSL_FLAG(long, n2, 10000000, "W2: map items with default chunks");
ABSL_FLAG(long, n2_chunk1, 1000000, "W2: map items with chunksize 1 (and I1: imap items)");
ABSL_FLAG(long, k3, 20000, "W3: sequential round trips");
ABSL_FLAG(long, w4_tasks, 200, "W4: tasks per round");
ABSL_FLAG(long, w4_size, 1 << 20, "W4: bytes per payload");
ABSL_FLAG(long, w4_rounds, 5, "W4: rounds");
ABSL_FLAG(std::string, mode, "local", "local (fork/shared-memory pool) or remote (broker)");
ABSL_FLAG(std::string, broker, "", "remote: the broker's client address HOST:PORT");
ABSL_FLAG(std::string, root_certs, "", "remote: a PEM file; connect with TLS trusting it");

namespace shoal::bench {
std::vector<std::pair<std::string, Group>>& groups();
}

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Runs the peers' workloads against Shoal.");
  // The peers' harness passes --n2-chunk1 style flags: accept dashes as underscores.
  std::vector<std::string> args = shoal::internal::underscore_flag_names(argc, argv);
  std::vector<char*> cargs = shoal::internal::argv_of(args);
  absl::ParseCommandLine(static_cast<int>(cargs.size()), cargs.data());

  shoal::bench::Settings s;
  s.reps = absl::GetFlag(FLAGS_reps);
  s.workers = absl::GetFlag(FLAGS_workers);
  s.workloads = absl::StrSplit(absl::GetFlag(FLAGS_workloads), ',', absl::SkipEmpty());
  s.n1 = absl::GetFlag(FLAGS_n1);
  s.n2 = absl::GetFlag(FLAGS_n2);
  s.n2_chunk1 = absl::GetFlag(FLAGS_n2_chunk1);
  s.k3 = absl::GetFlag(FLAGS_k3);
  s.w4_tasks = absl::GetFlag(FLAGS_w4_tasks);
  s.w4_size = absl::GetFlag(FLAGS_w4_size);
  s.w4_rounds = absl::GetFlag(FLAGS_w4_rounds);
  s.mode = absl::GetFlag(FLAGS_mode);
  s.broker = absl::GetFlag(FLAGS_broker);
  if (std::string path = absl::GetFlag(FLAGS_root_certs); !path.empty()) {
    if (!shoal::internal::read_whole_file(path, &s.root_certs_pem) || s.root_certs_pem.empty()) {
      std::fprintf(stderr, "shoal-bench: --root-certs: cannot read %s\n", path.c_str());
      return 2;
    }
  }
  if (s.mode != "local" && s.mode != "remote") {
    std::fprintf(stderr, "shoal-bench: --mode must be local or remote\n");
    return 2;
  }
  if (s.mode == "remote" && s.broker.empty()) {
    std::fprintf(stderr, "shoal-bench: --mode=remote needs --broker=HOST:PORT\n");
    return 2;
  }
  int ran = 0;
  for (auto& [mode, group] : shoal::bench::groups()) {
    if (mode == s.mode || mode == "any") {
      try {
        group(s);
      } catch (const std::exception& e) {  // e.g. a WorkerLostError: say so, don't abort
        std::fprintf(stderr, "shoal-bench: a %s workload failed: %s\n", mode.c_str(), e.what());
        return 1;
      }
      ++ran;
    }
  }
  if (ran == 0) std::fprintf(stderr, "shoal-bench: no workloads for mode %s\n", s.mode.c_str());
  return 0;
}
