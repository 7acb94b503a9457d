// What a worker does with frames from a broker: a real WorkerSession (worker/session.h)
// with a real TaskRunner, connected over a ZeroMQ inproc pair to this target, which plays
// the broker. The input is read as a script of broker frames: Welcome (any heartbeat,
// liveness and size limit), TaskBatch (registered and unknown names, chunks of any item
// count, valid and garbage arguments, any time limits, leases and attempts, duplicate
// ids), Heartbeat, Refused, Reconnect, Shutdown, garbage, wrong versions and multi-part
// messages. Then the worker is stopped and drains. The engine is a fake that runs each
// submission at once on the session's thread.
// Properties: run() returns OK (or kAlreadyExists after a Refused past its retry time);
// each task the worker received is submitted at most once and answered (every id
// received has a result; copies of one result, sent again after a reconnect, are equal;
// no result for an id never sent); every result is a failure or holds max(1, items)
// outcomes and echoes the task's lease; no credit grant exceeds slots x prefetch.
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <google/protobuf/stubs/logging.h>
#include <zmq.hpp>

#include "client/remote_wire.h"
#include "shoal/codec.hpp"
#include "shoal/task.hpp"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_target.h"
#include "worker/session.h"

namespace {

using shoal::fuzz::FuzzInput;

int square(int x) { return static_cast<int>(static_cast<unsigned>(x) * static_cast<unsigned>(x)); }
int refuse(int) { throw std::runtime_error("refused by the task"); }
std::string blob(int n) { return std::string(static_cast<std::size_t>(n & 0xffff), 'b'); }
SHOAL_TASK_AS(square, "fuzz.worker.square");
SHOAL_TASK_AS(refuse, "fuzz.worker.refuse");
SHOAL_TASK_AS(blob, "fuzz.worker.blob");

constexpr int kSlots = 2;
constexpr int kPrefetch = 2;

// Runs every submission at once, on the submitting thread; counts them by task id.
class RunAtOnce : public shoal::internal::Backend {
 public:
  bool local() const override { return true; }
  void submit(std::vector<shoal::internal::Submission>& batch) override {
    for (auto& s : batch) {
      ++runs_[s.seq];
      std::string reply;
      s.invoke(s.fn, s.args, s.items, reply);
      s.sink->complete(s.index, std::move(reply));
    }
    batch.clear();
  }
  void close() override {}
  void terminate() override {}
  void join() override {}
  int processes() const override { return kSlots; }
  bool cancel(std::uint64_t) override { return false; }
  // Submissions seen more than once (by engine sequence): none, ever.
  bool ran_twice() const {
    for (const auto& [seq, n] : runs_) {
      if (n != 1) return true;
    }
    return false;
  }
  std::size_t runs() const { return runs_.size(); }

 private:
  std::map<std::uint64_t, int> runs_;  // only the session's thread submits
};

zmq::context_t& context() {
  static auto* c = new zmq::context_t(1);
  return *c;
}

// The broker's end: a ROUTER bound once for every input.
zmq::socket_t& broker_socket() {
  static auto* s = [] {
    auto* socket = new zmq::socket_t(context(), zmq::socket_type::router);
    socket->set(zmq::sockopt::linger, 0);
    socket->bind("inproc://fuzz-worker-broker");
    return socket;
  }();
  return *s;
}

// What the worker sent, by kind.
struct Seen {
  std::string instance;          // this input's worker; frames of earlier ones are ignored
  std::set<std::string> sockets;  // identities its hellos came from
  std::string peer;  // the identity of the worker's current socket
  std::map<std::string, std::vector<std::string>> results;  // id -> serialized TaskResults
  std::map<std::string, shoal::v1::TaskResult> last;          // id -> one of them
  bool over_grant = false;
  int hellos = 0;
};

// Reads what the worker sent; returns true when a hello came (its peer then current).
// Waits up to `wait` for the first frame.
bool read_worker(Seen& seen, std::chrono::milliseconds wait) {
  zmq::socket_t& socket = broker_socket();
  bool hello = false;
  for (bool first = true;; first = false) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    for (;;) {  // libFuzzer's timer (SIGALRM) interrupts it
      try {
        zmq::poll(&item, 1, first ? wait : std::chrono::milliseconds(0));
        break;
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;
      }
    }
    if (!(item.revents & ZMQ_POLLIN)) return hello;
    zmq::message_t id, body;
    (void)socket.recv(id);
    (void)socket.recv(body);
    shoal::v1::WorkerMessage m;
    SHOAL_FUZZ_CHECK(m.ParseFromArray(body.data(), static_cast<int>(body.size())));
    SHOAL_FUZZ_CHECK(m.version() == 1);
    // An earlier input's worker may still have a frame on its way (its socket lingers).
    const bool ours_now = m.has_hello() && m.hello().instance() == seen.instance;
    if (!ours_now && !seen.sockets.contains(id.to_string())) continue;
    switch (m.body_case()) {
      case shoal::v1::WorkerMessage::kHello:
        seen.peer = id.to_string();
        seen.sockets.insert(seen.peer);
        ++seen.hellos;
        hello = true;
        if (m.hello().credit() > kSlots * kPrefetch) seen.over_grant = true;
        break;
      case shoal::v1::WorkerMessage::kResults:
        if (m.results().credit() > kSlots * kPrefetch) seen.over_grant = true;
        for (const auto& r : m.results().results()) {
          seen.results[r.id()].push_back(r.SerializeAsString());
          seen.last[r.id()] = r;
        }
        break;
      default:
        break;
    }
  }
}

