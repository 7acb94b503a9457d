// WorkerSession against a fake broker (a ROUTER socket on loopback, driven by the
// test) and a fake engine (runs tasks in-process, or holds them until released).
#include "worker/session.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_format.h"
#include "shoal/codec.hpp"
#include "shoal/task.hpp"
#include "tests/testutil/half_encodable.h"


namespace {

int square(int x) { return x * x; }
HalfEncodable half_encodable(int x) { return HalfEncodable{x == 3 ? -1 : x}; }
int thrower(int) { throw std::runtime_error("no luck"); }
std::string blob(int n) { return std::string(static_cast<std::size_t>(n), 'x'); }
SHOAL_TASK_AS(square, "session_test.square");
SHOAL_TASK_AS(thrower, "session_test.throw");
SHOAL_TASK_AS(blob, "session_test.blob");
SHOAL_TASK_AS(half_encodable, "session_test.half_encodable");

}  // namespace

namespace shoal::worker {
namespace {

using namespace std::chrono_literals;
using internal::Submission;

// Runs submissions on the submitting thread, or keeps them until release().
class FakeEngine : public internal::Backend {
 public:
  bool local() const override { return true; }
  void submit(std::vector<Submission>& batch) override {
    std::function<void()> hook;
    {
      std::lock_guard lock(mu_);
      hook = on_submit_;
    }
    if (hook) hook();
    std::vector<Submission> now;
    {
      std::lock_guard lock(mu_);
      for (auto& s : batch) (hold_ ? held_ : now).push_back(std::move(s));
      batch.clear();
      cv_.notify_all();
    }
    for (auto& s : now) execute(s);
  }
  void close() override {}
  void terminate() override {
    std::vector<Submission> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
    }
    for (auto& s : held) s.sink->fail(s.index, {internal::ErrorKind::kCancelled, "", "x", ""});
  }
  void join() override {}
  int processes() const override { return 2; }
  // Takes back a held submission after the first `started` held ones (those run; all,
  // unless set_started() said otherwise).
  bool cancel(std::uint64_t seq) override {
    Submission taken;
    {
      std::lock_guard lock(mu_);
      auto it = std::find_if(held_.begin(), held_.end(),
                             [seq](const Submission& s) { return s.seq == seq; });
      if (it == held_.end() || it - held_.begin() < started_) return false;
      taken = std::move(*it);
      held_.erase(it);
    }
    taken.sink->fail(taken.index, {internal::ErrorKind::kCancelled, "", "cancelled", ""});
    return true;
  }
  // The first `n` held submissions count as started: cancel() cannot take them back.
  void set_started(std::ptrdiff_t n) {
    std::lock_guard lock(mu_);
    started_ = n;
  }

  std::string failure() const override {
    std::lock_guard lock(mu_);
    return failure_;
  }

  void set_hold(bool hold) {
    std::lock_guard lock(mu_);
    hold_ = hold;
  }
  // Called on the submitting thread (the session's) before each batch runs or is held.
  void set_on_submit(std::function<void()> hook) {
    std::lock_guard lock(mu_);
    on_submit_ = std::move(hook);
  }
  // From now on the engine says it stopped by itself, for `why`.
  void set_failure(std::string why) {
    std::lock_guard lock(mu_);
    failure_ = std::move(why);
  }
  // Waits until `n` submissions are held.
  bool wait_held(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return held_.size() >= n; });
  }
  // Fails the held submissions as if their process had been killed.
  void lose_held() {
    std::vector<Submission> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
    }
    for (auto& s : held) {
      s.sink->fail(s.index, {internal::ErrorKind::kWorkerLost, "", "killed by SIGKILL", ""});
    }
  }
  // Runs the first held submission only.
  void release_first() {
    Submission first;
    {
      std::lock_guard lock(mu_);
      first = std::move(held_.front());
      held_.erase(held_.begin());
    }
    execute(first);
  }
  void release() {
    std::vector<Submission> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
    }
    for (auto& s : held) execute(s);
  }

 private:
  static void execute(Submission& s) {
    std::string reply;
    s.invoke(s.fn, s.args, s.items, reply);
    s.sink->complete(s.index, std::move(reply));
  }
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  std::vector<Submission> held_;
  std::ptrdiff_t started_ = PTRDIFF_MAX;  // every held one runs, unless a test says
  std::string failure_;
  std::function<void()> on_submit_;
};

