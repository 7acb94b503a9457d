// Broker micro-benchmarks:
//   BM_Scheduler       the scheduler alone, per task: submit -> lease -> result -> delivery
//   BM_QueuedMemory    heap bytes per queued task with 1M tasks queued and no worker
//   BM_BrokerProcessW1 the real shoal-broker process under W1-style load (one client
//                      session streaming batches, one echoing worker): broker CPU per task
#include <malloc.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "broker/scheduler.h"
#include "grpcpp/grpcpp.h"
#include "shoal/v1/service.grpc.pb.h"
#include "zmq.hpp"

extern char** environ;

namespace shoal::broker {
namespace {

shoal::v1::Task make_task(uint64_t n) {
  shoal::v1::Task t;
  t.set_id(absl::StrCat("c0ffee42-", n));  // a client prefix and a counter, like the client
  t.set_name("square");
  t.set_args("\x91\x07");
  t.set_max_retries(-1);
  return t;
}

// Args: tasks per round, and the worker's slots (its prefetch holds the rest of a round:
// those tasks wait on it, as W1's do behind 2 processes with --prefetch=256).
void BM_Scheduler(benchmark::State& state) {
  const int batch = int(state.range(0));
  const uint32_t slots = uint32_t(state.range(1));
  FakeClock clock;
  InMemoryTaskStore store;
  SchedulerOptions options;
  options.result_ttl_ms = 0;  // delivered results go at the next tick: steady memory
  Scheduler scheduler(options, {&clock, &store});
  Actions out;
  scheduler.open_session(1);
  shoal::v1::WorkerMessage hello;
  hello.set_version(1);
  hello.mutable_hello()->set_name("w");
  hello.mutable_hello()->add_tasks("square");
  hello.mutable_hello()->set_slots(slots);
  hello.mutable_hello()->set_prefetch((uint32_t(batch) + slots - 1) / slots);
  hello.mutable_hello()->set_credit(uint32_t(batch));
  scheduler.worker_message("peer", &hello, out);
  out.clear();
  uint64_t next = 0;
  for (auto _ : state) {
    state.PauseTiming();  // what the gateway's parsing would hand over
    google::protobuf::RepeatedPtrField<shoal::v1::Task> tasks;
    for (int i = 0; i < batch; ++i) *tasks.Add() = make_task(next++);
    state.ResumeTiming();
    scheduler.submit(1, &tasks, out);
    state.PauseTiming();
    shoal::v1::WorkerMessage results;
    results.set_version(1);
    for (auto& send : out.to_workers) {
      shoal::v1::BrokerMessage frame;
      frame.ParseFromString(send.task_batch.frame());
      for (auto& t : frame.tasks().tasks()) {
        auto* r = results.mutable_results()->add_results();
        r->set_id(t.id());
        r->add_items()->set_value("\x31");
      }
    }
    results.mutable_results()->set_credit(uint32_t(batch));
    out.clear();
    state.ResumeTiming();
    scheduler.worker_message("peer", &results, out);
    scheduler.tick(out);
    out.clear();
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * batch);
}
BENCHMARK(BM_Scheduler)->Args({1, 1})->Args({16, 16})->Args({256, 256})->Args({256, 2});

void BM_QueuedMemory(benchmark::State& state) {
  const uint64_t n = uint64_t(state.range(0));
  for (auto _ : state) {
    // The heap and glibc's own mmaps of large blocks (the store's and queues' biggest
    // arrays): uordblks alone missed about a fifth.
    auto in_use = [] {
      struct mallinfo2 m = mallinfo2();
      return m.uordblks + m.hblkhd;
    };
    size_t before = in_use();
    {
      FakeClock clock;
      InMemoryTaskStore store;
      SchedulerOptions options;
      options.max_queued = n;
      Scheduler scheduler(options, {&clock, &store});
      Actions out;
      scheduler.open_session(1);
      for (uint64_t done = 0; done < n; done += 1000) {
        google::protobuf::RepeatedPtrField<shoal::v1::Task> tasks;
        for (uint64_t i = done; i < std::min(n, done + 1000); ++i) *tasks.Add() = make_task(i);
        scheduler.submit(1, &tasks, out);
        out.clear();
      }
      size_t after = in_use();
      state.counters["queued"] = double(scheduler.stats().queued());
      state.counters["bytes_per_task"] = double(after - before) / double(n);
    }
  }
}
BENCHMARK(BM_QueuedMemory)->Arg(1'000'000)->Iterations(1)->Unit(benchmark::kMillisecond);

// An echoing worker on its own thread: every task gets the MessagePack value 49 back.
class EchoWorker {
 public:
  EchoWorker(const std::string& endpoint, uint32_t slots) : thread_([=, this] { run(endpoint, slots); }) {}
  ~EchoWorker() {
    stop_ = true;
    thread_.join();
  }