void send(const std::string& peer, const std::vector<std::string>& parts) {
  zmq::socket_t& socket = broker_socket();
  socket.send(zmq::buffer(peer), zmq::send_flags::sndmore);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    socket.send(zmq::buffer(parts[i]),
                i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
}

// Arguments for `items` calls of a one-int task, or garbage.
std::string task_args(FuzzInput& in, std::uint32_t items) {
  switch (in.byte() % 4) {
    case 0:
      return in.bytes(in.byte() % 24);
    case 1: {  // one array per call, in the chunk's array
      std::vector<std::tuple<int>> calls;
      for (std::uint32_t i = 0; i < std::max<std::uint32_t>(1, items) && i < 8; ++i) {
        calls.emplace_back(static_cast<int>(in.u32() % 70000));
      }
      return items <= 1 ? shoal::encode(calls[0]) : shoal::encode(calls);
    }
    default: {  // the right shape, whatever the count
      std::string out;
      if (items > 1) shoal::internal::msgpack_append_array_header(out, items);
      for (std::uint32_t i = 0; i < std::max<std::uint32_t>(1, items) && i < 8; ++i) {
        out += shoal::encode(std::make_tuple(static_cast<int>(in.byte())));
      }
      return out;
    }
  }
}

struct Sent {
  std::map<std::string, shoal::v1::Task> tasks;  // by id (the last one sent with it)
  std::set<std::string> duplicates;              // ids sent with more than one task
  std::size_t count = 0;
  bool limits = false;  // a Welcome set max_message_bytes
};

shoal::v1::BrokerMessage task_batch(FuzzInput& in, Sent& sent) {
  static const char* const kNames[] = {"fuzz.worker.square", "fuzz.worker.refuse",
                                       "fuzz.worker.blob", "fuzz.worker.none", ""};
  shoal::v1::BrokerMessage m;
  int n = in.byte() % 6;
  for (int i = 0; i < n; ++i) {
    shoal::v1::Task* t = m.mutable_tasks()->add_tasks();
    std::uint8_t flags = in.byte();
    if ((flags & 0x80) && !sent.tasks.empty()) {
      t->set_id(sent.tasks.rbegin()->first);  // a duplicate id
      sent.duplicates.insert(t->id());
    } else {
      t->set_id("t" + std::to_string(sent.count));
    }
    t->set_name(kNames[flags % std::size(kNames)]);
    std::uint8_t items = in.byte();
    t->set_items(items < 0xf0 ? items % 6 : in.u32());
    t->set_args(task_args(in, t->items()));
    if (flags & 0x08) t->set_time_limit_ms(flags & 0x10 ? in.u64() : 1);
    if (flags & 0x20) t->set_lease(in.u64());
    if (flags & 0x40) t->set_attempt(in.u32());
    t->set_queue(flags & 0x04 ? "default" : "q");
    sent.tasks[t->id()] = *t;
    ++sent.count;
  }
  return m;
}

// The next frame of the script into `parts`; `expect_hello` when it makes the worker
// connect again.
void next_frame(FuzzInput& in, Sent& sent, std::vector<std::string>& parts, bool& expect_hello) {
  shoal::v1::BrokerMessage m;
  m.set_version(1);
  expect_hello = false;
  switch (in.byte() % 12) {
    case 0:
    case 1: {
      auto* w = m.mutable_welcome();
      w->set_broker_id("fuzz");
      std::uint8_t pick = in.byte();
      w->set_heartbeat_ms(pick & 1 ? in.u32() : 1000);
      w->set_liveness(pick & 2 ? in.u32() : 3);
      if (pick & 4) {
        w->set_max_message_bytes(pick & 8 ? in.u64() : in.byte() * 16u);
        sent.limits = true;
      }
      break;
    }
    case 2:
    case 3:
    case 4:
    case 5:
      m = task_batch(in, sent);
      m.set_version(1);
      break;
    case 6:
      m.mutable_heartbeat()->set_sent_unix_ms(in.u64());
      break;
    case 7:
      m.mutable_refused()->set_reason("taken");
      m.mutable_refused()->set_retry_ms(in.byte() & 1 ? 0 : 600000);
      break;
    case 8:
      if (in.byte() & 1) {
        m.mutable_reconnect()->set_reason("fuzz");
      } else {
        m.mutable_shutdown()->set_reason("fuzz");
      }
      expect_hello = true;
      break;
    case 9:
      parts = {in.bytes(in.byte() % 32)};
      return;
    case 10:
      m.set_version(in.byte());
      m.mutable_heartbeat();
      break;
    default:
      parts = {m.SerializeAsString(), in.bytes(in.byte() % 8)};  // multi-part
      return;
  }
  parts = {m.SerializeAsString()};
}

}  // namespace

