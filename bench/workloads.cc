#include "bench/workloads.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <unordered_map>

namespace shoal::bench {
namespace {

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// Busy CPU seconds of the whole machine (user+nice+system+irq+softirq), as common.py.
double busy_cpu_s() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double v[8] = {};
  in >> cpu;
  for (double& x : v) in >> x;
  return (v[0] + v[1] + v[2] + v[5] + v[6]) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds of this process and all its descendants (reaped children included).
double tree_cpu_s() {
  std::unordered_map<long, std::pair<long, double>> procs;  // pid -> (ppid, cpu ticks)
  DIR* dir = opendir("/proc");
  if (!dir) return 0;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    std::ifstream in("/proc/" + std::string(e->d_name) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string f[15];
    for (auto& x : f) fields >> x;
    double ticks = 0;
    for (int i = 11; i < 15; ++i) ticks += std::atof(f[i].c_str());
    procs[pid] = {std::atol(f[1].c_str()), ticks};
  }
  closedir(dir);
  std::unordered_map<long, std::vector<long>> kids;
  for (auto& [pid, p] : procs) kids[p.first].push_back(pid);
  double total = 0;
  // The peers' harness names the root of "our" process tree (broker and workers are
  // siblings of shoal-bench under it), as common.py does.
  const char* root = std::getenv("PEERS_ROOT_PID");
  std::vector<long> stack{root ? std::atol(root) : static_cast<long>(getpid())};
  while (!stack.empty()) {
    long p = stack.back();
    stack.pop_back();
    if (auto it = procs.find(p); it != procs.end()) total += it->second.second;
    for (long k : kids[p]) stack.push_back(k);
  }
  return total / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string fmt(double v) {
  char buf[64];
  if (v >= 100) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else if (v >= 10) {
    std::snprintf(buf, sizeof buf, "%.1f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f", v);
  }
  return buf;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;  // no samples (--k3=0)
  long k = static_cast<long>(std::ceil(p / 100.0 * sorted.size())) - 1;
  k = std::clamp<long>(k, 0, static_cast<long>(sorted.size()) - 1);
  return sorted[k];
}

}  // namespace

bool Settings::wants(const std::string& w) const {
  return std::find(workloads.begin(), workloads.end(), w) != workloads.end();
}

Clock::Clock() : own0_(tree_cpu_s()), busy0_(busy_cpu_s()) { t0_ = now_s(); }

double Clock::stop() {
  elapsed_ = now_s() - t0_;
  double busy = busy_cpu_s() - busy0_;
  cpu_ = tree_cpu_s() - own0_;
  foreign_ = std::max(0.0, busy - cpu_) / elapsed_;
  return elapsed_;
}

static Metrics cpu_metrics(const Clock& c, double ops) {
  return {{"cpu_per_op", {c.cpu_s() * 1e6 / ops, "us"}},
          {"foreign_cores", {c.foreign_cores(), "cores"}}};
}

Metrics throughput(double ops, const Clock& c, const std::string& unit) {
  Metrics m = cpu_metrics(c, ops);
  m["throughput"] = {ops / c.elapsed(), unit};
  return m;
}

Metrics latency(std::vector<double> samples_us, const Clock& c) {
  Metrics m = cpu_metrics(c, static_cast<double>(samples_us.size()));
  std::sort(samples_us.begin(), samples_us.end());
  m["p50"] = {percentile(samples_us, 50), "us"};
  m["p99"] = {percentile(samples_us, 99), "us"};
  return m;
}

Metrics bandwidth(double bytes_moved, double ops, const Clock& c) {
  Metrics m = cpu_metrics(c, ops);
  m["bandwidth"] = {bytes_moved / c.elapsed() / 1e6, "MB/s"};
  return m;
}

void measure(const Settings& s, const std::string& workload, const std::function<Metrics()>& fn) {
  std::map<std::string, std::vector<double>> values;
  std::map<std::string, std::string> units;
  std::vector<std::string> order;
  // As the peers' Runner: a repetition during which other processes kept more than
  // FOREIGN_MAX cores (default 0.2) busy is repeated after 2 s, up to FOREIGN_RETRIES
  // (default 3) times, then kept anyway.
  const char* max_env = std::getenv("FOREIGN_MAX");
  const char* retries_env = std::getenv("FOREIGN_RETRIES");
  const double foreign_max = max_env ? std::atof(max_env) : 0.2;
  const int retries = retries_env ? std::atoi(retries_env) : 3;
  for (int r = 0; r < s.reps; ++r) {
    Metrics m;
    for (int attempt = 0;; ++attempt) {
      m = fn();
      std::fprintf(stderr, "# raw shoal %s rep=%d try=%d", workload.c_str(), r + 1, attempt + 1);
      for (auto& [name, vu] : m)
        std::fprintf(stderr, " %s=%s", name.c_str(), fmt(vu.first).c_str());
      std::fprintf(stderr, "\n");
      auto foreign = m.find("foreign_cores");
      if (foreign == m.end() || foreign->second.first <= foreign_max) break;
      std::fprintf(stderr, "# foreign load %.2f cores > %.2f during shoal %s rep=%d%s\n",
                   foreign->second.first, foreign_max, workload.c_str(), r + 1,
                   attempt < retries ? ", repeating" : ", kept anyway");
      if (attempt >= retries) break;
      std::this_thread::sleep_for(std::chrono::seconds(2));
    }
    for (auto& [name, vu] : m) {
      if (!values.count(name)) order.push_back(name);
      values[name].push_back(vu.first);
      units[name] = vu.second;
    }
  }
  // Main metrics first, then CPU accounting, as the peers print them.
  std::stable_partition(order.begin(), order.end(), [](const std::string& n) {
    return n != "cpu_per_op" && n != "foreign_cores";
  });
  for (const auto& name : order) {
    std::printf("shoal %s %s %s %s\n", workload.c_str(), name.c_str(),
                fmt(median(values[name])).c_str(), units[name].c_str());
  }
  std::fflush(stdout);
}

std::vector<std::pair<std::string, Group>>& groups() {
  static std::vector<std::pair<std::string, Group>> g;
  return g;
}

bool register_group(const std::string& mode, Group group) {
  groups().emplace_back(mode, std::move(group));
  return true;
}

}  // namespace shoal::bench
