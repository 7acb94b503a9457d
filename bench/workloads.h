#pragma once
// shoal-bench's workload registry: each workload file registers named workloads that
// print `shoal WORKLOAD METRIC VALUE UNIT` lines (the peers' harness format).

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace shoal::bench {

// Command-line settings shared by every workload (the peers' flags plus ours).
struct Settings {
  int reps = 3;
  int workers = 2;
  std::vector<std::string> workloads;  // e.g. W1,W2,W3,W4,I1,Q1,P1,M1
  long n1 = 1'000'000;                 // W1 tasks
  long n2 = 10'000'000;                // W2 items (default chunks)
  long n2_chunk1 = 1'000'000;          // W2 items with chunksize 1, and I1's
  long k3 = 20'000;                    // W3 round trips
  long w4_tasks = 200;
  long w4_size = 1 << 20;
  long w4_rounds = 5;
  std::string mode = "local";          // local | remote
  std::string broker;                  // remote: the broker's client address
  std::string root_certs_pem;          // remote: connect with TLS trusting these
  bool wants(const std::string& w) const;
};

// One measured repetition: metric name -> (value, unit).
using Metrics = std::map<std::string, std::pair<double, std::string>>;

// Runs `reps` repetitions of `fn` and prints the median of each metric as
// "shoal <workload> <metric> <value> <unit>".
void measure(const Settings& s, const std::string& workload, const std::function<Metrics()>& fn);

// Helpers building the standard metric sets (with cpu_per_op and foreign_cores).
class Clock {
 public:
  Clock();
  double stop();  // seconds elapsed
  double elapsed() const { return elapsed_; }
  double cpu_s() const { return cpu_; }          // CPU of our process tree
  double foreign_cores() const { return foreign_; }

 private:
  double t0_, own0_, busy0_;
  double elapsed_ = 0, cpu_ = 0, foreign_ = 0;
};
Metrics throughput(double ops, const Clock& c, const std::string& unit = "tasks/s");
Metrics latency(std::vector<double> samples_us, const Clock& c);
Metrics bandwidth(double bytes_moved, double ops, const Clock& c);

// A workload group: runs the workloads of `s` it knows.
using Group = std::function<void(const Settings& s)>;
// Registers a group under a mode ("local", "remote", or "any"); call from a static.
bool register_group(const std::string& mode, Group group);

}  // namespace shoal::bench