// The broker's side of the link, driven by the test.
class FakeBroker {
 public:
  FakeBroker() : socket_(context_, zmq::socket_type::router) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::rcvtimeo, 30000);
    socket_.bind("tcp://127.0.0.1:*");
    endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
  }
  const std::string& endpoint() const { return endpoint_; }

  // The next message of kind `kind` (others are skipped); fails the test after 30 s.
  v1::WorkerMessage expect(v1::WorkerMessage::BodyCase kind) {
    auto m = next(kind);
    if (!m) throw std::runtime_error("no frame from the worker within 30 s");
    return *std::move(m);
  }
  // The next message of kind `kind`, or nullopt if no frame came within `timeout`.
  std::optional<v1::WorkerMessage> next(v1::WorkerMessage::BodyCase kind,
                                        std::chrono::milliseconds timeout = 30s) {
    socket_.set(zmq::sockopt::rcvtimeo, static_cast<int>(timeout.count()));
    for (;;) {
      zmq::message_t id, body;
      if (!socket_.recv(id)) return std::nullopt;
      (void)socket_.recv(body);
      v1::WorkerMessage m;
      EXPECT_TRUE(m.ParseFromArray(body.data(), static_cast<int>(body.size())));
      EXPECT_EQ(m.version(), 1u);
      if (m.body_case() == kind) {
        peer_ = id.to_string();
        last_frame_bytes_ = body.size();
        return m;
      }
    }
  }
  void send(v1::BrokerMessage m) {
    if (m.version() == 0) m.set_version(1);
    send_raw({m.SerializeAsString()});
  }
  void send_raw(const std::vector<std::string>& frames) {
    socket_.send(zmq::buffer(peer_), zmq::send_flags::sndmore);
    for (std::size_t i = 0; i < frames.size(); ++i) {
      socket_.send(zmq::buffer(frames[i]),
                   i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
  // Sends Reconnect (a broker that does not know the worker): it answers with a hello.
  void ask_reconnect() {
    v1::BrokerMessage m;
    m.mutable_reconnect()->set_reason("restarted");
    send(m);
  }
  // Closes the socket: the broker is gone.
  void close() { socket_.close(); }
  void welcome(std::uint32_t heartbeat_ms = 1000, std::uint32_t liveness = 3,
               std::uint64_t max_message_bytes = 0) {
    v1::BrokerMessage m;
    m.mutable_welcome()->set_broker_id("fake");
    m.mutable_welcome()->set_heartbeat_ms(heartbeat_ms);
    m.mutable_welcome()->set_liveness(liveness);
    m.mutable_welcome()->set_max_message_bytes(max_message_bytes);
    send(m);
  }
  // The size of the frame expect() returned last.
  std::size_t last_frame_bytes() const { return last_frame_bytes_; }
  void refuse(std::uint32_t retry_ms) {
    v1::BrokerMessage m;
    m.mutable_refused()->set_reason("the name 'w1' belongs to a live worker (elsewhere:7)");
    m.mutable_refused()->set_retry_ms(retry_ms);
    send(m);
  }
  void tasks(std::vector<v1::Task> tasks) {
    v1::BrokerMessage m;
    for (auto& t : tasks) *m.mutable_tasks()->add_tasks() = std::move(t);
    send(m);
  }
  // Results until `n` arrived, by id; `credit` sums what they granted.
  std::map<std::string, v1::TaskResult> results(std::size_t n, std::uint32_t* credit = nullptr) {
    std::map<std::string, v1::TaskResult> out;
    while (out.size() < n) {
      auto m = expect(v1::WorkerMessage::kResults);
      if (credit) *credit += m.results().credit();
      for (const auto& r : m.results().results()) out[r.id()] = r;
    }
    return out;
  }

 private:
  zmq::context_t context_{1};
  zmq::socket_t socket_;
  std::string endpoint_;
  std::string peer_;
  std::size_t last_frame_bytes_ = 0;
};

// A plain TCP socket on 127.0.0.1 that never speaks ZeroMQ: bound but not listening, a
// port that refuses connections; listening, one that takes them and answers nothing.
class PlainPort {
 public:
  // Binds `port` (0: one the OS picks), trying again for up to 10 s while it is in use.
  explicit PlainPort(int port = 0) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    auto give_up = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int one = 1;
      setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) break;
      ::close(fd_);
      fd_ = -1;
      if (std::chrono::steady_clock::now() > give_up) return;
      std::this_thread::sleep_for(10ms);  // a closed ZeroMQ socket lets its port go soon
    }
    socklen_t size = sizeof(address);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
  }
  ~PlainPort() {
    if (peer_ >= 0) ::close(peer_);
    if (fd_ >= 0) ::close(fd_);
  }
  bool bound() const { return fd_ >= 0; }
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  // Listens and takes one connection; false if none came within 30 s (a hang guard).
  bool accept_one() {
    if (listen(fd_, 8) != 0) return false;
    pollfd item{fd_, POLLIN, 0};
    if (poll(&item, 1, 30000) != 1) return false;
    peer_ = accept(fd_, nullptr, nullptr);
    return peer_ >= 0;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  int peer_ = -1;
};

int port_of(const std::string& endpoint) {
  return std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
}

v1::Task make_task(const std::string& id, const std::string& name, std::vector<int> xs) {
  v1::Task t;
  t.set_id(id);
  t.set_name(name);
  if (xs.size() == 1) {
    t.set_args(encode(std::make_tuple(xs[0])));
  } else {
    std::vector<std::tuple<int>> arrays;
    for (int x : xs) arrays.emplace_back(x);
    t.set_args(encode(arrays));
    t.set_items(static_cast<std::uint32_t>(xs.size()));
  }
  return t;
}

// A session on its own thread, as worker_main runs it.
class SessionTest : public ::testing::Test {
 protected:
  void start(int slots = 2, int prefetch = 1) {
    done_ = *CompletionQueue::create();
    runner_ = std::make_unique<TaskRunner>(engine_, "w1", done_.get());
    SessionConfig config;
    config.broker = endpoint_.empty() ? broker_.endpoint() : endpoint_;
    config.name = "w1";
    config.host = "testhost";
    config.pid = 42;
    config.queues = {"default", "q2"};
    config.tasks = internal::task_names();
    config.slots = slots;
    config.prefetch = prefetch;
    config.hello_retry = hello_retry_;
    config.instance = "instance-1";
    config.drain_timeout = 5000ms;
    session_ = std::make_unique<WorkerSession>(config, context_, *runner_, *done_, log_);
    stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    thread_ = std::thread([this] {
      status_ = session_->run(stop_fd_, [this] {
        std::lock_guard lock(mu_);
        ready_ = true;
        cv_.notify_all();
      });
      returned_ = true;
    });
  }
  bool wait_ready(std::chrono::milliseconds timeout = 30s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return ready_; });
  }
  void stop() {
    std::uint64_t one = 1;
    ASSERT_EQ(write(stop_fd_, &one, sizeof(one)), 8);
    thread_.join();
  }
  void TearDown() override {
    if (thread_.joinable()) stop();
    if (stop_fd_ >= 0) close(stop_fd_);
  }

  std::shared_ptr<FakeEngine> engine_ = std::make_shared<FakeEngine>();
  FakeBroker broker_;
  zmq::context_t context_{1};
  Log log_{"w1", LogLevel::kError};
  std::unique_ptr<CompletionQueue> done_;
  std::unique_ptr<TaskRunner> runner_;
  std::unique_ptr<WorkerSession> session_;
  int stop_fd_ = -1;
  std::thread thread_;
  absl::Status status_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
  std::atomic<bool> returned_{false};  // run() has returned
  std::chrono::milliseconds hello_retry_ = 5000ms;
  std::string endpoint_;  // the broker's; empty: broker_'s
};

