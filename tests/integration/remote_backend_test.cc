// Pool::connect (client/remote_backend.cc) against an in-process fake TaskService:
// batching, chunks, backpressure, reconnect with Watch/Unknown, cancel, terminate,
// auth metadata, and ConnectionError. The real broker is exercised in
// cluster_test.cc; this one pins the client's side of the protocol deterministically.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <climits>
#include <condition_variable>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <thread>

#include "client/remote_backend.h"
#include "client/remote_session.h"
#include "shoal/shoal.hpp"
#include "shoal/v1/service.grpc.pb.h"

namespace {

int square(int x) { return x * x; }
SHOAL_TASK_AS(square, "remote_backend_test.square");

}  // namespace

namespace shoal {
namespace {

using namespace std::chrono_literals;

// A broker stand-in: accepts every task and runs it in-process through the registry,
// unless told to hold, reject as full, or forget.
class FakeService final : public v1::TaskService::Service {
 public:
  std::atomic<int> reject_full{0};      // reject this many submissions as full
  std::atomic<bool> hold{false};        // accept but do not run
  std::atomic<bool> foreign{false};     // also send results under ids nobody submitted
  std::atomic<bool> results_first{false};  // send results before their Accepted (allowed)
  std::atomic<int> batches{0};
  std::atomic<int> tasks_seen{0};
  std::atomic<int> watched{0};        // watched ids of this process's tasks
  std::atomic<int> refuse_code{0};    // end every Session at once with this grpc::StatusCode
  std::atomic<bool> full{false};      // reject every task as full
  std::atomic<std::uint64_t> max_message_bytes{0};  // what GetStats says (0: not said)
  std::atomic<bool> no_accepted{false};  // take submissions, but never say Accepted
  // > 0: take this many tasks of each submission, refuse the rest as full.
  std::atomic<int> room_per_batch{0};
  std::atomic<int> release{0};        // on the next message, send this many held results
  std::atomic<int> sessions{0};       // Session calls begun
  std::atomic<int> open_sessions{0};  // Session calls not yet ended
  std::atomic<int> list_workers_calls{0};
  // Once a submission is read, handle nothing more until unstall(): the broker has not
  // read it yet, as far as the client can tell (no Accepted).
  std::atomic<bool> stall{false};
  std::atomic<int> stalled{0};   // submissions read while stalled
  std::atomic<int> refused{0};   // submitted tasks answered CANCELLED: cancelled before
  std::atomic<int> cancel_calls{0};
  // Answers CancelRequest.more_ids, as a broker does since it has them (false: an older
  // broker, which ignores them).
  std::atomic<bool> cancel_more_ids{true};
  // Cancel calls after this many fail UNAVAILABLE (a broker that stopped answering).
  std::atomic<int> cancel_answers{INT_MAX};
  std::string last_auth;

  grpc::Status Session(grpc::ServerContext* context,
                       grpc::ServerReaderWriter<v1::ServerMessage, v1::ClientMessage>* stream)
      override {
    ++sessions;
    if (refuse_code != 0) {
      return grpc::Status(static_cast<grpc::StatusCode>(refuse_code.load()), "refused by the test");
    }
    ++open_sessions;
    struct Closing {
      std::atomic<int>& open;
      ~Closing() { --open; }
    } closing{open_sessions};
    {
      std::lock_guard lock(mu_);
      auto md = context->client_metadata().find("authorization");
      if (md != context->client_metadata().end()) {
        last_auth = std::string(md->second.data(), md->second.size());
      }
    }
    v1::ClientMessage in;
    while (stream->Read(&in)) {
      if (in.has_submit() && stall) {
        ++stalled;
        std::unique_lock lock(mu_);
        unstalled_.wait(lock, [this] { return !stall; });
      }
      v1::ServerMessage out;
      if (int n = release.exchange(0); n > 0) {
        v1::ServerMessage held;
        std::lock_guard lock(mu_);
        n = std::min<int>(n, static_cast<int>(held_.size()));
        for (int i = 0; i < n; ++i) *held.mutable_results()->add_results() = run(held_[i]);
        held_.erase(held_.begin(), held_.begin() + n);
        stream->Write(held);
      }
      if (in.has_watch()) {
        std::lock_guard lock(mu_);
        for (const auto& id : in.watch().ids()) {
          if (id != internal::task_id_string(0)) ++watched;  // not the client's hello
          if (!known_.count(id)) out.mutable_unknown()->add_ids(id);
        }
        stream->Write(out);
        continue;
      }
      ++batches;
      v1::ServerMessage accepted, results;
      for (const auto& task : in.submit().tasks()) {
        ++tasks_seen;
        if (full || reject_full > 0 ||
            (room_per_batch > 0 && accepted.accepted().ids_size() >= room_per_batch)) {
          if (!full && reject_full > 0) --reject_full;
          auto* r = out.mutable_rejected();
          r->add_ids(task.id());
          r->mutable_error()->set_kind(v1::ERROR_KIND_RESOURCE_EXHAUSTED);
          continue;
        }
        accepted.mutable_accepted()->add_ids(task.id());
        std::lock_guard lock(mu_);
        if (barred_.erase(task.id()) > 0) {  // as the broker does (service.proto)
          ++refused;
          auto* r = results.mutable_results()->add_results();
          r->set_id(task.id());
          r->mutable_failure()->set_kind(v1::ERROR_KIND_CANCELLED);
          continue;
        }
        known_[task.id()] = task;
        if (hold) {
          held_.push_back(task);
        } else {
          *results.mutable_results()->add_results() = run(task);
        }
      }
      if (out.has_rejected()) stream->Write(out);
      if (results_first && results.has_results()) {
        stream->Write(results);
        results.Clear();
      }
      if (accepted.has_accepted() && !no_accepted) stream->Write(accepted);
      if (foreign && results.has_results()) {
        v1::ServerMessage junk;
        std::string real = results.results().results(0).id();
        // Not ids of this pool: another prefix, a non-digit, the bare prefix, too long.
        for (std::string id : {std::string("garbage"), std::string("0123456789abcdef-1"),
                               real + "-", real.substr(0, 9), real + "00000000000"}) {
          auto* r = junk.mutable_results()->add_results();
          r->set_id(id);
          r->set_values(encode(std::make_tuple(-1)));
        }
        stream->Write(junk);
      }
      if (results.has_results()) stream->Write(results);
    }
    return grpc::Status::OK;
  }

  grpc::Status Cancel(grpc::ServerContext*, const v1::CancelRequest* request,
                      v1::CancelResponse* response) override {
    if (++cancel_calls > cancel_answers) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the fake broker stopped answering");
    }
    std::lock_guard lock(mu_);
    response->set_cancelled(cancel_one(request->id(), request->even_if_unknown()));
    if (!cancel_more_ids) return grpc::Status::OK;
    for (const std::string& id : request->more_ids()) {
      response->add_more_cancelled(cancel_one(id, request->even_if_unknown()));
      response->add_more_states(v1::TASK_STATE_QUEUED);  // (the backend reads it if not)
    }
    return grpc::Status::OK;
  }
  std::atomic<int> stats_delay_ms{0};  // GetStats answers this late
  grpc::Status GetStats(grpc::ServerContext*, const v1::StatsRequest*, v1::Stats* stats) override {
    if (int ms = stats_delay_ms; ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    stats->set_max_message_bytes(max_message_bytes);
    return grpc::Status::OK;
  }
  grpc::Status ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest*,
                           v1::ListWorkersResponse* response) override {
    ++list_workers_calls;
    auto add = [&](uint32_t slots, const char* queue) {
      v1::WorkerInfo* w = response->add_workers();
      w->set_slots(slots);
      w->add_queues(queue);
    };
    add(3, "default");
    add(2, "default");
    add(7, "elsewhere");  // not the pool's queue: not its processes
    return grpc::Status::OK;
  }