SHOAL_FUZZ_TARGET(worker_broker_messages) {
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);  // bad UTF-8
  (void)quiet;
  using namespace std::chrono_literals;
  FuzzInput in(data, size);
  static int inputs = 0;
  Seen seen;
  seen.instance = "fuzz-" + std::to_string(++inputs);
  {
    Seen earlier;  // whatever an earlier input's worker left behind
    read_worker(earlier, 0ms);
  }

  auto engine = std::make_shared<RunAtOnce>();
  auto done = *shoal::worker::CompletionQueue::create();
  shoal::worker::TaskRunner runner(engine, "fw", done.get());
  shoal::worker::SessionConfig config;
  config.broker = "inproc://fuzz-worker-broker";
  config.name = "fw";
  config.instance = seen.instance;
  config.host = "fuzzhost";
  config.pid = 1;
  config.queues = {"default", "q"};
  config.tasks = shoal::internal::task_names();
  config.slots = kSlots;
  config.prefetch = kPrefetch;
  config.hello_retry = 60s;  // a hello is answered below, or the script ends first
  config.drain_timeout = 2s;
  shoal::worker::Log log("fw", shoal::worker::LogLevel::kError);
  shoal::worker::WorkerSession session(config, context(), runner, *done, log);
  int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  absl::Status status;
  std::atomic<bool> returned{false};
  std::thread thread([&] {
    status = session.run(stop_fd, [] {});
    returned = true;
  });

  Sent sent;
  bool connected = false;
  while (!connected && !returned) connected = read_worker(seen, 100ms);
  while (connected && !in.done() && !returned) {
    std::vector<std::string> parts;
    bool expect_hello = false;
    next_frame(in, sent, parts, expect_hello);
    const int hellos = seen.hellos;
    send(seen.peer, parts);
    read_worker(seen, 0ms);  // also a hello of the worker's own reconnect
    // The worker drops its socket: go on with the new one. Its hello may have come in
    // the read above already, or come instead: a worker that reconnected on its own
    // (liveness) before the frame arrived never saw it.
    while (expect_hello && seen.hellos == hellos && !returned) read_worker(seen, 100ms);
  }
  std::uint64_t one = 1;
  SHOAL_FUZZ_CHECK(write(stop_fd, &one, sizeof one) == sizeof one);
  thread.join();
  close(stop_fd);
  read_worker(seen, 0ms);

  SHOAL_FUZZ_CHECK(status.ok() || status.code() == absl::StatusCode::kAlreadyExists);
  SHOAL_FUZZ_CHECK(!engine->ran_twice());
  SHOAL_FUZZ_CHECK(!seen.over_grant);
  SHOAL_FUZZ_CHECK(engine->runs() <= session.stats().tasks);
  for (const auto& [id, copies] : seen.results) {
    auto task = sent.tasks.find(id);
    SHOAL_FUZZ_CHECK(task != sent.tasks.end());
    const shoal::v1::TaskResult& r = seen.last[id];
    SHOAL_FUZZ_CHECK(r.worker() == "fw");
    if (sent.duplicates.count(id) != 0) continue;  // copies may come from different tasks
    // Every copy is the same, but for one sent (or resent after a reconnect) to a broker
    // whose Welcome set a limit the result passes: that copy is a RESOURCE_EXHAUSTED
    // failure instead, since that broker could take nothing else.
    auto too_big = [](const shoal::v1::TaskResult& r) {
      return r.failure().kind() == shoal::v1::ERROR_KIND_RESOURCE_EXHAUSTED;
    };
    for (const auto& copy : copies) {
      if (copy == copies[0]) continue;
      shoal::v1::TaskResult a, b;
      (void)a.ParseFromString(copies[0]);
      (void)b.ParseFromString(copy);
      if (sent.limits && (too_big(a) || too_big(b))) continue;
      std::fprintf(stderr, "two results of task %s:\n  %s\n  %s\n", id.c_str(),
                   a.ShortDebugString().c_str(), b.ShortDebugString().c_str());
      SHOAL_FUZZ_CHECK(copy == copies[0]);
    }
    SHOAL_FUZZ_CHECK(r.lease() == task->second.lease());
    if (r.has_failure()) continue;
    const std::size_t items = std::max<std::uint32_t>(1, task->second.items());
    auto values = shoal::internal::result_values(r);
    SHOAL_FUZZ_CHECK(values.ok());
    SHOAL_FUZZ_CHECK(values->size() == items || r.items_size() == static_cast<int>(items));
  }
  // Every id the worker received is answered. It received them all unless run() ended
  // early (a fatal Refused) or it left a socket on its own (a Welcome's heartbeat so
  // short that the broker seemed silent), taking frames on the way with it.
  if (status.ok() && session.stats().tasks == sent.count) {
    for (const auto& [id, task] : sent.tasks) SHOAL_FUZZ_CHECK(seen.results.count(id) == 1);
  }
}