TEST_F(SessionTest, HelloWelcomeTasksAndChunkResults) {
  start();
  auto hello = broker_.expect(v1::WorkerMessage::kHello).hello();
  EXPECT_EQ(hello.name(), "w1");
  EXPECT_EQ(hello.slots(), 2u);
  EXPECT_EQ(hello.prefetch(), 1u);
  EXPECT_EQ(hello.credit(), 2u);
  EXPECT_EQ(hello.pid(), 42u);
  EXPECT_EQ(hello.queues_size(), 2);
  EXPECT_NE(std::find(hello.tasks().begin(), hello.tasks().end(), "session_test.square"),
            hello.tasks().end());
  EXPECT_FALSE(ready_);
  broker_.welcome();
  ASSERT_TRUE(wait_ready());

  v1::Task a = make_task("a", "session_test.square", {7});
  a.set_lease(0x500000003ull);
  broker_.tasks({a, make_task("b", "session_test.square", {1, 2, 3})});
  std::uint32_t credit = 0;
  auto results = broker_.results(2, &credit);
  EXPECT_EQ(credit, 2u);  // both slots free again
  // Successful results travel packed: one MessagePack array of values.
  EXPECT_EQ(results["a"].items_size(), 0);
  EXPECT_EQ((decode<std::tuple<int>>(results["a"].values())), std::make_tuple(49));
  EXPECT_EQ(results["a"].worker(), "w1");
  EXPECT_EQ(results["a"].attempts(), 1u);
  EXPECT_EQ(results["a"].lease(), 0x500000003ull);  // echoed for the broker's lookup
  EXPECT_EQ(results["b"].lease(), 0u);
  EXPECT_EQ(decode<std::vector<int>>(results["b"].values()), (std::vector<int>{1, 4, 9}));
  stop();
  EXPECT_TRUE(status_.ok()) << status_;
  EXPECT_EQ(session_->stats().tasks, 2u);
}

// Any heartbeat and liveness a broker may send: the worker keeps the link, no overflow
// making it think the broker silent (a liveness above INT_MAX became negative).
TEST_F(SessionTest, HugeHeartbeatAndLivenessKeepTheLink) {
  start();
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome(/*heartbeat_ms=*/0xffffffffu, /*liveness=*/0xffffffffu);
  ASSERT_TRUE(wait_ready());
  broker_.tasks({make_task("h1", "session_test.square", {3})});
  EXPECT_EQ(decode<std::tuple<int>>(broker_.results(1)["h1"].values()), std::make_tuple(9));
  EXPECT_FALSE(broker_.next(v1::WorkerMessage::kHello, 600ms).has_value());
  stop();
  EXPECT_EQ(session_->stats().reconnects, 0u);
}

TEST_F(SessionTest, UnknownTaskAndThrowingTaskAreReported) {
  start();
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome();
  broker_.tasks({make_task("u", "no.such.task", {1}), make_task("t", "session_test.throw", {1})});
  auto results = broker_.results(2);
  EXPECT_EQ(results["u"].failure().kind(), v1::ERROR_KIND_NOT_REGISTERED);
  EXPECT_NE(results["u"].failure().message().find("no.such.task"), std::string::npos);
  ASSERT_EQ(results["t"].items_size(), 1);
  EXPECT_EQ(results["t"].items(0).error().kind(), v1::ERROR_KIND_REMOTE);
  EXPECT_EQ(results["t"].items(0).error().type_name(), "std::runtime_error");
  EXPECT_EQ(results["t"].items(0).error().message(), "no luck");
}

// A result that fails to encode half-way fails its item with SERIALIZATION and the
// thrower's message; the items around it arrive whole. Its partial encoding used to stay
// before the failure, and the items were misread.
TEST_F(SessionTest, AResultThatCannotBeEncodedFailsItsItemOnly) {
  start();
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome();
  broker_.tasks({make_task("c", "session_test.half_encodable", {1, 3, 5})});
  auto results = broker_.results(1);
  ASSERT_EQ(results["c"].items_size(), 3);
  EXPECT_EQ(results["c"].items(0).value(), encode(std::make_tuple(1, std::string("t"))));
  EXPECT_EQ(results["c"].items(1).error().kind(), v1::ERROR_KIND_SERIALIZATION);
  EXPECT_NE(results["c"].items(1).error().message().find("a negative value cannot be encoded"), std::string::npos)
      << results["c"].items(1).error().message();
  EXPECT_EQ(results["c"].items(2).value(), encode(std::make_tuple(5, std::string("t"))));
}

