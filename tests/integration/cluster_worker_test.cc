// Workers coming and going, end to end: SIGTERM drains a worker without running its
// tasks twice, and a worker's name is its identity (a second process under a live
// worker's name is refused; a restarted one gets its name back once the old is gone).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "shoal/shoal.hpp"
#include "tests/integration/cluster.h"
#include "tests/integration/test_tasks.h"

namespace shoal::itest {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// A worker named `name` outside the Cluster's bookkeeping (which keeps one process per
// name), its stderr on the pipe ChildProcess reads (through sh).
std::unique_ptr<testutil::ChildProcess> start_unlisted_worker(Cluster& cluster,
                                                              const std::string& name) {
  return testutil::ChildProcess::start(
      {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", worker_bin(), "--broker=" + cluster.workers(),
       "--processes=1", "--name=" + name, "--log-level=warning"},
      {"SHOAL_TEST_WORKER_NAME=" + name});
}

// What `process` prints until it exits (or 30 s pass).
std::vector<std::string> output_until_exit(testutil::ChildProcess& process) {
  std::vector<std::string> lines;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto line = process.read_line(std::max(left, 0ms));
    if (!line) return lines;  // end of output, or the deadline
    lines.push_back(*line);
  }
}

// The pids whose parent is `parent` (from /proc).
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;  // gone meanwhile
    // pid (comm) state ppid ...: comm may hold spaces and parentheses; the last ')' ends it.
    const std::size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    char state = 0;
    pid_t ppid = 0;
    if (rest >> state >> ppid && ppid == parent) children.push_back(std::stoi(name));
  }
  return children;
}

// Stops the thread named `name` of process `pid` (ptrace), its other threads running
// on, until this goes away. ok() is false when it could not (no such thread, or ptrace
// not permitted here).
class ThreadStop {
 public:
  ThreadStop(pid_t pid, const std::string& name) {
    const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
    for (const auto& entry : std::filesystem::directory_iterator(tasks)) {
      std::string comm;
      std::getline(std::ifstream(entry.path() / "comm"), comm);
      if (comm == name) tid_ = std::stoi(entry.path().filename());
    }
    if (tid_ <= 0 || ptrace(PTRACE_SEIZE, tid_, nullptr, nullptr) != 0) {
      tid_ = -1;
      return;
    }
    int status = 0;
    if (ptrace(PTRACE_INTERRUPT, tid_, nullptr, nullptr) != 0 ||
        waitpid(tid_, &status, __WALL) != tid_) {
      ptrace(PTRACE_DETACH, tid_, nullptr, nullptr);
      tid_ = -1;
    }
  }
  ~ThreadStop() {
    if (tid_ > 0) ptrace(PTRACE_DETACH, tid_, nullptr, nullptr);
  }
  ThreadStop(const ThreadStop&) = delete;
  ThreadStop& operator=(const ThreadStop&) = delete;
  bool ok() const { return tid_ > 0; }

 private:
  pid_t tid_ = -1;
};

// docs/DESIGN.md: the broker's loop busy for seconds while ZeroMQ's threads serve on. A
// worker starting meanwhile says hello, gets no Welcome, and says it again on a new
// connection every second, closing the last one, whose descriptor the next one gets. On
// waking the loop read all the hellos at once: each registered the worker and was given
// the waiting task, and the next one, not naming it, took it for lost: with
// max_retries 0 it failed WORKER_LOST without having run.
TEST(ClusterWorkerTest, ATaskWaitingThroughALoopStallRunsOnceOnTheWorkersLiveConnection) {
  Cluster cluster;
  cluster.start_broker();
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  const std::string runs = cluster.temp_dir() + "/runs";
  TaskOptions once;
  once.max_retries = 0;
  auto f = pool.with(once).apply_async(record, runs, std::string("q"));
  ASSERT_TRUE(cluster.wait_stats([](const v1::Stats& s) { return s.queued() == 1; }));
  std::unique_ptr<testutil::ChildProcess> worker;
  {
    ThreadStop stall(cluster.broker().pid(), "shoal-loop");
    if (!stall.ok()) GTEST_SKIP() << "cannot stop the broker's loop thread (ptrace)";
    worker = start_unlisted_worker(cluster, "w1");
    // The stall itself, not a wait for something: hellos at 0 s and after each second.
    std::this_thread::sleep_for(3500ms);
  }
  EXPECT_EQ(f.get(30s), 0);
  EXPECT_EQ(read_lines(runs), std::vector<std::string>{"q"});
  v1::Stats stats = cluster.stats();
  EXPECT_EQ(stats.failed(), 0u);
  EXPECT_EQ(stats.retried(), 0u);
}