  std::size_t known() {
    std::lock_guard lock(mu_);
    return known_.size();
  }
  // Ids cancelled even_if_unknown that no submission has claimed yet.
  std::size_t barred() {
    std::lock_guard lock(mu_);
    return barred_.size();
  }
  void unstall() {
    {
      std::lock_guard lock(mu_);
      stall = false;
    }
    unstalled_.notify_all();
  }

 private:
  static v1::TaskResult run(const v1::Task& task) {
    v1::TaskResult result;
    result.set_id(task.id());
    const auto* entry = internal::find_task(task.name());
    if (!entry) {
      result.mutable_failure()->set_kind(v1::ERROR_KIND_NOT_REGISTERED);
      result.mutable_failure()->set_message("no task " + task.name());
      return result;
    }
    std::string_view args = task.args();
    std::size_t items = std::max<std::uint32_t>(1, task.items());
    if (task.items() > 1) {  // drop the chunk's outer array header
      std::size_t offset = 0;
      msgpack::unpack(args.data(), args.size(), offset);  // validates
      std::size_t header = args[0] == '\xdc' ? 3 : args[0] == '\xdd' ? 5 : 1;
      args.remove_prefix(header);
    }
    std::string reply;
    entry->invoke(entry->fn, args, items, reply);
    std::size_t at = 0;
    for (std::size_t i = 0; i < items; ++i) {
      char status = reply[at++];
      std::size_t start = at;
      msgpack::unpack(reply.data(), reply.size(), at);
      EXPECT_EQ(status, 0);
      result.add_items()->set_value(reply.substr(start, at - start));
    }
    return result;
  }

  // Cancel of one id: whether it was cancelled.
  bool cancel_one(const std::string& id, bool even_if_unknown) {
    if (known_.count(id) == 0 && even_if_unknown) {
      barred_.insert(id);  // a submission of it arriving later is refused
      return true;
    }
    return known_.erase(id) > 0 && hold;
  }

  std::mutex mu_;
  std::condition_variable unstalled_;
  std::set<std::string> barred_;
  std::map<std::string, v1::Task> known_;
  std::vector<v1::Task> held_;  // accepted while hold: results not sent yet
};

class Server {
 public:
  // max_receive > 0: the server's gRPC receive limit (a broker's is 4 × its
  // --max-message-bytes + 1 MiB); a bigger message ends the session RESOURCE_EXHAUSTED.
  Server(FakeService* service, int port = 0, int max_receive = 0) {
    grpc::ServerBuilder builder;
    if (max_receive > 0) builder.SetMaxReceiveMessageSize(max_receive);
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port),
                             grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
  }
  ~Server() { server_->Shutdown(std::chrono::system_clock::now() + 1s); }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// A sink for tests that drive RemoteBackend directly (with small Limits): records the
// outcome and runs `on_complete` first, on the thread that resolves it.
class RecordingSink final : public internal::Sink {
 public:
  std::function<void()> on_complete;
  std::function<void()> on_fail;

  void complete(std::size_t, std::string) override {
    if (on_complete) on_complete();
    std::lock_guard lock(mu_);
    done_ = completed_ = true;
    cv_.notify_all();
  }
  void fail(std::size_t, const internal::ErrorInfo& error) override {
    if (on_fail) on_fail();
    std::lock_guard lock(mu_);
    done_ = true;
    error_ = error;
    cv_.notify_all();
  }
  // Waits up to `timeout` for the outcome; true if it came.
  bool wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done_; });
  }
  bool completed() {
    std::lock_guard lock(mu_);
    return completed_;
  }
  internal::ErrorInfo error() {
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false, completed_ = false;
  internal::ErrorInfo error_;
};

// Submits square(x) to `backend`, resolving `sink`.
std::uint64_t submit_square(internal::RemoteBackend& backend, int x,
                            std::shared_ptr<internal::Sink> sink) {
  std::vector<internal::Submission> batch(1);
  batch[0].seq = internal::next_task_seq();
  batch[0].name = "remote_backend_test.square";
  batch[0].args = encode(std::make_tuple(x));
  batch[0].sink = std::move(sink);
  const std::uint64_t seq = batch[0].seq;
  backend.submit(batch);
  return seq;
}

// Counts outcomes of any number of submissions.
struct CountingSink final : internal::Sink {
  void complete(std::size_t, std::string) override { ++completed; }
  void fail(std::size_t, const internal::ErrorInfo&) override { ++failed; }
  std::atomic<int> completed{0}, failed{0};
};

// Terminates `pool` if the test failed, so that its destructor (close + join, which waits
// for every result) cannot hang a failed test.
class TerminateOnFailure {
 public:
  explicit TerminateOnFailure(Pool& pool) : pool_(pool) {}
  ~TerminateOnFailure() {
    if (::testing::Test::HasFailure() || std::uncaught_exceptions() > 0) pool_.terminate();
  }

 private:
  Pool& pool_;
};

// Polls `pred` every millisecond; false after `timeout`.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

TEST(RemoteBackendTest, ApplyMapAndChunksResolveInOrder) {
  FakeService service;
  Server server(&service);
  // Made as API.md lists its fields, then ours (keepalive stood between auth_token and
  // tls); all of them, as -Wextra warns of any left out.
  ConnectOptions options{"default", std::chrono::milliseconds(5000), "s3cret", false, "",
                         std::chrono::milliseconds(10000), "", ""};
  Pool pool = Pool::connect(server.address(), options);
  EXPECT_EQ(pool.apply(square, 12), 144);
  EXPECT_EQ(pool.apply_async<int>("remote_backend_test.square", 5).get(), 25);
  std::vector<int> xs(10000);
  for (int i = 0; i < 10000; ++i) xs[i] = i;
  auto ys = pool.map(square, xs, 64);
  ASSERT_EQ(ys.size(), xs.size());
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(ys[i], i * i);
  EXPECT_LT(service.batches.load(), 40);  // 157 chunks went out in a few batches
  EXPECT_EQ(service.last_auth, "Bearer s3cret");
  EXPECT_EQ(pool.processes(), 5);
  std::vector<int> streamed;
  for (int y : pool.imap(square, std::vector<int>{1, 2, 3})) streamed.push_back(y);
  EXPECT_EQ(streamed, (std::vector<int>{1, 4, 9}));
}