TEST_F(SessionTest, BadFramesAreCountedAndTheSessionGoesOn) {
  start();
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome();
  ASSERT_TRUE(wait_ready());
  broker_.send_raw({std::string("\xff\x00garbage\x13", 10)});
  v1::BrokerMessage wrong_version;
  wrong_version.set_version(7);
  wrong_version.mutable_heartbeat();
  broker_.send(wrong_version);
  broker_.send_raw({"two", "parts"});
  std::string truncated = [] {
    v1::BrokerMessage m;
    m.set_version(1);
    *m.mutable_tasks()->add_tasks() = make_task("x", "session_test.square", {3});
    std::string s = m.SerializeAsString();
    return s.substr(0, s.size() - 3);
  }();
  broker_.send_raw({truncated});
  broker_.tasks({make_task("ok", "session_test.square", {5})});
  auto results = broker_.results(1);
  EXPECT_EQ(decode<std::tuple<int>>(results["ok"].values()), std::make_tuple(25));
  stop();
  EXPECT_EQ(session_->stats().bad_frames, 4u);
}

TEST_F(SessionTest, ReconnectRequestSendsANewHelloWithRunningIds) {
  engine_->set_hold(true);
  start();
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome();
  broker_.tasks({make_task("r1", "session_test.square", {4})});
  // The task has reached the engine once the worker says so in a new hello.
  broker_.ask_reconnect();
  auto hello = broker_.expect(v1::WorkerMessage::kHello).hello();
  ASSERT_EQ(hello.running_size(), 1);
  EXPECT_EQ(hello.running(0), "r1");
  EXPECT_EQ(hello.credit(), 1u);  // one slot is busy
  broker_.welcome();
  engine_->release();
  auto results = broker_.results(1);
  EXPECT_EQ(decode<std::tuple<int>>(results["r1"].values()), std::make_tuple(16));
  stop();
  EXPECT_EQ(session_->stats().reconnects, 1u);
}

// Out of file descriptors when the link is made again (EMFILE: a task's process may hold
// many for a while), the worker used to exit, its running tasks with it; now it tries again
// each second and goes on once descriptors are free.
TEST_F(SessionTest, AReconnectOutOfFileDescriptorsIsTriedAgain) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // UBSan checks an exception's vtable through a pipe of its own (IsAccessibleMemoryRange):
  // with no descriptor left it reports every such object as invalid.
  GTEST_SKIP() << "the sanitizers' runtime needs file descriptors this test takes away";
#endif
  engine_->set_hold(true);
  start();
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome();
  broker_.tasks({make_task("r1", "session_test.square", {4})});
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &before), 0);
  int open_fds = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++open_fds;
  }
  rlimit tight = before;
  tight.rlim_cur = static_cast<rlim_t>(open_fds);  // no new descriptor at all
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  broker_.ask_reconnect();
  std::this_thread::sleep_for(1500ms);  // at least one try fails
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &before), 0);
  EXPECT_FALSE(returned_.load()) << status_;
  auto hello = broker_.expect(v1::WorkerMessage::kHello).hello();
  ASSERT_EQ(hello.running_size(), 1);
  EXPECT_EQ(hello.running(0), "r1");
  broker_.welcome();
  engine_->release();
  auto results = broker_.results(1);
  EXPECT_EQ(decode<std::tuple<int>>(results["r1"].values()), std::make_tuple(16));
  stop();
  EXPECT_TRUE(status_.ok()) << status_;
}

// The broker counts the time limit of a task that waits behind others from when those
// ahead of it end, and takes the tasks a hello lists in that order: they were listed in
// the order of a hash map, so a task still waiting could be taken for one running.
TEST_F(SessionTest, AHelloListsTheTasksItRunsInTheOrderItStartedThem) {
  engine_->set_hold(true);
  start(/*slots=*/1, /*prefetch=*/8);
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome();
  const std::vector<std::string> ids = {"t7", "t3", "t5", "t1", "t8", "t2", "t6", "t4"};
  std::vector<v1::Task> tasks;
  for (const std::string& id : ids) tasks.push_back(make_task(id, "session_test.square", {2}));
  broker_.tasks(tasks);
  broker_.ask_reconnect();
  auto hello = broker_.expect(v1::WorkerMessage::kHello).hello();
  EXPECT_THAT(hello.running(), ::testing::ElementsAreArray(ids));
  broker_.welcome();
  engine_->release();
  EXPECT_EQ(broker_.results(8).size(), 8u);
  stop();
}

// A second copy of a task (sent again after the broker took the first for lost) waits
// behind the tasks started before it: once the first copy ended, a hello listed the task
// in the first copy's place, ahead of them, and the broker armed its time limit early.
TEST_F(SessionTest, AHelloListsASecondCopyInItsOwnPlaceOnceTheFirstEnded) {
  engine_->set_hold(true);
  start(/*slots=*/1, /*prefetch=*/4);
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome();
  broker_.tasks({make_task("a", "session_test.square", {2}),
                 make_task("b", "session_test.square", {3})});
  ASSERT_TRUE(engine_->wait_held(2));
  broker_.tasks({make_task("a", "session_test.square", {2})});
  ASSERT_TRUE(engine_->wait_held(3));
  engine_->release_first();  // a's first copy
  EXPECT_EQ(broker_.results(1).count("a"), 1u);
  broker_.ask_reconnect();
  auto hello = broker_.expect(v1::WorkerMessage::kHello).hello();
  EXPECT_THAT(hello.running(), ::testing::ElementsAre("b", "a"));
  broker_.welcome();
  engine_->release();
  EXPECT_EQ(broker_.results(2).size(), 2u);
  stop();
}