// SIGTERM drains: the worker's running task finishes there and nowhere else (it used to
// be re-queued at the Bye, counted as retried, and run a second time on another worker),
// and the draining worker gets nothing new although it has a free process.
TEST(ClusterWorkerTest, SigtermDrainsTheRunningTaskWithoutRunningItTwice) {
  Cluster cluster;
  cluster.start_broker();
  auto& w1 = cluster.start_worker("w1", 2);
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  std::string runs = cluster.temp_dir() + "/runs", gate_file = cluster.temp_dir() + "/gate";
  auto f = pool.apply_async(logged_gate, runs, gate_file);
  ASSERT_TRUE(wait_for_lines(runs, 1));  // running on w1
  cluster.start_worker("w2", 1);
  w1.signal(SIGTERM);
  // The broker has read the Bye once it shows w1 draining (or, as it used to, gone).
  auto give_up = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    auto info = cluster.worker_info("w1");
    if (!info || info->draining()) break;
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "the broker never saw the Bye";
    std::this_thread::sleep_for(5ms);
  }
  v1::Stats stats = cluster.stats();
  EXPECT_EQ(stats.retried(), 0u);
  EXPECT_EQ(stats.queued(), 0u);
  EXPECT_EQ(stats.running(), 1u);
  std::vector<Future<std::string>> others;
  for (int i = 0; i < 6; ++i) others.push_back(pool.apply_async(whoami, i));
  for (auto& other : others) EXPECT_EQ(other.get(30s), "w2");
  std::ofstream(gate_file) << "open";
  EXPECT_EQ(f.get(30s), 1);
  EXPECT_EQ(w1.wait(30s), 0);
  ASSERT_TRUE(cluster.wait_stats([](const v1::Stats& s) { return s.workers() == 1; }));
  EXPECT_EQ(read_lines(runs), std::vector<std::string>{"w1"});
  EXPECT_EQ(cluster.stats().retried(), 0u);
}

// SIGTERM hands the prefetched tasks a worker has not started back to the broker, which
// runs them elsewhere at once with no attempt spent (they waited for the drain, and a
// task still waiting at its deadline was killed and cost a retry: under max_retries 0
// it failed with WorkerLostError without having run).
TEST(ClusterWorkerTest, SigtermHandsThePrefetchedTasksBackToRunElsewhereAtOnce) {
  Cluster cluster;
  cluster.start_broker();
  auto& w1 = cluster.start_worker("w1", 1, "default", {"--prefetch=4"});
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  Pool once = pool.with(TaskOptions{"", 0, {}, /*max_retries=*/0});
  std::string runs = cluster.temp_dir() + "/runs", gate_file = cluster.temp_dir() + "/gate";
  auto f = pool.apply_async(logged_gate, runs, gate_file);
  ASSERT_TRUE(wait_for_lines(runs, 1));  // running on w1
  std::vector<Future<std::string>> others;
  for (int i = 0; i < 3; ++i) others.push_back(once.apply_async(whoami, i));
  ASSERT_TRUE(cluster.wait_stats([](const v1::Stats& s) { return s.running() == 4; }));
  cluster.start_worker("w2", 1);
  w1.signal(SIGTERM);
  for (auto& other : others) EXPECT_EQ(other.get(30s), "w2");  // while w1's gate is shut
  EXPECT_EQ(cluster.stats().retried(), 0u);
  std::ofstream(gate_file) << "open";
  EXPECT_EQ(f.get(30s), 1);
  EXPECT_EQ(w1.wait(30s), 0);
  EXPECT_EQ(cluster.stats().retried(), 0u);
}

