#pragma once
// A broker and workers as real processes on loopback, for the integration tests.
// Every process is killed by pid when the Cluster goes away (ChildProcess).

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shoal/pool.hpp"
#include "shoal/v1/service.grpc.pb.h"
#include "tests/testutil/process_fixture.h"
#include "tests/testutil/temp_dir.h"

namespace shoal::itest {

class Cluster {
 public:
  ~Cluster();

  // Starts the processes that follow through `launcher` (an argv prefix such as
  // Hosts::launcher(), which runs them on another host); {} starts them directly.
  void run_on(std::vector<std::string> launcher) { launcher_ = std::move(launcher); }

  // Brokers started from now on declare a silent worker lost after 3 x 200 ms (and their
  // workers give a silent broker up as soon): for tests about losing workers or the
  // broker (stopped, cut off). Otherwise the window is 25 x 200 ms, so that a worker
  // starved of CPU on a loaded machine is not taken for lost (its tasks retried).
  void use_quick_loss() { quick_loss_ = true; }

  // Starts shoal-broker (port 0: any free port) and waits for its "listening" line.
  void start_broker(const std::string& client_address = "127.0.0.1:0",
                    const std::string& worker_address = "tcp://127.0.0.1:0",
                    std::vector<std::string> extra = {});
  // SIGKILLs the broker and reaps it.
  void kill_broker();
  // Starts the test worker and waits for its "ready" line.
  testutil::ChildProcess& start_worker(const std::string& name, int processes,
                                       const std::string& queues = "default",
                                       std::vector<std::string> extra = {});
  testutil::ChildProcess& worker(const std::string& name) { return *workers_.at(name); }
  testutil::ChildProcess& broker() { return *broker_; }  // after start_broker()

  const std::string& clients() const { return clients_; }  // HOST:PORT
  const std::string& workers() const { return workers_address_; }  // tcp://HOST:PORT
  v1::TaskService::Stub& stub();
  v1::Stats stats();
  // The broker's ListWorkers entry of worker `name`; nullopt when it lists none.
  std::optional<v1::WorkerInfo> worker_info(const std::string& name);
  // Polls GetStats until `pred` holds; false after `timeout`.
  bool wait_stats(const std::function<bool(const v1::Stats&)>& pred,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // A fresh empty directory for files the test's tasks write.
  const std::string& temp_dir();

 private:
  // argv with launcher_ in front.
  std::vector<std::string> launched(std::vector<std::string> argv) const;

  std::vector<std::string> launcher_;
  bool quick_loss_ = false;
  std::unique_ptr<testutil::ChildProcess> broker_;
  std::map<std::string, std::unique_ptr<testutil::ChildProcess>> workers_;
  std::string clients_, workers_address_;
  std::unique_ptr<testutil::TempDir> temp_dir_;
  std::unique_ptr<v1::TaskService::Stub> stub_;
};

// Terminates `pool` when the test has failed or is unwinding, so that its destructor
// (close + join, which waits for every result) cannot hang a failed test.
class TerminateOnFailure {
 public:
  explicit TerminateOnFailure(Pool& pool) : pool_(pool) {}
  ~TerminateOnFailure();

 private:
  Pool& pool_;
};

// The lines of file `path` (none if it does not exist).
std::vector<std::string> read_lines(const std::string& path);
// Polls file `path` (which a task writes) until it has `n` lines; false after 30 s.
bool wait_for_lines(const std::string& path, std::size_t n);

// Connects to 127.0.0.1:`port` over plain TCP, writes `bytes` and closes; false if it
// could not connect.
bool send_raw_tcp(int port, const std::string& bytes);
// The port of "HOST:PORT" or "tcp://HOST:PORT".
int port_of(const std::string& address);

// Paths of the binaries under test (set by CMake).
std::string broker_bin();
std::string worker_bin();
std::string cli_bin();

}  // namespace shoal::itest