TEST_F(SessionTest, SilentBrokerIsLostAndRecentResultsAreSentAgain) {
  start();
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome(/*heartbeat_ms=*/50, /*liveness=*/2);
  broker_.tasks({make_task("s1", "session_test.square", {6})});
  EXPECT_EQ(broker_.results(1).count("s1"), 1u);
  broker_.expect(v1::WorkerMessage::kHeartbeat);  // idle: the worker keeps the link alive
  // We answer nothing: after 2 x 50 ms the worker gives the broker up and says hello.
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome();
  auto again = broker_.results(1);
  EXPECT_EQ(decode<std::tuple<int>>(again["s1"].values()), std::make_tuple(36));
}

// A task whose process was killed and which the broker gave back to us to run again: a
// reconnect does not send the first run's loss again, which the broker would take for
// the second run's (failing it, or running it a third time).
TEST_F(SessionTest, AReconnectDoesNotResendTheLossOfATaskRunningAgain) {
  engine_->set_hold(true);
  start();
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome();
  broker_.tasks({make_task("r1", "session_test.square", {4})});
  ASSERT_TRUE(engine_->wait_held(1));
  engine_->lose_held();
  ASSERT_EQ(broker_.results(1)["r1"].failure().kind(), v1::ERROR_KIND_WORKER_LOST);
  broker_.tasks({make_task("r1", "session_test.square", {4})});  // attempt 1
  ASSERT_TRUE(engine_->wait_held(1));
  broker_.ask_reconnect();
  auto hello = broker_.expect(v1::WorkerMessage::kHello).hello();
  ASSERT_EQ(hello.running_size(), 1);
  broker_.welcome();
  engine_->release();
  auto results = broker_.results(1);
  ASSERT_FALSE(results["r1"].has_failure()) << results["r1"].failure().message();
  EXPECT_EQ(decode<std::tuple<int>>(results["r1"].values()), std::make_tuple(16));
  stop();
}

// After many results the hello listed every id among those sent lately, and with them
// grew past the frame a broker with a small --max-message-bytes takes (4 x it + 1 MiB):
// that broker dropped it, and the next, and the worker was never welcomed again.
TEST_F(SessionTest, AHelloAfterManyResultsStaysWithinTheFrameEveryBrokerTakes) {
  start();
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome();
  constexpr int kTasks = 40000;  // ids of 40 bytes: 1.7 MB of ids
  for (int first = 0; first < kTasks; first += 5000) {
    std::vector<v1::Task> tasks;
    for (int i = first; i < first + 5000; ++i) {
      tasks.push_back(make_task(absl::StrFormat("a-task-id-of-forty-bytes-%015d", i),
                                "session_test.square", {i % 100}));
    }
    broker_.tasks(std::move(tasks));
  }
  ASSERT_EQ(broker_.results(kTasks).size(), std::size_t{kTasks});
  broker_.ask_reconnect();
  auto hello = broker_.expect(v1::WorkerMessage::kHello).hello();
  EXPECT_LE(broker_.last_frame_bytes(), std::size_t{1} << 20);
  EXPECT_GT(hello.running_size(), 10000);  // as many as fit
  broker_.welcome();
  // The results are sent again, the listed ones and the others.
  EXPECT_EQ(broker_.results(kTasks).size(), std::size_t{kTasks});
  stop();
}

// A task that ended while the session read a Reconnect after its Tasks frame: its result
// was in the completion queue, not yet taken, and the new hello named it nowhere (neither
// running nor unsent), so the broker took it for lost and ran it again (or failed it).
TEST_F(SessionTest, AReconnectNamesATaskThatEndedJustBefore) {
  start();
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome();
  std::promise<void> in_submit, reconnect_sent;
  std::shared_future<void> sent = reconnect_sent.get_future().share();
  engine_->set_on_submit([this, &in_submit, sent] {
    in_submit.set_value();
    sent.wait();
    // On the session's thread: wait until the Reconnect frame is in the worker's socket.
    zmq::socket_t* socket = session_->socket_for_testing();
    ASSERT_NE(socket, nullptr);
    zmq::pollitem_t item{socket->handle(), 0, ZMQ_POLLIN, 0};
    ASSERT_EQ(zmq::poll(&item, 1, std::chrono::milliseconds(30s)), 1) << "no Reconnect";
  });
  broker_.tasks({make_task("e1", "session_test.square", {3})});
  in_submit.get_future().wait();
  engine_->set_on_submit(nullptr);
  broker_.ask_reconnect();
  reconnect_sent.set_value();  // e1 now ends, on the session's thread, before it reads on
  auto hello = broker_.expect(v1::WorkerMessage::kHello).hello();
  EXPECT_THAT(hello.running(), ::testing::ElementsAre("e1"));
  broker_.welcome();
  auto results = broker_.results(1);
  EXPECT_EQ(decode<std::tuple<int>>(results["e1"].values()), std::make_tuple(9));
  stop();
}

TEST_F(SessionTest, StopSaysByeFinishesRunningTasksAndReturns) {
  engine_->set_hold(true);
  start(/*slots=*/1, /*prefetch=*/2);
  EXPECT_EQ(broker_.expect(v1::WorkerMessage::kHello).hello().credit(), 2u);
  broker_.welcome();
  broker_.tasks({make_task("d1", "session_test.square", {9})});
  // In the engine, so the Welcome before it was read: a stop before a Welcome is read
  // says hello again (AStopBeforeTheWelcomeSaysHelloAgainWithNoCredit).
  ASSERT_TRUE(engine_->wait_held(1));
  std::uint64_t one = 1;
  ASSERT_EQ(write(stop_fd_, &one, sizeof(one)), 8);
  EXPECT_TRUE(broker_.expect(v1::WorkerMessage::kBye).bye().draining());
  engine_->release();
  std::uint32_t credit = 0;
  auto results = broker_.results(1, &credit);
  EXPECT_EQ(decode<std::tuple<int>>(results["d1"].values()), std::make_tuple(81));
  EXPECT_EQ(credit, 0u);  // a stopping worker asks for nothing more
  EXPECT_FALSE(broker_.expect(v1::WorkerMessage::kBye).bye().draining());  // it leaves
  thread_.join();
  EXPECT_TRUE(status_.ok()) << status_;
  // Sent over a live connection, the last frames were given their time to leave.
  EXPECT_EQ(session_->stats().exit_linger_ms, kExitLingerMs);
}