 private:
  void run(const std::string& endpoint, uint32_t slots) {
    zmq::context_t context;
    zmq::socket_t socket(context, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::linger, 0);
    socket.connect(endpoint);
    shoal::v1::WorkerMessage hello;
    hello.set_version(1);
    hello.mutable_hello()->set_name("echo");
    hello.mutable_hello()->add_tasks("square");
    hello.mutable_hello()->set_slots(slots);
    hello.mutable_hello()->set_prefetch(1);
    hello.mutable_hello()->set_credit(slots);
    socket.send(zmq::buffer(hello.SerializeAsString()));
    while (!stop_) {
      zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds(50));
      zmq::message_t frame;
      while (socket.recv(frame, zmq::recv_flags::dontwait)) {
        shoal::v1::BrokerMessage in;
        if (!in.ParseFromArray(frame.data(), int(frame.size())) || !in.has_tasks()) continue;
        shoal::v1::WorkerMessage out;
        out.set_version(1);
        for (const auto& t : in.tasks().tasks()) {
          auto* r = out.mutable_results()->add_results();
          r->set_id(t.id());
          r->add_items()->set_value("\x31");
        }
        out.mutable_results()->set_credit(uint32_t(in.tasks().tasks_size()));
        socket.send(zmq::buffer(out.SerializeAsString()));
      }
    }
  }
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

double broker_cpu_seconds(shoal::v1::TaskService::Stub& stub) {
  grpc::ClientContext context;
  shoal::v1::Stats stats;
  stub.GetStats(&context, {}, &stats);
  return stats.cpu_seconds();
}

void BM_BrokerProcessW1(benchmark::State& state) {
  const uint32_t slots = uint32_t(state.range(0));
  const int batch = int(state.range(1));
  const uint64_t n = 200'000;
  int out[2];
  if (pipe(out) != 0) return state.SkipWithError("pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  std::string binary = SHOAL_BROKER_BINARY, a1 = "--client-address=127.0.0.1:0",
              a2 = "--worker-address=tcp://127.0.0.1:0", a3 = "--log-level=warning";
  char* argv[] = {binary.data(), a1.data(), a2.data(), a3.data(), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv, environ) != 0) {
    return state.SkipWithError("cannot start shoal-broker");
  }
  close(out[1]);
  FILE* child_out = fdopen(out[0], "r");
  char line[256] = {};
  if (fgets(line, sizeof line, child_out) == nullptr) return state.SkipWithError("no line");
  std::string text = line;
  std::string clients = text.substr(text.find("clients=") + 8);
  clients = clients.substr(0, clients.find(' '));
  std::string workers = text.substr(text.find("workers=") + 8);
  workers = workers.substr(0, workers.find('\n'));
  {
    EchoWorker worker(workers, slots);
    auto stub = shoal::v1::TaskService::NewStub(
        grpc::CreateChannel(clients, grpc::InsecureChannelCredentials()));
    uint64_t next = 0;
    for (auto _ : state) {
      double cpu0 = broker_cpu_seconds(*stub);
      grpc::ClientContext context;
      auto stream = stub->Session(&context);
      std::thread writer([&] {
        for (uint64_t sent = 0; sent < n; sent += uint64_t(batch)) {
          shoal::v1::ClientMessage msg;
          for (int i = 0; i < batch; ++i) *msg.mutable_submit()->add_tasks() = make_task(next++);
          stream->Write(msg);
        }
      });
      uint64_t results = 0;
      shoal::v1::ServerMessage msg;
      while (results < n && stream->Read(&msg)) {
        if (msg.has_results()) results += uint64_t(msg.results().results_size());
      }
      writer.join();
      stream->WritesDone();
      context.TryCancel();
      stream->Finish();
      double cpu = broker_cpu_seconds(*stub) - cpu0;
      state.counters["broker_cpu_us_per_task"] = cpu * 1e6 / double(n);
      state.counters["tasks"] = double(results);
    }
    state.SetItemsProcessed(int64_t(state.iterations() * n));
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  fclose(child_out);
}
BENCHMARK(BM_BrokerProcessW1)
    ->Args({2, 100})
    ->Args({64, 100})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace shoal::broker

BENCHMARK_MAIN();
