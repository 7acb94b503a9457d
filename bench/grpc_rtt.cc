// grpc_rtt: the round trip of one small message through a gRPC Session stream on
// loopback, with nothing behind it: the floor that gRPC alone puts under W3 (a
// Shoal round trip adds the broker, ZeroMQ and a worker). Server and client use the
// completion-queue API with one thread each, as shoal-broker and the remote Pool do;
// the caller spins for the answer. Prints p50/p99 in the peers' 5-field format.
//
// usage: grpc_rtt [ROUND_TRIPS] [REPS]     (defaults 20000, 3)

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "shoal/v1/service.grpc.pb.h"

namespace {

using shoal::v1::ClientMessage;
using shoal::v1::ServerMessage;
using shoal::v1::TaskService;
using Clock = std::chrono::steady_clock;

enum Tag : std::uintptr_t { kAccept = 1, kRead, kWrite, kStart };

void* tag(Tag t) { return reinterpret_cast<void*>(t); }

// Answers every submitted task of one Session stream with a result carrying its id.
class EchoServer {
 public:
  EchoServer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    cq_ = builder.AddCompletionQueue();
    server_ = builder.BuildAndStart();
    thread_ = std::thread([this] { run(); });
  }
  ~EchoServer() {
    server_->Shutdown(std::chrono::system_clock::now());
    cq_->Shutdown();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  void run() {
    grpc::ServerContext context;
    grpc::ServerAsyncReaderWriter<ServerMessage, ClientMessage> stream(&context);
    ClientMessage in;
    ServerMessage out;
    service_.RequestSession(&context, &stream, cq_.get(), cq_.get(), tag(kAccept));
    void* t;
    bool ok;
    while (cq_->Next(&t, &ok)) {
      if (!ok) continue;  // shutting down: drain
      switch (reinterpret_cast<std::uintptr_t>(t)) {
        case kAccept:
        case kWrite:
          stream.Read(&in, tag(kRead));
          break;
        case kRead:
          out.Clear();
          out.mutable_results()->add_results()->set_id(in.submit().tasks(0).id());
          stream.Write(out, tag(kWrite));
          break;
      }
    }
  }

  TaskService::AsyncService service_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::thread thread_;
};

// `reps` repetitions of `n` sequential round trips on one stream; returns each
// repetition's times in µs, sorted.
std::vector<std::vector<double>> measure(int port, int n, int reps) {
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials());
  auto stub = TaskService::NewStub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  auto stream = stub->PrepareAsyncSession(&context, &cq);
  std::atomic<int> answered{0}, written{0};
  ServerMessage in;
  stream->StartCall(tag(kStart));
  std::thread reader([&] {
    void* t;
    bool ok;
    while (cq.Next(&t, &ok)) {
      auto which = reinterpret_cast<std::uintptr_t>(t);
      if (which == kStart || which == kWrite) written.store(1, std::memory_order_release);
      if (which == kStart && ok) stream->Read(&in, tag(kRead));
      if (which == kRead && ok) {
        answered.store(1, std::memory_order_release);
        stream->Read(&in, tag(kRead));
      }
    }
  });
  ClientMessage message;
  auto* task = message.mutable_submit()->add_tasks();
  task->set_id("0123456789ab");
  task->set_name("bench.sq");
  task->set_args(std::string("\x91\x05", 2));
  auto round_trip = [&] {
    while (written.load(std::memory_order_acquire) == 0) {
    }
    written.store(0, std::memory_order_relaxed);
    auto start = Clock::now();
    stream->Write(message, tag(kWrite));
    while (answered.load(std::memory_order_acquire) == 0) {
    }
    answered.store(0, std::memory_order_relaxed);
    return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  };
  std::vector<std::vector<double>> all(reps);
  for (auto& times : all) {
    times.reserve(n);
    for (int i = 0; i < n; ++i) times.push_back(round_trip());
    std::sort(times.begin(), times.end());
  }
  context.TryCancel();
  cq.Shutdown();
  reader.join();
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  int reps = argc > 2 ? std::atoi(argv[2]) : 3;
  if (n <= 0 || reps <= 0) {
    std::fprintf(stderr, "usage: grpc_rtt [ROUND_TRIPS] [REPS]\n");
    return 2;
  }
  EchoServer server;
  std::vector<std::pair<double, double>> results;
  auto all = measure(server.port(), n, reps);
  for (int r = 1; r <= reps; ++r) {
    const auto& times = all[r - 1];
    double p50 = times[times.size() / 2], p99 = times[times.size() * 99 / 100];
    std::printf("# raw grpc W5_grpc_rtt rep=%d p50=%.1f p99=%.1f\n", r, p50, p99);
    results.push_back({p50, p99});
  }
  std::sort(results.begin(), results.end());
  auto median = results[results.size() / 2];
  std::printf("grpc W5_grpc_rtt p50 %.1f us\ngrpc W5_grpc_rtt p99 %.1f us\n", median.first,
              median.second);
  return 0;
}