// Ctrl-C in a terminal signals the whole foreground process group: the worker drains,
// but its task processes, in its group, were killed by the SIGINT (the task failed with
// WorkerLostError while the worker's log still spoke of a drain). They are in a group of
// their own now. The worker here leads a session of its own (setsid), as a shell job does.
TEST(ClusterWorkerTest, SigintToTheWorkersProcessGroupDrainsItsRunningTask) {
  Cluster cluster;
  cluster.start_broker();
  auto w1 = testutil::ChildProcess::start(
      {"/bin/sh", "-c", "exec setsid \"$0\" \"$@\"", worker_bin(),
       "--broker=" + cluster.workers(), "--processes=1", "--name=w1", "--log-level=warning"},
      {"SHOAL_TEST_WORKER_NAME=w1"});
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  std::string runs = cluster.temp_dir() + "/runs", gate_file = cluster.temp_dir() + "/gate";
  auto f = pool.apply_async(logged_gate, runs, gate_file);
  ASSERT_TRUE(wait_for_lines(runs, 1));  // running on w1
  ASSERT_EQ(getpgid(w1->pid()), w1->pid());  // its own group, not the test's
  ASSERT_EQ(kill(-w1->pid(), SIGINT), 0);
  auto give_up = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    auto info = cluster.worker_info("w1");
    ASSERT_TRUE(info.has_value()) << "w1 left instead of draining";
    if (info->draining()) break;
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "the broker never saw the Bye";
    std::this_thread::sleep_for(5ms);
  }
  std::ofstream(gate_file) << "open";
  EXPECT_EQ(f.get(30s), 1);
  EXPECT_EQ(w1->wait(30s), std::optional<int>(0));
  EXPECT_EQ(read_lines(runs), std::vector<std::string>{"w1"});
  EXPECT_EQ(cluster.stats().retried(), 0u);
}

// What a draining worker cannot finish by its deadline is killed and retried elsewhere.
TEST(ClusterWorkerTest, ATaskStillRunningAtTheDrainDeadlineIsRetriedElsewhere) {
  Cluster cluster;
  cluster.start_broker();
  auto& w1 = cluster.start_worker("w1", 1, "default", {"--drain-timeout-ms=100"});
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  std::string runs = cluster.temp_dir() + "/runs", gate_file = cluster.temp_dir() + "/gate";
  auto f = pool.apply_async(logged_gate, runs, gate_file);
  ASSERT_TRUE(wait_for_lines(runs, 1));
  cluster.start_worker("w2", 1);
  w1.signal(SIGTERM);
  EXPECT_EQ(w1.wait(30s), 0);
  ASSERT_TRUE(wait_for_lines(runs, 2));  // the second run, on w2
  std::ofstream(gate_file) << "open";
  EXPECT_EQ(f.get(30s), 1);
  EXPECT_EQ(read_lines(runs), (std::vector<std::string>{"w1", "w2"}));
  EXPECT_EQ(cluster.stats().retried(), 1u);
}

// A worker whose task processes are gone (its zygote killed: the OOM killer, a stray
// kill) cannot run anything: it used to stay registered, granting credit and failing
// every task it got at once with WorkerLostError, spending their retries while a healthy
// worker waited. It leaves and exits 1, for its supervisor to start it again.
TEST(ClusterWorkerTest, AWorkerWhoseProcessesAreGoneLeavesAndExits) {
  Cluster cluster;
  cluster.start_broker();
  auto& w1 = cluster.start_worker("w1", 1);
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  EXPECT_EQ(pool.apply(whoami, 0), "w1");
  const std::vector<pid_t> zygote = children_of(w1.pid());
  ASSERT_EQ(zygote.size(), 1u);
  ASSERT_EQ(kill(zygote[0], SIGKILL), 0);
  EXPECT_EQ(w1.wait(30s), std::optional<int>(1));
  cluster.start_worker("w2", 1);
  std::vector<Future<std::string>> others;
  for (int i = 0; i < 20; ++i) others.push_back(pool.apply_async(whoami, i));
  for (auto& other : others) EXPECT_EQ(other.get(30s), "w2");
  EXPECT_EQ(cluster.stats().retried(), 0u);
}

// Two processes under one name used to knock each other off the broker in turn, and a
// task ran in both. The second is refused: it exits 3 with one line saying why, and the
// first keeps its connection and its running task.
TEST(ClusterWorkerTest, ASecondProcessUnderALiveWorkersNameIsRefusedAndExits) {
  Cluster cluster;
  cluster.start_broker();
  auto& w1 = cluster.start_worker("w1", 1);
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  std::string runs = cluster.temp_dir() + "/runs", gate_file = cluster.temp_dir() + "/gate";
  auto f = pool.apply_async(logged_gate, runs, gate_file);
  ASSERT_TRUE(wait_for_lines(runs, 1));  // running on w1
  auto second = start_unlisted_worker(cluster, "w1");
  std::vector<std::string> output = output_until_exit(*second);
  std::string all;
  for (const auto& line : output) all += line + "\n";
  EXPECT_EQ(second->wait(10s), std::optional<int>(3)) << all;
  ASSERT_FALSE(output.empty());
  EXPECT_THAT(output.back(), HasSubstr("shoal-worker: the broker at " + cluster.workers() +
                                       " refuses this worker: the name 'w1' belongs to a "
                                       "live worker"));
  EXPECT_THAT(output.back(), HasSubstr(std::to_string(w1.pid()) +
                                       "); give each worker its own --name"));
  EXPECT_THAT(all, ::testing::Not(HasSubstr("shoal-worker ready")));
  auto info = cluster.worker_info("w1");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->pid(), static_cast<std::uint64_t>(w1.pid()));
  EXPECT_EQ(info->running(), 1u);
  std::ofstream(gate_file) << "open";
  EXPECT_EQ(f.get(30s), 1);
  EXPECT_EQ(read_lines(runs), std::vector<std::string>{"w1"});
  EXPECT_EQ(cluster.stats().retried(), 0u);
  EXPECT_EQ(pool.apply(square, 6), 36);  // the first serves on
}