// A stop hands back at once what the engine has not started, to run elsewhere without an
// attempt spent (they waited for the drain and, killed at its deadline, cost a retry
// each, failing with WorkerLostError under max_retries 0); tasks the broker sent before
// it read the Bye go back as they come.
TEST_F(SessionTest, AStopHandsBackTheTasksNotStarted) {
  engine_->set_hold(true);
  engine_->set_started(1);
  start(/*slots=*/1, /*prefetch=*/4);
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome();
  std::vector<v1::Task> tasks;
  for (std::string id : {"a", "b", "c"}) {
    tasks.push_back(make_task(id, "session_test.square", {2}));
    tasks.back().set_lease(id == "b" ? 11 : 12);
  }
  broker_.tasks(tasks);
  ASSERT_TRUE(engine_->wait_held(3));
  std::uint64_t one = 1;
  ASSERT_EQ(write(stop_fd_, &one, sizeof(one)), 8);
  EXPECT_TRUE(broker_.expect(v1::WorkerMessage::kBye).bye().draining());
  auto back = broker_.expect(v1::WorkerMessage::kResults).results();
  EXPECT_EQ(back.results_size(), 0);
  ASSERT_EQ(back.returned_size(), 2);
  std::set<std::pair<std::string, std::uint64_t>> returned;
  for (const auto& r : back.returned()) returned.insert({r.id(), r.lease()});
  EXPECT_THAT(returned, ::testing::ElementsAre(std::pair<std::string, std::uint64_t>{"b", 11},
                                               std::pair<std::string, std::uint64_t>{"c", 12}));
  broker_.tasks({make_task("d", "session_test.square", {2})});  // sent before our Bye was read
  auto late = broker_.expect(v1::WorkerMessage::kResults).results();
  ASSERT_EQ(late.returned_size(), 1);
  EXPECT_EQ(late.returned(0).id(), "d");
  engine_->release();  // a ends
  auto results = broker_.results(1);
  EXPECT_EQ(decode<std::tuple<int>>(results["a"].values()), std::make_tuple(4));
  EXPECT_FALSE(broker_.expect(v1::WorkerMessage::kBye).bye().draining());
  thread_.join();
  EXPECT_EQ(session_->stats().returned, 3u);
}

// A stop while a hello is unanswered (the broker restarting) and a task runs: that hello
// granted credit, and the broker that welcomed it sent tasks before it read the Bye, which
// the draining worker then ran (or had killed at the drain deadline, a retry each).
TEST_F(SessionTest, AStopBeforeTheWelcomeSaysHelloAgainWithNoCredit) {
  engine_->set_hold(true);
  start();
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome();
  broker_.tasks({make_task("r1", "session_test.square", {4})});
  ASSERT_TRUE(engine_->wait_held(1));
  broker_.ask_reconnect();
  EXPECT_EQ(broker_.expect(v1::WorkerMessage::kHello).hello().credit(), 1u);
  std::uint64_t one = 1;
  ASSERT_EQ(write(stop_fd_, &one, sizeof(one)), 8);  // SIGTERM, still unwelcomed
  auto again = broker_.next(v1::WorkerMessage::kHello, 5s);
  ASSERT_TRUE(again) << "no new hello";
  EXPECT_EQ(again->hello().credit(), 0u);
  EXPECT_THAT(again->hello().running(), ::testing::ElementsAre("r1"));
  broker_.welcome();
  EXPECT_TRUE(broker_.expect(v1::WorkerMessage::kBye).bye().draining());
  engine_->release();
  EXPECT_EQ(decode<std::tuple<int>>(broker_.results(1)["r1"].values()), std::make_tuple(16));
  thread_.join();
  EXPECT_TRUE(status_.ok()) << status_;
}

// A worker whose broker never answered leaves without lingering on its unsent hello:
// the socket's queued frames kept shoal-worker 2 s after a SIGTERM.
TEST_F(SessionTest, AStopWithTheBrokerNeverReachedDoesNotWaitForQueuedFrames) {
  PlainPort refusing;  // bound, not listening: connections are refused
  ASSERT_TRUE(refusing.bound());
  endpoint_ = refusing.endpoint();
  start();
  stop();
  EXPECT_TRUE(status_.ok()) << status_;
  EXPECT_EQ(session_->stats().welcomes, 0u);
  EXPECT_EQ(session_->stats().exit_linger_ms, 0);
}

// Nor one whose broker's connection closed (its process killed, say): the Bye it says
// on stopping has nowhere to go.
TEST_F(SessionTest, AStopAfterTheBrokersConnectionClosedDoesNotWaitForQueuedFrames) {
  start();
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome();
  ASSERT_TRUE(wait_ready());
  const int port = port_of(broker_.endpoint());
  broker_.close();
  // ZeroMQ tries the port again only once it has seen the connection close: a listener
  // there that never speaks ZeroMQ proves the worker's socket saw it.
  PlainPort mute(port);
  ASSERT_TRUE(mute.bound());
  ASSERT_TRUE(mute.accept_one());
  stop();
  EXPECT_TRUE(status_.ok()) << status_;
  EXPECT_EQ(session_->stats().exit_linger_ms, 0);
}