// The session's first write comes while its call is still starting (StartCall holds
// the stream's write slot until then; writing at once aborted inside gRPC): it goes out
// once the call is up, its result comes back, and on_done is the last call.
TEST(RemoteSessionTest, AWriteBeforeTheCallStartedGoesOutOnceItHas) {
  FakeService service;
  Server server(&service);
  auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  auto stub = v1::TaskService::NewStub(channel);
  struct Listener : internal::SessionListener {
    std::mutex mu;
    std::condition_variable cv;
    int results = 0, writes = 0, calls_after_done = 0;
    bool done = false;
    void on_message(internal::RemoteSession*, v1::ServerMessage& m) override {
      std::lock_guard lock(mu);
      calls_after_done += done;
      results += m.results().results_size();
      cv.notify_all();
    }
    void on_write_done(internal::RemoteSession*, bool ok) override {
      std::lock_guard lock(mu);
      calls_after_done += done;
      writes += ok;
      cv.notify_all();
    }
    void on_done(internal::RemoteSession*, const grpc::Status&) override {
      std::lock_guard lock(mu);
      done = true;
      cv.notify_all();
    }
  };
  for (int round = 0; round < 20; ++round) {
    Listener listener;
    auto session = std::make_unique<internal::RemoteSession>(
        stub.get(), std::make_unique<grpc::ClientContext>(), &listener);
    auto* task = session->begin_write()->mutable_submit()->add_tasks();
    task->set_id("early" + std::to_string(round));
    task->set_name("remote_backend_test.square");
    task->set_args(encode(std::make_tuple(7)));
    ASSERT_TRUE(session->write());
    {
      std::unique_lock lock(listener.mu);
      ASSERT_TRUE(listener.cv.wait_for(lock, 10s, [&] {
        return listener.results == 1 && listener.writes == 1;
      })) << "round " << round << ": results " << listener.results << ", writes "
          << listener.writes;
    }
    session->cancel();
    {
      std::unique_lock lock(listener.mu);
      ASSERT_TRUE(listener.cv.wait_for(lock, 10s, [&] { return listener.done; }));
    }
    session.reset();  // joins the session's thread
    EXPECT_EQ(listener.calls_after_done, 0);
  }
}

TEST(RemoteBackendTest, ResultsUnderIdsThisPoolDidNotSubmitAreIgnored) {
  FakeService service;
  service.foreign = true;
  Server server(&service);
  Pool pool = Pool::connect(server.address());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(pool.apply(square, i), i * i);
}

// The broker may send a result before its task's Accepted (service.proto). The result
// must count as acceptance: 70,000 tasks exceed the client's window of 65,536
// unaccepted tasks, so a window that leaked would block the map for good.
TEST(RemoteBackendTest, ResultsBeforeAcceptedResolveAndFreeTheWindow) {
  FakeService service;
  service.results_first = true;
  Server server(&service);
  Pool pool = Pool::connect(server.address());
  std::vector<int> xs(70000);
  for (int i = 0; i < 70000; ++i) xs[i] = i % 1000;
  auto ys = pool.map_async(square, xs, 1).get(60s);
  ASSERT_EQ(ys.size(), xs.size());
  for (int i = 0; i < 70000; ++i) ASSERT_EQ(ys[i], xs[i] * xs[i]);
}

TEST(RemoteBackendTest, UnregisteredNameFailsWithNotRegistered) {
  FakeService service;
  Server server(&service);
  Pool pool = Pool::connect(server.address());
  EXPECT_THROW(pool.apply_async<int>("nope", 1).get(), NotRegisteredError);
}

TEST(RemoteBackendTest, AKeepaliveUnderOneSecondIsRefused) {
  FakeService service;
  Server server(&service);
  for (auto keepalive : {-1ms, 1ms, 999ms}) {
    ConnectOptions options;
    options.keepalive = keepalive;
    EXPECT_THROW(Pool::connect(server.address(), options), std::invalid_argument)
        << keepalive.count();
  }
  for (auto keepalive : {0ms, 1000ms}) {  // 0: no pings
    ConnectOptions options;
    options.keepalive = keepalive;
    EXPECT_EQ(Pool::connect(server.address(), options).apply(square, 3), 9);
  }
}

TEST(RemoteBackendTest, RejectedAsFullIsResentNotDropped) {
  FakeService service;
  service.reject_full = 300;
  Server server(&service);
  Pool pool = Pool::connect(server.address());
  std::vector<Future<int>> futures;
  for (int i = 0; i < 200; ++i) futures.push_back(pool.apply_async(square, i));
  for (int i = 0; i < 200; ++i) EXPECT_EQ(futures[i].get(10s), i * i);
  EXPECT_GE(service.tasks_seen.load(), 500);
}

// Found by review: while a broker stayed nearly full (taking a few of each submission),
// every Accepted reset the client's backoff and each round sent its whole backlog again,
// to be refused again: ~20,000 tasks cost ~700,000 submissions. A round now resends about
// as many as the broker took lately (at least 1,024), the rest wait their turn.
TEST(RemoteBackendTest, ANearlyFullBrokerIsNotSentTheWholeBacklogEachRound) {
  FakeService service;
  service.room_per_batch = 256;
  Server server(&service);
  auto backend = internal::RemoteBackend::connect(server.address(), {}, {});
  constexpr int kTasks = 20'000;
  auto sink = std::make_shared<CountingSink>();
  std::vector<internal::Submission> batch(kTasks);
  for (int i = 0; i < kTasks; ++i) {
    batch[i].seq = internal::next_task_seq();
    batch[i].name = "remote_backend_test.square";
    batch[i].args = encode(std::make_tuple(i));
    batch[i].sink = sink;
  }
  backend->submit(batch);
  ASSERT_TRUE(eventually([&] { return sink->completed + sink->failed == kTasks; }, 60s))
      << sink->completed << " completed, " << sink->failed << " failed";
  EXPECT_EQ(sink->completed, kTasks);
  EXPECT_LT(service.tasks_seen.load(), 10 * kTasks);
}

// A task the broker rejects as full is sent again after its backoff (1 ms at first), not
// at the supervisor's next periodic wake-up. (The supervisor's wait was set before the
// rejection came, and nothing woke it when the backoff ended: the resend waited for the
// tick, 1 s by default; here an hour, so a missed wake-up cannot pass unseen.)
TEST(RemoteBackendTest, ARejectedTaskIsResentAfterItsBackoffNotAtTheNextTick) {
  FakeService service;
  Server server(&service);
  internal::RemoteBackend::Limits limits;
  limits.supervisor_tick = std::chrono::hours(1);
  auto backend = internal::RemoteBackend::connect(server.address(), {}, limits);
  auto warm_up = std::make_shared<RecordingSink>();
  submit_square(*backend, 2, warm_up);
  ASSERT_TRUE(warm_up->wait(10s));
  service.reject_full = 1;
  auto sink = std::make_shared<RecordingSink>();
  submit_square(*backend, 3, sink);
  bool resolved = sink->wait(10s);
  if (!resolved) backend->terminate();  // fails it (CancelledError): nothing left to wait for
  ASSERT_TRUE(resolved) << "the task rejected as full was not sent again";
  EXPECT_TRUE(sink->completed()) << sink->error().message;
  EXPECT_EQ(service.tasks_seen.load(), 3);  // warm-up, rejected, resent
}

// waiting_for_room() holds while the broker rejects a submission as full, and no longer
// once it has taken it (the CLI tells its user why a submission waits).
TEST(RemoteBackendTest, WaitingForRoomWhileTheBrokerRejectsAsFull) {
  FakeService service;
  service.full = true;
  Server server(&service);
  auto backend = internal::RemoteBackend::connect(server.address(), {}, {});
  EXPECT_FALSE(backend->waiting_for_room());
  auto sink = std::make_shared<RecordingSink>();
  submit_square(*backend, 3, sink);
  EXPECT_TRUE(eventually([&] { return backend->waiting_for_room(); }));
  service.full = false;  // room again: the resend is taken
  ASSERT_TRUE(sink->wait(10s));
  EXPECT_TRUE(sink->completed()) << sink->error().message;
  EXPECT_FALSE(backend->waiting_for_room());
}

TEST(RemoteBackendTest, ReconnectsWatchesAndResubmitsUnknownTasks) {
  auto first = std::make_unique<FakeService>();
  first->hold = true;
  auto server = std::make_unique<Server>(first.get());
  int port = server->port();
  Pool pool = Pool::connect(server->address());
  std::vector<Future<int>> futures;
  for (int i = 0; i < 50; ++i) futures.push_back(pool.apply_async(square, i));
  auto map = pool.map_async(square, std::vector<int>{7, 8, 9}, 1);
  while (first->known() < 53) std::this_thread::yield();
  server.reset();  // the broker "restarts" and forgets everything
  FakeService second;
  Server again(&second, port);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(futures[i].get(20s), i * i);
  EXPECT_EQ(map.get(20s), (std::vector<int>{49, 64, 81}));
  EXPECT_EQ(second.watched.load(), 53);
}