// A worker restarted under its name while the broker still counts the old process as
// live (hung, or cut off: silent, its connection open) is refused until the broker
// declares the old one lost, then welcomed.
TEST(ClusterWorkerTest, ARestartedWorkerGetsItsNameBackOnceTheOldOneIsKnownGone) {
  Cluster cluster;
  cluster.use_quick_loss();
  cluster.start_broker();  // a silent worker is lost after 3 x 200 ms
  auto& old = cluster.start_worker("w1", 1);
  old.signal(SIGSTOP);
  auto restarted = start_unlisted_worker(cluster, "w1");
  ASSERT_TRUE(restarted->wait_for_line("shoal-worker ready name=w1", 30s));
  auto info = cluster.worker_info("w1");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->pid(), static_cast<std::uint64_t>(restarted->pid()));
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  EXPECT_EQ(pool.apply(square, 7), 49);
  EXPECT_EQ(cluster.stats().workers(), 1u);
}

// A worker's stderr whose reader went away (`shoal-worker ... 2>&1 | tee` with tee gone, a
// restarted log shipper): its next log line killed it with SIGPIPE, here the "registered"
// line at its first Welcome, at a broker's restart, or at the "stopping" of a SIGTERM
// (no drain, no results, no Bye).
TEST(ClusterWorkerTest, AWorkerWhoseLogReaderIsGoneServesAndStops) {
  Cluster cluster;
  cluster.start_broker();
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  close(fds[0]);                      // nobody reads what the worker logs
  ASSERT_EQ(fcntl(fds[1], F_SETFD, 0), 0);  // inherited by the worker (as its stderr)
  auto worker = testutil::ChildProcess::start(
      {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&" + std::to_string(fds[1]), worker_bin(),
       "--broker=" + cluster.workers(), "--processes=1", "--name=w1", "--log-level=info"},
      {"SHOAL_TEST_WORKER_NAME=w1"});
  close(fds[1]);
  auto line = worker->read_line(20s);
  ASSERT_TRUE(line) << "the worker exited: " << worker->wait(5s).value_or(999);
  EXPECT_EQ(*line, "shoal-worker ready name=w1 slots=1 queues=default");
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  EXPECT_EQ(pool.apply_async(square, 7).get(30s), 49);
  worker->signal(SIGTERM);
  EXPECT_EQ(worker->wait(30s), 0);
}

// A task name longer than a hello may carry (the broker drops such a hello): the worker
// said that hello again and again and was never welcomed, its other tasks never ran.
TEST(ClusterWorkerTest, ATaskNameTooLongForTheBrokerIsNotServedAndTheOthersAre) {
  Cluster cluster;
  cluster.start_broker();
  auto worker = testutil::ChildProcess::start(
      {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", SHOAL_STOCK_WORKER_BIN,
       "--broker=" + cluster.workers(), "--processes=1", "--name=w1", "--log-level=warning",
       std::string("--load=") + SHOAL_LONG_NAME_TASKS});
  auto warning = worker->read_line(20s);
  ASSERT_TRUE(warning);
  EXPECT_THAT(*warning, HasSubstr("is not served: its name is 1100 bytes, more than 1024"));
  auto ready = worker->read_line(20s);
  ASSERT_TRUE(ready);
  EXPECT_EQ(*ready, "shoal-worker ready name=w1 slots=1 queues=default");
  Pool pool = Pool::connect(cluster.clients());
  TerminateOnFailure guard(pool);
  EXPECT_EQ(pool.apply_async<int>("long_name.triple", 5).get(30s), 15);
}

}  // namespace
}  // namespace shoal::itest