// Found by review: credit travels as 32 bits, but a capacity past 2^32 (1,024 processes,
// --prefetch 2^23) was counted as given in full and sent cut: the hello offered 0 and the
// worker, owed 2^33, never offered more.
TEST_F(SessionTest, CreditPastThirtyTwoBitsIsOfferedAsMuchAsCanBeSaid) {
  start(/*slots=*/1024, /*prefetch=*/1 << 23);
  EXPECT_EQ(broker_.expect(v1::WorkerMessage::kHello).hello().credit(), UINT32_MAX);
  stop();
}

// Credit goes out in quarters of the capacity while busy, but never leaves a process
// slot idle: with 7 long tasks on 8 slots, a finished eighth task asked for nothing more
// (a quarter is 2), so its slot stayed idle while tasks waited at the broker.
TEST_F(SessionTest, AFreeSlotIsAlwaysOfferedWhileOthersAreBusy) {
  engine_->set_hold(true);
  start(/*slots=*/8, /*prefetch=*/1);
  EXPECT_EQ(broker_.expect(v1::WorkerMessage::kHello).hello().credit(), 8u);
  broker_.welcome();
  ASSERT_TRUE(wait_ready());
  std::vector<v1::Task> long_tasks;
  for (int i = 0; i < 7; ++i) {
    long_tasks.push_back(make_task("long" + std::to_string(i), "session_test.square", {i}));
  }
  broker_.tasks(long_tasks);
  ASSERT_TRUE(engine_->wait_held(7));
  engine_->set_hold(false);
  broker_.tasks({make_task("short", "session_test.square", {5})});
  std::uint32_t credit = 0;
  auto results = broker_.results(1, &credit);
  EXPECT_EQ(decode<std::tuple<int>>(results["short"].values()), std::make_tuple(25));
  EXPECT_EQ(credit, 1u);  // its slot is free again
  engine_->release();
}

// An engine whose processes are gone fails every task at once: the worker must not stay
// registered taking tasks (it answered each with WORKER_LOST, spending their retries
// while healthy workers waited). It drains, says Bye and returns kUnavailable.
TEST_F(SessionTest, AWorkerWhoseEngineStoppedLeaves) {
  start();
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome();
  ASSERT_TRUE(wait_ready());
  broker_.tasks({make_task("e1", "session_test.square", {4})});
  EXPECT_EQ(decode<std::tuple<int>>(broker_.results(1)["e1"].values()), std::make_tuple(16));
  engine_->set_failure("the pool stopped: its zygote process 7 was killed by signal SIGKILL");
  EXPECT_TRUE(broker_.expect(v1::WorkerMessage::kBye).bye().draining());
  EXPECT_FALSE(broker_.expect(v1::WorkerMessage::kBye).bye().draining());
  thread_.join();
  EXPECT_TRUE(absl::IsUnavailable(status_)) << status_;
  EXPECT_THAT(std::string(status_.message()), ::testing::HasSubstr("zygote"));
}

// While it drains, the broker keeps the worker's tasks leased to it only as long as it
// hears from it: a silent worker's tasks would run elsewhere too.
TEST_F(SessionTest, DrainingWorkerKeepsSendingHeartbeats) {
  engine_->set_hold(true);
  start();
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome(/*heartbeat_ms=*/20, /*liveness=*/2);
  broker_.tasks({make_task("long", "session_test.square", {2})});
  ASSERT_TRUE(engine_->wait_held(1));
  std::uint64_t one = 1;
  ASSERT_EQ(write(stop_fd_, &one, sizeof(one)), 8);
  EXPECT_TRUE(broker_.expect(v1::WorkerMessage::kBye).bye().draining());
  broker_.expect(v1::WorkerMessage::kHeartbeat);
  broker_.expect(v1::WorkerMessage::kHeartbeat);
  engine_->release();
  EXPECT_EQ(decode<std::tuple<int>>(broker_.results(1)["long"].values()), std::make_tuple(4));
  EXPECT_FALSE(broker_.expect(v1::WorkerMessage::kBye).bye().draining());
  thread_.join();
  EXPECT_TRUE(status_.ok()) << status_;
}

TEST_F(SessionTest, AfterByeAReconnectRequestIsIgnoredAndResultsStillArrive) {
  engine_->set_hold(true);
  start();
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome(/*heartbeat_ms=*/20, /*liveness=*/2);
  broker_.tasks({make_task("late", "session_test.square", {3})});
  ASSERT_TRUE(engine_->wait_held(1));
  std::uint64_t one = 1;
  ASSERT_EQ(write(stop_fd_, &one, sizeof(one)), 8);
  broker_.expect(v1::WorkerMessage::kBye);
  v1::BrokerMessage reconnect;
  reconnect.mutable_reconnect()->set_reason("unknown worker");
  broker_.send(reconnect);
  engine_->release();
  // The result arrives, and no new hello from a leaving worker.
  auto results = broker_.results(1);
  EXPECT_EQ(decode<std::tuple<int>>(results["late"].values()), std::make_tuple(9));
  thread_.join();
  EXPECT_EQ(session_->stats().reconnects, 0u);
}