// Found by review: after a reconnect, tasks the broker had taken but whose Accepted never
// came were only watched, and a Watch of a known task answers nothing until its result:
// they stayed in the submission window (wait_accepted(), which `shoal submit --no-wait`
// waits on, stayed false) until their results came. They are sent again now, and the
// broker's idempotent resubmission answers Accepted.
TEST(RemoteBackendTest, TasksSentButNeverAcceptedAreSentAgainAfterAReconnect) {
  FakeService service;
  service.hold = true;
  service.no_accepted = true;
  auto server = std::make_unique<Server>(&service);
  const int port = server->port();
  auto backend = internal::RemoteBackend::connect(server->address(), {}, {});
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  for (int i = 0; i < 5; ++i) {
    sinks.push_back(std::make_shared<RecordingSink>());
    submit_square(*backend, i, sinks.back());
  }
  ASSERT_TRUE(eventually([&] { return service.known() == 5; }));
  EXPECT_FALSE(backend->wait_accepted(0ms));
  server.reset();  // the stream breaks; the same broker is back at once
  service.no_accepted = false;
  Server again(&service, port);
  EXPECT_TRUE(backend->wait_accepted(20s));
  backend->terminate();  // fails the held tasks: nothing left to wait for
}

// A sink that throws (out of memory in a collector) fails its own task, not the others
// delivered with it: terminate() threw bad_alloc, and the sinks after it were never resolved.
TEST(RemoteBackendTest, ASinkThatThrowsStrandsNoOtherOutcome) {
  FakeService service;
  service.hold = true;
  Server server(&service);
  auto backend = internal::RemoteBackend::connect(server.address(), {}, {});
  std::atomic<bool> throw_once{true};  // the first failure delivered throws
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  for (int i = 0; i < 3; ++i) {
    sinks.push_back(std::make_shared<RecordingSink>());
    sinks.back()->on_fail = [&] {
      if (throw_once.exchange(false)) throw std::bad_alloc();
    };
    submit_square(*backend, i, sinks.back());
  }
  ASSERT_TRUE(eventually([&] { return service.known() == 3; }));
  EXPECT_NO_THROW(backend->terminate());
  int cancelled = 0;
  int undelivered = 0;
  for (auto& sink : sinks) {
    ASSERT_TRUE(sink->wait(0ms)) << "a task's outcome was stranded";
    const internal::ErrorInfo error = sink->error();
    if (error.kind == internal::ErrorKind::kCancelled) ++cancelled;
    if (error.kind == internal::ErrorKind::kOther &&
        error.message.find("could not be delivered") != std::string::npos) {
      ++undelivered;
    }
  }
  EXPECT_EQ(cancelled, 2);
  EXPECT_EQ(undelivered, 1);
}

// Found by review: the broker's limit was read once, at connect. A broker restarted with
// a lower --max-message-bytes got the same big task again at every reconnect (sent again
// or, Unknown, resubmitted), which ended each session over its receive limit, and the
// future never resolved. The limit is read again at each reconnect, and what no longer
// fits fails.
TEST(RemoteBackendTest, WhatARestartedBrokerNoLongerTakesFailsInsteadOfBeingResent) {
  FakeService service;
  service.hold = true;
  service.max_message_bytes = 64u << 20;
  auto server = std::make_unique<Server>(&service);
  const int port = server->port();
  auto backend = internal::RemoteBackend::connect(server->address(), {}, {});
  auto small = std::make_shared<RecordingSink>();
  auto big = std::make_shared<RecordingSink>();
  submit_square(*backend, 3, small);
  std::vector<internal::Submission> batch(1);
  batch[0].seq = internal::next_task_seq();
  batch[0].name = "remote_backend_test.square";
  batch[0].args = encode(std::make_tuple(std::string(2u << 20, 'x')));  // the wrong type:
  batch[0].sink = big;                                                // it never runs here
  backend->submit(batch);
  ASSERT_TRUE(eventually([&] { return service.known() == 2; }));
  server.reset();
  FakeService restarted;  // forgets both, and takes at most 1 MiB now
  restarted.max_message_bytes = 1u << 20;
  Server again(&restarted, port);
  ASSERT_TRUE(big->wait(20s));
  EXPECT_FALSE(big->completed());
  EXPECT_NE(big->error().message.find("more than the broker's limit of 1048576"),
            std::string::npos)
      << big->error().message;
  ASSERT_TRUE(small->wait(20s));  // resubmitted after its Unknown, and run
  EXPECT_TRUE(small->completed()) << small->error().message;
  EXPECT_EQ(restarted.tasks_seen.load(), 1);
}

// link() counts a broker lost once its answered session ends, and says when a new one is
// answered: up after connect(), down when the broker goes, up again when it is back.
TEST(RemoteBackendTest, LinkSaysWhenTheBrokerIsLostAndWhenItIsBack) {
  auto first = std::make_unique<FakeService>();
  auto server = std::make_unique<Server>(first.get());
  int port = server->port();
  auto backend = internal::RemoteBackend::connect(server->address(), {}, {});
  EXPECT_TRUE(eventually([&] { return backend->link().up; }));
  EXPECT_EQ(backend->link().losses, 0u);
  server.reset();  // the broker goes
  EXPECT_TRUE(eventually([&] { return backend->link().losses == 1; }));
  EXPECT_FALSE(backend->link().up);
  FakeService second;
  Server again(&second, port);
  EXPECT_TRUE(eventually([&] { return backend->link().up; }, 30s));
  EXPECT_EQ(backend->link().losses, 1u);
}

TEST(RemoteBackendTest, CancelStopsAHeldTask) {
  FakeService service;
  service.hold = true;
  Server server(&service);
  Pool pool = Pool::connect(server.address());
  auto f = pool.apply_async(square, 3);
  while (service.known() < 1) std::this_thread::yield();
  EXPECT_TRUE(f.cancel());
  EXPECT_THROW(f.get(5s), CancelledError);
}

// A task written to the session that the broker has not read yet (the Session stream and
// a Cancel call are not ordered): cancel() has the broker refuse it though it does not
// know the id yet, and is true, as the task will not run. (It was false, and the task
// ran when the broker read it.)
TEST(RemoteBackendTest, CancelOfATaskTheBrokerHasNotReadYetIsTrueAndItNeverRuns) {
  FakeService service;
  service.stall = true;
  Server server(&service);
  Pool pool = Pool::connect(server.address());
  auto f = pool.apply_async(square, 3);
  ASSERT_TRUE(eventually([&] { return service.stalled > 0; }));
  EXPECT_TRUE(f.cancel());
  EXPECT_EQ(service.barred(), 1u);
  EXPECT_THROW(f.get(5s), CancelledError);
  service.unstall();
  EXPECT_TRUE(eventually([&] { return service.refused == 1; }));
  EXPECT_EQ(service.known(), 0u);
}

