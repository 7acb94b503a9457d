#include "tests/integration/cluster.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <exception>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace shoal::itest {

using namespace std::chrono_literals;

std::string broker_bin() { return SHOAL_BROKER_BIN; }
std::string worker_bin() { return SHOAL_TEST_WORKER_BIN; }
std::string cli_bin() { return SHOAL_CLI_BIN; }

bool send_raw_tcp(int port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
            write(fd, bytes.data(), bytes.size()) > 0;
  close(fd);
  return ok;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool wait_for_lines(const std::string& path, std::size_t n) {
  auto give_up = std::chrono::steady_clock::now() + 30s;
  while (read_lines(path).size() < n) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(2ms);  // polling a file a task writes
  }
  return true;
}

int port_of(const std::string& address) {
  return std::stoi(address.substr(address.rfind(':') + 1));
}

TerminateOnFailure::~TerminateOnFailure() {
  if (std::uncaught_exceptions() > 0 || ::testing::Test::HasFailure()) pool_.terminate();
}

Cluster::~Cluster() {
  workers_.clear();  // SIGKILL by pid
  broker_.reset();
  temp_dir_.reset();  // after the processes that used it
}

std::vector<std::string> Cluster::launched(std::vector<std::string> argv) const {
  argv.insert(argv.begin(), launcher_.begin(), launcher_.end());
  return argv;
}

void Cluster::start_broker(const std::string& client_address, const std::string& worker_address,
                           std::vector<std::string> extra) {
  std::vector<std::string> argv{broker_bin(), "--client-address=" + client_address,
                                "--worker-address=" + worker_address, "--heartbeat-ms=200",
                                quick_loss_ ? "--liveness=3" : "--liveness=25",
                                "--log-level=warning"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  broker_ = testutil::ChildProcess::start(launched(argv));
  auto line = broker_->wait_for_line("shoal-broker listening", 20s);
  if (!line) throw std::runtime_error("shoal-broker did not start");
  auto field = [&](const std::string& key) {
    auto at = line->find(key);
    auto end = line->find(' ', at);
    return line->substr(at + key.size(), end == std::string::npos ? end : end - at - key.size());
  };
  clients_ = field("clients=");
  workers_address_ = field("workers=");
  stub_.reset();
}

void Cluster::kill_broker() {
  broker_->signal(SIGKILL);
  broker_->wait(10s);
  broker_.reset();
}

testutil::ChildProcess& Cluster::start_worker(const std::string& name, int processes,
                                              const std::string& queues,
                                              std::vector<std::string> extra) {
  std::vector<std::string> argv{worker_bin(), "--broker=" + workers_address_,
                                "--processes=" + std::to_string(processes), "--name=" + name,
                                "--queues=" + queues, "--log-level=warning"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto proc = testutil::ChildProcess::start(launched(argv), {"SHOAL_TEST_WORKER_NAME=" + name});
  auto line = proc->read_line(20s);
  std::string expected = "shoal-worker ready name=" + name + " slots=" + std::to_string(processes) +
                         " queues=" + queues;
  if (!line || *line != expected) {
    throw std::runtime_error("worker " + name + " printed '" + line.value_or("<nothing>") +
                             "', expected '" + expected + "'");
  }
  auto& ref = *proc;
  workers_[name] = std::move(proc);
  return ref;
}

v1::TaskService::Stub& Cluster::stub() {
  if (!stub_) {
    stub_ = v1::TaskService::NewStub(
        grpc::CreateChannel(clients_, grpc::InsecureChannelCredentials()));
  }
  return *stub_;
}

v1::Stats Cluster::stats() {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 5s);
  v1::Stats stats;
  auto status = stub().GetStats(&context, v1::StatsRequest(), &stats);
  if (!status.ok()) throw std::runtime_error("GetStats: " + status.error_message());
  return stats;
}

std::optional<v1::WorkerInfo> Cluster::worker_info(const std::string& name) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 5s);
  v1::ListWorkersResponse workers;
  auto status = stub().ListWorkers(&context, v1::ListWorkersRequest(), &workers);
  if (!status.ok()) throw std::runtime_error("ListWorkers: " + status.error_message());
  for (const auto& w : workers.workers()) {
    if (w.name() == name) return w;
  }
  return std::nullopt;
}

bool Cluster::wait_stats(const std::function<bool(const v1::Stats&)>& pred,
                         std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(stats())) return true;
    std::this_thread::sleep_for(5ms);  // polling the broker's counters, not a sync sleep
  }
  return false;
}

const std::string& Cluster::temp_dir() {
  if (temp_dir_ == nullptr) temp_dir_ = std::make_unique<testutil::TempDir>("shoal-itest");
  return temp_dir_->path();
}

}  // namespace shoal::itest