// A result the broker would not take (its frame would make the broker drop the
// connection, and the worker would send it again forever) fails its task instead, once.
TEST_F(SessionTest, AResultAboveTheBrokersLimitFailsItsTaskAndTheSessionGoesOn) {
  start();
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome(1000, 3, /*max_message_bytes=*/1000);
  v1::Task big = make_task("big", "session_test.blob", {5000});
  big.set_lease(0x700000001ull);
  broker_.tasks({big, make_task("small", "session_test.blob", {10})});
  auto results = broker_.results(2);
  const v1::TaskResult& failed = results["big"];
  EXPECT_EQ(failed.failure().kind(), v1::ERROR_KIND_RESOURCE_EXHAUSTED);
  // The encoded result: 5,000 bytes of value and a few of framing and fields.
  EXPECT_THAT(failed.failure().message(),
              ::testing::MatchesRegex("the task's result is 50[0-9][0-9] bytes, more than the "
                                      "broker's limit of 1000 \\(shoal-broker "
                                      "--max-message-bytes\\)"));
  EXPECT_EQ(failed.failure().where(), "testhost:42");
  EXPECT_TRUE(failed.values().empty());
  EXPECT_EQ(failed.lease(), 0x700000001ull);
  EXPECT_EQ(failed.attempts(), 1u);
  EXPECT_EQ(decode<std::tuple<std::string>>(results["small"].values()),
            std::make_tuple(std::string(10, 'x')));
  broker_.tasks({make_task("after", "session_test.square", {3})});
  EXPECT_EQ(decode<std::tuple<int>>(broker_.results(1)["after"].values()), std::make_tuple(9));
  stop();
  EXPECT_EQ(session_->stats().reconnects, 0u);
}

// Results that are each small enough are split over frames that stay within the limit.
TEST_F(SessionTest, ResultsShareAFrameOnlyWithinTheBrokersLimit) {
  engine_->set_hold(true);
  start(/*slots=*/1, /*prefetch=*/10);
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.welcome(1000, 3, /*max_message_bytes=*/1000);
  std::vector<v1::Task> tasks;
  for (int i = 0; i < 10; ++i)
    tasks.push_back(make_task("b" + std::to_string(i), "session_test.blob", {300}));
  broker_.tasks(tasks);
  ASSERT_TRUE(engine_->wait_held(10));
  // Until the next Welcome the results wait, and then leave together.
  v1::BrokerMessage reconnect;
  reconnect.mutable_reconnect();
  broker_.send(reconnect);
  broker_.expect(v1::WorkerMessage::kHello);
  engine_->release();
  broker_.welcome(1000, 3, /*max_message_bytes=*/1000);
  std::set<std::string> ids;
  int most_in_a_frame = 0;
  while (ids.size() < 10) {
    auto m = broker_.expect(v1::WorkerMessage::kResults);
    EXPECT_LE(broker_.last_frame_bytes(), 1000u);
    most_in_a_frame = std::max(most_in_a_frame, m.results().results_size());
    for (const auto& r : m.results().results()) {
      EXPECT_EQ(r.values().size(), 304u) << r.id();  // [str 300]: none failed
      ids.insert(r.id());
    }
  }
  EXPECT_EQ(most_in_a_frame, 2);  // ~330 bytes each: still batched, two to a frame
}

// Another live process holds the name: the worker says hello again for retry_ms (it may
// be its own crashed former process, not yet known gone), then gives up for good.
TEST_F(SessionTest, RefusedNameIsFatalAfterRetryMs) {
  hello_retry_ = 50ms;
  start();
  auto hello = broker_.expect(v1::WorkerMessage::kHello).hello();
  EXPECT_EQ(hello.instance(), "instance-1");
  broker_.refuse(/*retry_ms=*/200);
  int hellos = 1;
  auto give_up = std::chrono::steady_clock::now() + 30s;
  while (!returned_) {
    if (std::chrono::steady_clock::now() > give_up) {
      stop();  // the session still says hello: end it, and fail
      FAIL() << "still saying hello 30 s after a refusal with retry_ms = 200";
    }
    if (!broker_.next(v1::WorkerMessage::kHello, 100ms)) continue;
    ++hellos;
    broker_.refuse(200);
  }
  thread_.join();
  EXPECT_GE(hellos, 2);  // the first refusal is never the last word
  EXPECT_EQ(status_.code(), absl::StatusCode::kAlreadyExists) << status_;
  EXPECT_THAT(std::string(status_.message()),
              ::testing::HasSubstr("refuses this worker: the name 'w1' belongs to a live "
                                   "worker (elsewhere:7)"));
  EXPECT_FALSE(ready_);
}

// Refused until the broker has declared the name's holder lost, then welcomed.
TEST_F(SessionTest, RefusedWorkerIsWelcomedOnceTheNameIsFree) {
  hello_retry_ = 50ms;
  start();
  broker_.expect(v1::WorkerMessage::kHello);
  broker_.refuse(/*retry_ms=*/60000);
  // Each hello comes on a new socket: welcome them until one Welcome is in time.
  auto give_up = std::chrono::steady_clock::now() + 30s;
  while (!wait_ready(0ms)) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "no hello after the refusal";
    auto hello = broker_.next(v1::WorkerMessage::kHello, 100ms);
    if (!hello) continue;
    EXPECT_EQ(hello->hello().instance(), "instance-1");
    broker_.welcome();
  }
  broker_.tasks({make_task("t", "session_test.square", {8})});
  EXPECT_EQ(decode<std::tuple<int>>(broker_.results(1)["t"].values()), std::make_tuple(64));
}

TEST_F(SessionTest, MalformedEndpointIsFatal) {
  done_ = *CompletionQueue::create();
  runner_ = std::make_unique<TaskRunner>(engine_, "w1", done_.get());
  SessionConfig config;
  config.broker = "nonsense://x";
  WorkerSession session(config, context_, *runner_, *done_, log_);
  int fd = eventfd(0, EFD_CLOEXEC);
  EXPECT_FALSE(session.run(fd, [] {}).ok());
  close(fd);
}

}  // namespace
}  // namespace shoal::worker