// terminate() bars its tasks in flight the same way: none runs for nobody.
TEST(RemoteBackendTest, TerminateKeepsATaskTheBrokerHasNotReadYetFromRunning) {
  FakeService service;
  service.stall = true;
  Server server(&service);
  Pool pool = Pool::connect(server.address());
  auto f = pool.apply_async(square, 3);
  ASSERT_TRUE(eventually([&] { return service.stalled > 0; }));
  pool.terminate();  // waits for its cancels' answers (up to 3 s)
  EXPECT_THROW(f.get(5s), CancelledError);
  EXPECT_EQ(service.barred(), 1u);
  service.unstall();
  EXPECT_TRUE(eventually([&] { return service.refused == 1; }));
  EXPECT_EQ(service.known(), 0u);
}

// cancel_all() cancels many tasks in one Cancel call (more_ids), where cancel() took
// one call each; a broker older than more_ids is asked one call per task instead.
TEST(RemoteBackendTest, CancelAllTakesOneCallForManyTasksOrOneEachOnAnOlderBroker) {
  for (bool more_ids : {true, false}) {
    SCOPED_TRACE(more_ids ? "a broker that takes more_ids" : "an older broker");
    FakeService service;
    service.hold = true;
    service.cancel_more_ids = more_ids;
    Server server(&service);
    auto backend = internal::RemoteBackend::connect(server.address(), {}, {});
    constexpr int kTasks = 50;
    std::vector<std::shared_ptr<RecordingSink>> sinks;
    std::vector<std::uint64_t> seqs;
    for (int i = 0; i < kTasks; ++i) {
      sinks.push_back(std::make_shared<RecordingSink>());
      seqs.push_back(submit_square(*backend, i, sinks.back()));
    }
    ASSERT_TRUE(backend->wait_accepted(10s));  // all at the broker, held there
    using Outcome = internal::RemoteBackend::CancelOutcome;
    EXPECT_EQ(backend->cancel_all(seqs), std::vector<Outcome>(kTasks, Outcome::kCancelled));
    EXPECT_EQ(service.cancel_calls, more_ids ? 1 : kTasks);
    EXPECT_EQ(service.known(), 0u);
    for (auto& sink : sinks) {
      ASSERT_TRUE(sink->wait(10s));
      EXPECT_EQ(sink->error().kind, internal::ErrorKind::kCancelled);
    }
    // Ended ones are not asked about again.
    EXPECT_EQ(backend->cancel_all({seqs[0]}), std::vector<Outcome>{Outcome::kEnded});
    EXPECT_EQ(service.cancel_calls, more_ids ? 1 : kTasks);
  }
}

// cancel_all() stops at a Cancel call the broker does not answer: the rest are kNoAnswer,
// not each asked in turn (an older broker's one call per id waited connect_timeout each).
TEST(RemoteBackendTest, CancelAllStopsAtACallTheBrokerDoesNotAnswer) {
  FakeService service;
  service.hold = true;
  service.cancel_more_ids = false;  // an older broker: one call per id after the first
  service.cancel_answers = 1;
  Server server(&service);
  auto backend = internal::RemoteBackend::connect(server.address(), {}, {});
  constexpr int kTasks = 20;
  auto sink = std::make_shared<CountingSink>();
  std::vector<std::uint64_t> seqs;
  for (int i = 0; i < kTasks; ++i) seqs.push_back(submit_square(*backend, i, sink));
  ASSERT_TRUE(backend->wait_accepted(10s));  // all at the broker, held there
  using Outcome = internal::RemoteBackend::CancelOutcome;
  std::vector<Outcome> expected(kTasks, Outcome::kNoAnswer);
  expected[0] = Outcome::kCancelled;
  EXPECT_EQ(backend->cancel_all(seqs), expected);
  EXPECT_EQ(service.cancel_calls, 2);  // the answered one, and the first unanswered
}

// terminate() cancels its tasks at the broker in one Cancel call (more_ids), where it
// made one call per task; still one call each on a broker older than more_ids.
TEST(RemoteBackendTest, TerminateCancelsManyTasksInOneCallOrOneEachOnAnOlderBroker) {
  for (bool more_ids : {true, false}) {
    SCOPED_TRACE(more_ids ? "a broker that takes more_ids" : "an older broker");
    FakeService service;
    service.hold = true;
    service.cancel_more_ids = more_ids;
    Server server(&service);
    auto backend = internal::RemoteBackend::connect(server.address(), {}, {});
    constexpr int kTasks = 50;
    auto sink = std::make_shared<CountingSink>();
    for (int i = 0; i < kTasks; ++i) submit_square(*backend, i, sink);
    ASSERT_TRUE(backend->wait_accepted(10s));  // all at the broker, held there
    backend->terminate();                      // waits for its cancels' answers (up to 3 s)
    EXPECT_EQ(sink->failed, kTasks);
    EXPECT_EQ(service.cancel_calls, more_ids ? 1 : kTasks);
    EXPECT_EQ(service.known(), 0u);  // none left to run for nobody
  }
}

TEST(RemoteBackendTest, TerminateFailsOutstandingFutures) {
  FakeService service;
  service.hold = true;
  Server server(&service);
  Pool pool = Pool::connect(server.address());
  auto f = pool.apply_async(square, 3);
  pool.terminate();
  EXPECT_THROW(f.get(5s), CancelledError);
  pool.join();
  EXPECT_THROW(pool.apply_async(square, 1), PoolClosedError);
}

TEST(RemoteBackendTest, CloseThenJoinWaitsForResults) {
  FakeService service;
  Server server(&service);
  Pool pool = Pool::connect(server.address());
  EXPECT_THROW(pool.join(), std::logic_error);
  auto f = pool.apply_async(square, 4);
  pool.close();
  EXPECT_THROW(pool.apply_async(square, 1), PoolClosedError);
  EXPECT_THROW(pool.map(square, std::vector<long long>{}), PoolClosedError);  // empty too
  pool.join();
  EXPECT_TRUE(f.ready());
  EXPECT_EQ(f.get(), 16);
}

TEST(RemoteBackendTest, NothingListeningIsConnectionErrorAfterTimeout) {
  int port;
  {
    FakeService service;
    Server server(&service);
    port = server.port();
  }
  ConnectOptions options;
  options.connect_timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(Pool::connect("127.0.0.1:" + std::to_string(port), options), ConnectionError);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 5s);
}

// A broker restarted with other credentials refuses the pool's sessions. The refusal is
// final for this pool (its ConnectOptions never change): outstanding futures fail at once
// with ConnectionError naming the broker's reason, and the pool tries again only after a
// growing delay, so it serves again once the broker takes it back. (Before, the session
// was reopened at once, for ever, and the futures never resolved.)
TEST(RemoteBackendTest, ASessionTheBrokerRefusesFailsOutstandingFuturesAndIsRetriedLater) {
  auto first = std::make_unique<FakeService>();
  first->hold = true;
  auto server = std::make_unique<Server>(first.get());
  int port = server->port();
  Pool pool = Pool::connect(server->address());
  TerminateOnFailure guard(pool);
  auto f = pool.apply_async(square, 3);
  ASSERT_TRUE(eventually([&] { return first->known() == 1; }));
  server.reset();
  FakeService second;
  second.refuse_code = grpc::StatusCode::UNAUTHENTICATED;
  Server again(&second, port);
  try {
    f.get(10s);
    ADD_FAILURE() << "a result from a broker that refuses the session";
  } catch (const ConnectionError& e) {
    EXPECT_NE(std::string(e.what()).find("refused by the test"), std::string::npos) << e.what();
  }
  // Later tasks fail too, and the pool does not hammer the broker.
  auto g = pool.apply_async(square, 4);
  EXPECT_THROW(g.get(10s), ConnectionError);
  int sessions = second.sessions;
  std::this_thread::sleep_for(2s);  // counts attempts over a span; no handshake to wait on
  EXPECT_LE(second.sessions - sessions, 10);
  second.refuse_code = 0;  // its operator sets the old token again
  EXPECT_EQ(pool.apply_async(square, 5).get(10s), 25);
}

// A session that ends before the broker said anything on it (here INTERNAL, at once) does
// not count as a reconnection: the reconnect window runs on across such sessions, and
// when it closes the outstanding tasks fail with ConnectionError naming the broker's last
// words. (Before, every such session restarted the window: the tasks waited for ever.)
TEST(RemoteBackendTest, SessionsTheBrokerEndsUnansweredDoNotRestartTheReconnectWindow) {
  auto first = std::make_unique<FakeService>();
  first->hold = true;
  auto server = std::make_unique<Server>(first.get());
  int port = server->port();
  internal::RemoteBackend::Limits limits;
  limits.reconnect_window = 1000ms;
  auto backend = internal::RemoteBackend::connect(server->address(), {}, limits);
  auto sink = std::make_shared<RecordingSink>();
  submit_square(*backend, 3, sink);
  ASSERT_TRUE(eventually([&] { return first->known() == 1; }));
  auto start = std::chrono::steady_clock::now();
  server.reset();
  FakeService second;
  second.refuse_code = grpc::StatusCode::INTERNAL;
  Server again(&second, port);
  ASSERT_TRUE(sink->wait(10s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1000ms);
  EXPECT_EQ(sink->error().kind, internal::ErrorKind::kConnection);
  EXPECT_NE(sink->error().message.find("refused by the test"), std::string::npos)
      << sink->error().message;
  EXPECT_GE(second.sessions.load(), 1);
  EXPECT_LE(second.sessions.load(), 10);  // with backoff: about 4 in that second
  backend->terminate();
  backend->join();
}

// Found by review: when the reconnect window closed, the supervisor took the outstanding
// tasks' failures and then, the port answering again, asked the broker's limit (GetStats)
// without its lock. join() saw nothing outstanding and stopped the supervisor, which
// returned without delivering them: join() returned and the futures never resolved. They
// are delivered at once now, and join() returns only after they are.
TEST(RemoteBackendTest, JoinReturnsOnlyOnceTheReconnectWindowsFailuresAreDelivered) {
  FakeService service;
  service.hold = true;
  auto server = std::make_unique<Server>(&service);
  const int port = server->port();
  internal::RemoteBackend::Limits limits;
  limits.reconnect_window = 300ms;
  auto backend = internal::RemoteBackend::connect(server->address(), {}, limits);
  auto sink = std::make_shared<RecordingSink>();
  submit_square(*backend, 3, sink);
  ASSERT_TRUE(eventually([&] { return service.known() == 1; }));
  server.reset();
  // The port answers again, but every session ends unanswered (a proxy before a broker
  // that is down, say), and GetStats is slow.
  service.refuse_code = grpc::StatusCode::UNAVAILABLE;
  service.stats_delay_ms = 500;
  Server again(&service, port);
  backend->close();
  backend->join();
  ASSERT_TRUE(sink->wait(0ms)) << "join() returned before the task's sink was resolved";
  EXPECT_EQ(sink->error().kind, internal::ErrorKind::kConnection);
  EXPECT_TRUE(sink->wait(3s)) << "the task's sink was never resolved";
}

// The receive limit of a broker started with --max-message-bytes=`m`.
int broker_receive_limit(std::uint64_t m) { return static_cast<int>(4 * m + (1u << 20)); }

// Found by review: a batch was sized by its tasks' arguments alone (+64 bytes each), so
// many small tasks with long names made a SubmitBatch over the broker's receive limit,
// which ended the session (RESOURCE_EXHAUSTED); the pool reconnected and sent the same
// batch again, for ever. Batches are sized by every field now.
TEST(RemoteBackendTest, ManySmallTasksWithLongNamesStayUnderTheBrokersReceiveLimit) {
  constexpr std::uint64_t kMaxMessageBytes = 65536;
  FakeService service;  // runs none of them: their name is no task's (NOT_REGISTERED)
  service.max_message_bytes = kMaxMessageBytes;
  Server server(&service, 0, broker_receive_limit(kMaxMessageBytes));
  auto backend = internal::RemoteBackend::connect(server.address(), {}, {});
  auto sink = std::make_shared<CountingSink>();
  constexpr int kTasks = 20000;  // 20 MB of names: many batches
  std::vector<internal::Submission> batch;
  for (int i = 0; i < kTasks; ++i) {
    internal::Submission s;
    s.seq = internal::next_task_seq();
    s.name = std::string(1000, 'n');
    s.args = encode(std::make_tuple(i));
    s.sink = sink;
    batch.push_back(std::move(s));
  }
  backend->submit(batch);
  EXPECT_TRUE(eventually([&] { return sink->completed + sink->failed == kTasks; }, 20s))
      << sink->failed + sink->completed << " of " << kTasks << " resolved";
  EXPECT_EQ(backend->link().losses, 0u);
  EXPECT_EQ(service.tasks_seen.load(), kTasks);
  backend->terminate();
}

// Found by review: a session the broker answered (the hello) and then ended counted as a
// reconnection, with no delay before the next: a task the broker's gRPC server refuses
// every time (here a message over its receive limit, which the broker's limit said
// fitted) was sent again about 75 times a second, for ever, and its future never resolved.
// Sessions that make no progress are retried after a growing delay, and a task that ends
// the session each time it is sent fails with the broker's words; the others run.
TEST(RemoteBackendTest, ATaskThatEndsEverySessionFailsInsteadOfBeingSentForEver) {
  FakeService service;
  service.max_message_bytes = 1u << 20;  // says 1 MiB: a 200 KiB task is sent
  Server server(&service, 0, 64 << 10);  // takes 64 KiB
  auto backend = internal::RemoteBackend::connect(server.address(), {}, {});
  auto big = std::make_shared<RecordingSink>();
  auto small = std::make_shared<RecordingSink>();
  std::vector<internal::Submission> batch(2);
  batch[0].seq = internal::next_task_seq();
  batch[0].name = "remote_backend_test.square";
  batch[0].args = encode(std::make_tuple(std::string(200 << 10, 'x')));
  batch[0].sink = big;
  batch[1].seq = internal::next_task_seq();
  batch[1].name = "remote_backend_test.square";
  batch[1].args = encode(std::make_tuple(4));
  batch[1].sink = small;
  backend->submit(batch);
  ASSERT_TRUE(big->wait(20s)) << service.sessions.load() << " sessions";
  EXPECT_FALSE(big->completed());
  EXPECT_NE(big->error().message.find("RESOURCE_EXHAUSTED"), std::string::npos)
      << big->error().message;
  ASSERT_TRUE(small->wait(20s));
  EXPECT_TRUE(small->completed()) << small->error().message;
  EXPECT_LE(service.sessions.load(), 10);
  backend->terminate();
}

// Submits square(3) to a broker that takes it without saying Accepted, then breaks the
// stream and has the broker (which keeps the task) end every new session at once: the
// task was sent, and is to be sent again once a session holds. Returns its seq.
// A broker that holds what it is sent and sends no Accepted, and a backend connected to it.
struct LostSession {
  LostSession() {
    service.hold = true;
    service.no_accepted = true;
    server = std::make_unique<Server>(&service);
    backend = internal::RemoteBackend::connect(server->address(), {}, {});
  }
  FakeService service;
  std::unique_ptr<Server> server;
  std::shared_ptr<internal::RemoteBackend> backend;
};

std::uint64_t send_then_lose_the_session(FakeService& service, std::unique_ptr<Server>& server,
                                         internal::RemoteBackend& backend,
                                         std::shared_ptr<internal::Sink> sink) {
  const std::size_t known = service.known();
  std::uint64_t seq = submit_square(backend, 3, std::move(sink));
  EXPECT_TRUE(eventually([&] { return service.known() == known + 1; }));
  const int port = server->port();
  const int before = service.sessions;
  server.reset();  // the stream breaks; the broker keeps the task
  service.refuse_code = grpc::StatusCode::UNAVAILABLE;  // its sessions refused a while
  server = std::make_unique<Server>(&service, port);
  EXPECT_TRUE(eventually([&] { return service.sessions > before; }));  // reconnecting
  return seq;
}

// Found by review: a task written to a session that broke before its Accepted went back to
// "not sent" at the reconnect; cancel() and cancel_all() then took it for one that never
// left this process and dropped it here without telling the broker, which had it and ran
// it. (Whether the new session wrote it again before it ended is a race: a few rounds.)
TEST(RemoteBackendTest, CancelOfATaskSentBeforeAReconnectReachesTheBroker) {
  using Outcome = internal::RemoteBackend::CancelOutcome;
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE(round);
    LostSession lost;
    auto& [service, server, backend] = lost;
    auto sink = std::make_shared<RecordingSink>();
    std::uint64_t seq = send_then_lose_the_session(service, server, *backend, sink);
    if (round % 2 == 0) {
      EXPECT_TRUE(backend->cancel(seq));
    } else {
      EXPECT_EQ(backend->cancel_all({seq}), std::vector<Outcome>{Outcome::kCancelled});
    }
    ASSERT_TRUE(sink->wait(1s));
    EXPECT_EQ(sink->error().kind, internal::ErrorKind::kCancelled);
    EXPECT_EQ(service.cancel_calls.load(), 1);
    EXPECT_EQ(service.known(), 0u) << "the broker still holds the task and will run it";
    backend->terminate();
  }
}

// terminate() cancels such a task at the broker too.
TEST(RemoteBackendTest, TerminateCancelsATaskSentBeforeAReconnectAtTheBroker) {
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE(round);
    LostSession lost;
    auto& [service, server, backend] = lost;
    send_then_lose_the_session(service, server, *backend, std::make_shared<RecordingSink>());
    backend->terminate();  // waits for its cancels' answers (up to 3 s)
    EXPECT_EQ(service.cancel_calls.load(), 1);
    EXPECT_EQ(service.known(), 0u);
  }
}

// Found by review: connect_timeout = milliseconds::max() ("no limit") overflowed when
// connect() took what was left of it for GetStats: 100 ms, and a broker slower than that
// to answer was "unreachable". A timeout of 0 or less is refused, as a keepalive is.
TEST(RemoteBackendTest, AnUnlimitedConnectTimeoutDoesNotOverflowAndZeroIsRefused) {
  FakeService service;
  service.stats_delay_ms = 300;
  Server server(&service);
  ConnectOptions options;
  options.connect_timeout = std::chrono::milliseconds::max();
  Pool pool = Pool::connect(server.address(), options);
  EXPECT_EQ(pool.apply(square, 3), 9);
  for (auto timeout : {0ms, -1ms}) {
    options.connect_timeout = timeout;
    EXPECT_THROW(Pool::connect(server.address(), options), std::invalid_argument);
  }
}

// Found by review: next(timeout) fed the stream first, and the feeder's submit() waited
// for room in the pool's window for as long as the broker stayed full: next(200ms) took
// seconds. The feeder gives up at the deadline now (its chunks go at a later next()).
TEST(RemoteBackendTest, ATimedNextDoesNotWaitForRoomInThePoolsWindow) {
  FakeService service;
  Server server(&service);
  Pool pool = Pool::connect(server.address());
  TerminateOnFailure guard(pool);
  constexpr int kItems = 20000;
  auto stream = pool.imap(square, std::vector<int>(kItems, 2), 1);
  long long sum = *stream.next(10s);
  service.full = true;  // the broker fills up (other clients)
  // Another thread of the program fills the pool's window (65,536 unaccepted tasks).
  constexpr int kWindow = 65536;
  std::atomic<int> flooded{0};
  std::thread flood([&] {
    std::vector<Future<int>> fs;
    try {
      for (int i = 0; i < kWindow + 10; ++i) {
        fs.push_back(pool.apply_async(square, 1));
        ++flooded;
      }
    } catch (const Error&) {
    }
  });
  // Full once the flood and the stream's chunks rejected with it (up to its window) fill
  // it; the stream refills below until the window is full, whichever comes first.
  const int stream_chunks = static_cast<int>(internal::stream_window(5).max_items);
  const bool filled = eventually([&] { return flooded >= kWindow - stream_chunks; }, 60s);
  if (!filled) {
    pool.terminate();  // frees the flood thread
    flood.join();
  }
  ASSERT_TRUE(filled);
  // Frees the broker after 5 s if next() is stuck (it was: this test would hang).
  std::mutex watchdog_mu;
  std::condition_variable watchdog_cv;
  bool looped = false;
  std::thread watchdog([&] {
    std::unique_lock lock(watchdog_mu);
    watchdog_cv.wait_for(lock, 5s, [&] { return looped; });
    service.full = false;
  });
  // The stream's ready results come, then it needs a refill that has no room.
  int timeouts = 0;
  int taken = 1;
  auto worst = 0ms;
  while (timeouts == 0 && taken < kItems) {
    auto start = std::chrono::steady_clock::now();
    try {
      sum += *stream.next(200ms);
      ++taken;
    } catch (const TimeoutError&) {
      ++timeouts;
    }
    worst = std::max(worst, std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - start));
    if (worst > 2s) break;
  }
  {
    std::lock_guard lock(watchdog_mu);
    looped = true;
  }
  watchdog_cv.notify_all();
  watchdog.join();  // room again: the flood and the stream go on
  EXPECT_LT(worst, 1s) << "next(200ms) waited for room in the pool's window";
  EXPECT_EQ(timeouts, 1);
  while (taken < kItems) {
    sum += *stream.next(30s);
    ++taken;
  }
  EXPECT_FALSE(stream.next(30s).has_value());
  EXPECT_EQ(sum, 4LL * kItems);
  flood.join();
}

// A done-callback runs on the session's thread, the only one that reads the broker's
// Accepted. Submitting from it while the unaccepted window is full must not wait for
// room: it waited for good, since the window could not drain while that thread waited.
TEST(RemoteBackendTest, ADoneCallbackSubmitsWhileTheWindowIsFull) {
  FakeService service;
  service.hold = true;
  Server server(&service);
  internal::RemoteBackend::Limits limits;
  limits.max_unaccepted = 2;
  auto backend = internal::RemoteBackend::connect(server.address(), {}, limits);
  auto first = std::make_shared<RecordingSink>();
  auto follow_up = std::make_shared<RecordingSink>();
  std::atomic<bool> submitted{false};
  first->on_complete = [&] {
    try {
      submit_square(*backend, 5, follow_up);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "the callback's submit threw " << e.what();
    }
    submitted = true;
  };
  submit_square(*backend, 3, first);
  ASSERT_TRUE(backend->wait_accepted(10s));  // accepted and held
  service.hold = false;
  service.full = true;
  std::vector<std::shared_ptr<RecordingSink>> fillers;
  for (int i = 0; i < 2; ++i) {  // the window of 2: full until the broker has room
    fillers.push_back(std::make_shared<RecordingSink>());
    submit_square(*backend, 6 + i, fillers.back());
  }
  service.release = 1;  // first's result goes out when the fillers are sent again
  bool returned = eventually([&] { return submitted.load(); });
  EXPECT_TRUE(returned) << "the callback's submit waited for room";
  if (!returned) backend->terminate();  // wakes it (PoolClosedError)
  service.full = false;
  ASSERT_TRUE(returned);
  for (auto& sink : {first, follow_up, fillers[0], fillers[1]}) {
    ASSERT_TRUE(sink->wait(10s));
    EXPECT_TRUE(sink->completed()) << sink->error().message;
  }
}

// A map sizes its chunks by the broker's worker slots as asked at most a second ago:
// back-to-back maps do not each wait for a ListWorkers round trip (~55 µs here, a fifth
// of a task's), while processes() itself asks every time.
TEST(RemoteBackendTest, BackToBackMapsAskForWorkersOnce) {
  FakeService service;
  Server server(&service);
  Pool pool = Pool::connect(server.address());
  TerminateOnFailure guard(pool);
  const std::vector<int> xs{1, 2, 3, 4, 5, 6, 7, 8};
  const int before = service.list_workers_calls;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(pool.map(square, xs), (std::vector<int>{1, 4, 9, 16, 25, 36, 49, 64}));
    for (int y : pool.imap(square, xs)) EXPECT_GT(y, 0);
  }
  // 10 when each asked; 1 here, or a few more on a machine slow enough to take seconds.
  EXPECT_LT(service.list_workers_calls - before, 5);
  const int asked = service.list_workers_calls;
  EXPECT_EQ(pool.processes(), 5);
  EXPECT_EQ(pool.processes(), 5);
  EXPECT_EQ(service.list_workers_calls - asked, 2);
  pool.close();
  pool.join();
}

// Automatic chunks are sized by the slots serving the queue the map goes to (a with()
// handle's, not the pool's), and kept small while none serves it: the workers that come
// later must all get work (a map before any worker was cut into 4 chunks for ever).
TEST(RemoteBackendTest, AMapSizesItsChunksByTheSlotsOfItsQueue) {
  FakeService service;
  Server server(&service);
  Pool pool = Pool::connect(server.address());
  TerminateOnFailure guard(pool);
  TaskOptions elsewhere;
  elsewhere.queue = "elsewhere";  // 7 slots; the pool's "default" has 5
  std::vector<int> xs(5600);
  for (int i = 0; i < 5600; ++i) xs[i] = i % 100;
  int before = service.tasks_seen;
  auto ys = pool.with(elsewhere).map(square, xs);
  ASSERT_EQ(ys.size(), xs.size());
  EXPECT_EQ(ys[99], 99 * 99);
  EXPECT_EQ(service.tasks_seen - before, 28);  // 5600 / (4 x 7)
  TaskOptions nowhere;
  nowhere.queue = "nowhere";  // no worker yet
  std::vector<int> many(100000, 3);
  before = service.tasks_seen;
  auto zs = pool.with(nowhere).map(square, many);
  ASSERT_EQ(zs.size(), many.size());
  EXPECT_EQ(zs.back(), 9);
  EXPECT_EQ(service.tasks_seen - before, 100);  // chunks of 1,000
}

// join() is thread-safe: two threads joining a closed pool at once both return. (Both
// joined the supervisor thread; the second hung for ever.) The broker is gone, so the
// supervisor is slow to stop: it waits up to 200 ms for a connection.
TEST(RemoteBackendTest, TwoThreadsJoinAClosedPoolAtOnce) {
  for (int round = 0; round < 5; ++round) {
    auto service = std::make_unique<FakeService>();
    auto server = std::make_unique<Server>(service.get());
    Pool pool = Pool::connect(server->address());
    EXPECT_EQ(pool.apply(square, 2), 4);
    server.reset();
    pool.close();
    std::atomic<int> joined{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&] {
        try {
          pool.join();
          ++joined;
        } catch (const std::exception& e) {
          ADD_FAILURE() << "join threw " << e.what();
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(joined.load(), 2) << "round " << round;
  }
}

// A closed pool whose broker is gone has nothing left to do: its supervisor sleeps, and a
// later join() returns. (The supervisor found a session due, had none to open for a
// closed and drained pool, and looped without ever letting go of its lock: a core spun
// and join() waited for ever.)
TEST(RemoteBackendTest, ClosedPoolWhoseBrokerIsGoneJoinsLater) {
  auto service = std::make_unique<FakeService>();
  auto server = std::make_unique<Server>(service.get());
  auto pool = std::make_shared<Pool>(Pool::connect(server->address()));
  EXPECT_EQ(pool->apply(square, 2), 4);
  server.reset();
  pool->close();
  std::this_thread::sleep_for(1s);  // the session's end seen, any reconnect attempt over
  auto joined = std::make_shared<std::atomic<bool>>(false);
  std::thread joiner([pool, joined] {
    pool->join();
    *joined = true;
  });
  bool returned = eventually([&] { return joined->load(); });
  if (!returned) {
    joiner.detach();  // it holds the pool; the failure is reported, not hung on
    FAIL() << "join() of a closed pool whose broker is gone did not return";
  }
  joiner.join();
}

// A done-callback runs on one of the pool's own threads: join() there would wait for
// itself (with tasks outstanding, for their results, which that thread reads), so it
// throws shoal::Error. (It hung.)
TEST(RemoteBackendTest, JoinInADoneCallbackThrows) {
  FakeService service;
  service.hold = true;
  Server server(&service);
  Pool pool = Pool::connect(server.address());
  TerminateOnFailure guard(pool);
  auto f = pool.apply_async(square, 3);
  std::string what;
  std::atomic<bool> ran{false};
  f.add_done_callback([&](const Future<int>&) {
    pool.close();
    try {
      pool.join();
      what = "(returned)";
    } catch (const Error& e) {
      what = e.what();
    }
    ran = true;
  });
  ASSERT_TRUE(eventually([&] { return service.known() == 1; }));
  service.hold = false;
  service.release = 1;  // f's result goes out with g
  auto g = pool.apply_async(square, 4);
  ASSERT_TRUE(eventually([&] { return ran.load(); }));
  EXPECT_NE(what.find("done-callback"), std::string::npos) << what;
  EXPECT_EQ(g.get(10s), 16);
  pool.join();  // from here it works
  EXPECT_EQ(f.get(), 9);
}

// Dropping a pool's last handle in one of its done-callbacks does not wait (it cannot:
// the callback runs on a thread the pool's teardown waits for): the pool's unfinished
// futures fail with CancelledError and it is torn down on another thread. (It hung.)
TEST(RemoteBackendTest, TheLastHandleDroppedInADoneCallback) {
  FakeService service;
  service.hold = true;
  Server server(&service);
  std::optional<Pool> pool = Pool::connect(server.address());
  auto f = pool->apply_async(square, 3);
  std::atomic<bool> dropped{false};
  f.add_done_callback([&](const Future<int>&) {
    pool.reset();
    dropped = true;
  });
  auto g = pool->apply_async(square, 4);  // held: unfinished when the pool goes
  ASSERT_TRUE(eventually([&] { return service.known() == 2; }));
  // The main thread is done with the pool: f's result goes out when the pool resends a
  // task the broker rejects as full (from its own thread).
  service.full = true;
  auto h = pool->apply_async(square, 5);
  service.release = 1;
  ASSERT_TRUE(eventually([&] { return dropped.load(); }));
  EXPECT_EQ(f.get(), 9);
  EXPECT_THROW(g.get(10s), CancelledError);
  EXPECT_THROW(h.get(10s), CancelledError);
  EXPECT_TRUE(eventually([&] { return service.open_sessions == 0; }));  // torn down
}

}  // namespace
}  // namespace shoal
