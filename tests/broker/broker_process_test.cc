// The shoal-broker binary as users run it: ephemeral ports read from its first stdout
// line, a worker and a client on loopback, SIGTERM for a clean exit.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "fake_worker.h"
#include "gtest/gtest.h"
#include "tests/testutil/process_fixture.h"
#include "tests/testutil/temp_dir.h"

extern char** environ;

namespace shoal::broker {
namespace {

using testing::FakeWorker;
using testing::make_context;
using testing::make_stub;

// A child shoal-broker, killed (SIGKILL, by pid) and reaped when the test ends, however it
// ends; it gets SIGKILL too if the test process dies first (PR_SET_PDEATHSIG).
class BrokerProcess {
 public:
  // Starts the broker with `flags`; its stderr is kept for stderr_text() when
  // `capture_stderr`, else inherited.
  explicit BrokerProcess(std::vector<std::string> flags, bool capture_stderr = false) {
    int out[2];
    int err[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) != 0) return;
    if (capture_stderr && pipe2(err, O_CLOEXEC) != 0) {
      ::close(out[0]);
      ::close(out[1]);
      return;
    }
    // Everything the child needs is made before fork: after it, only system calls.
    std::vector<std::string> args = {SHOAL_BROKER_BINARY};
    args.insert(args.end(), flags.begin(), flags.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      dup2(out[1], STDOUT_FILENO);
      if (capture_stderr) dup2(err[1], STDERR_FILENO);
      execve(argv[0], argv.data(), environ);
      _exit(127);
    }
    ::close(out[1]);
    stdout_ = out[0];
    if (capture_stderr) {
      ::close(err[1]);
      stderr_ = err[0];
    }
    if (pid_ < 0) pid_ = -1;
  }
  ~BrokerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    if (stdout_ >= 0) ::close(stdout_);
    if (stderr_ >= 0) ::close(stderr_);
  }
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  // Everything the broker wrote to stderr (captured), read until it closed: call it
  // once the process has exited.
  std::string stderr_text() {
    std::string text;
    char buffer[4096];
    ssize_t n;
    while (stderr_ >= 0 && (n = read(stderr_, buffer, sizeof buffer)) > 0) text.append(buffer, n);
    return text;
  }
  // The first stdout line, or "" if none came within 30 s (a hang guard) or stdout closed.
  std::string first_line() {
    std::string line;
    char c;
    const auto give_up = std::chrono::steady_clock::now() + kExitBound;
    while (line.empty() || line.back() != '\n') {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          give_up - std::chrono::steady_clock::now());
      pollfd p{stdout_, POLLIN, 0};
      const int n = poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || read(stdout_, &c, 1) != 1) return "";
      line += c;
    }
    return line;
  }
  // Sends SIGTERM and returns the exit status (as from waitpid).
  int terminate() {
    kill(pid_, SIGTERM);
    return wait_exit();
  }
  // Waits for the process to exit by itself and returns its status (as from waitpid).
  // One still running after 30 s (a hang guard) fails the test and is killed.
  int wait_exit() {
    if (pid_ <= 0) return -1;
    const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      int n;
      do {
        n = poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kExitBound).count()));
      } while (n < 0 && errno == EINTR);
      ::close(pidfd);
      if (n == 0) {
        ADD_FAILURE() << "shoal-broker (pid " << pid_ << ") still running after 30 s; killed";
        kill(pid_, SIGKILL);
      }
    }
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }
  pid_t pid() const { return pid_; }

 private:
  static constexpr std::chrono::seconds kExitBound{30};
  pid_t pid_ = -1;
  int stdout_ = -1;
  int stderr_ = -1;
};

TEST(BrokerProcessTest, PrintsEndpointsServesAndExitsCleanlyOnSigterm) {
  BrokerProcess broker({"--client-address=127.0.0.1:0", "--worker-address=tcp://127.0.0.1:0",
                        "--log-level=warning"});
  ASSERT_GT(broker.pid(), 0);
  std::string line = broker.first_line();
  // Expect exactly "shoal-broker listening clients=127.0.0.1:P workers=tcp://127.0.0.1:Q\n".
  const std::string prefix = "shoal-broker listening clients=";
  ASSERT_EQ(line.rfind(prefix, 0), 0u) << "first line: " << line;
  ASSERT_EQ(line.back(), '\n');
  size_t space = line.find(' ', prefix.size());
  ASSERT_NE(space, std::string::npos) << line;
  std::string clients = line.substr(prefix.size(), space - prefix.size());
  ASSERT_EQ(line.compare(space, 9, " workers="), 0) << line;
  std::string workers = line.substr(space + 9, line.size() - space - 10);
  auto is_loopback_port = [](const std::string& endpoint, const std::string& scheme) {
    std::string head = scheme + "127.0.0.1:";
    return endpoint.rfind(head, 0) == 0 && endpoint.size() > head.size() &&
           endpoint.find_first_not_of("0123456789", head.size()) == std::string::npos;
  };
  EXPECT_TRUE(is_loopback_port(clients, "")) << clients;
  EXPECT_TRUE(is_loopback_port(workers, "tcp://")) << workers;

  zmq::context_t context;
  FakeWorker worker(context, workers);
  worker.hello("w1");
  ASSERT_TRUE(worker.next()->has_welcome());
  auto stub = make_stub(clients);
  shoal::v1::Stats stats;
  auto c1 = make_context();
  ASSERT_TRUE(stub->GetStats(c1.get(), {}, &stats).ok());
  EXPECT_EQ(stats.workers(), 1u);

  int status = broker.terminate();
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  auto shutdown = worker.next();
  ASSERT_TRUE(shutdown.has_value());
  EXPECT_TRUE(shutdown->has_shutdown());
}

TEST(BrokerProcessTest, RequiresTheAuthTokenWhenGiven) {
  BrokerProcess broker({"--client-address=127.0.0.1:0", "--worker-address=tcp://127.0.0.1:0",
                        "--auth-token=abc"});
  std::string line = broker.first_line();
  auto at = line.find("clients=");
  ASSERT_NE(at, std::string::npos) << line;
  std::string clients = line.substr(at + 8, line.find(' ', at) - at - 8);
  auto stub = make_stub(clients);
  shoal::v1::Stats stats;
  auto without = make_context();
  EXPECT_EQ(stub->GetStats(without.get(), {}, &stats).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  auto with = make_context("abc");
  EXPECT_TRUE(stub->GetStats(with.get(), {}, &stats).ok());
}

TEST(BrokerProcessTest, RejectsBadFlagsWithExitCode2) {
  // An unreadable or empty certificate never falls back to plaintext.
  for (std::vector<std::string> flags :
       {std::vector<std::string>{"--log-level=loud"},
        {"--heartbeat-ms=0"},
        {"--no-such-flag=1"},
        {"--worker-address=tcp://127.0.0.1:99999"},  // not port 34463
        {"--tls-cert=/nonexistent/cert.pem", "--tls-key=/nonexistent/key.pem"},
        {"--tls-cert=/dev/null", "--tls-key=/dev/null"}}) {
    // Free ports first: a broker that wrongly starts listens, says so, and is killed.
    flags.insert(flags.begin(),
                 {"--client-address=127.0.0.1:0", "--worker-address=tcp://127.0.0.1:0"});
    BrokerProcess broker(flags);
    std::string line = broker.first_line();
    EXPECT_EQ(line, "") << flags[2] << " was accepted";
    if (!line.empty()) continue;
    int status = broker.wait_exit();
    ASSERT_TRUE(WIFEXITED(status)) << flags[2] << ": status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 2) << flags[2];
  }
}

// Every flag error is one line naming the flag as it is spelled, and exit status 2:
// Abseil's parser said "ERROR: Illegal value '1.5' specified for flag 'heartbeat_ms'"
// and exited 1, and took neither "--heartbeat-ms 500" nor a missing value.
TEST(BrokerProcessTest, EveryFlagErrorIsOneLineNamingTheFlagAndExitCode2) {
  struct Case {
    std::vector<std::string> flags;
    std::string error;
  };
  const std::string int32 = "an integer in -2147483648..2147483647";
  const std::string uint64 = "an integer in 0..18446744073709551615";
  for (const Case& c : std::vector<Case>{
           {{"--heartbeat-ms=abc"}, "--heartbeat-ms: 'abc' is not " + int32},
           {{"--heartbeat-ms=1.5"}, "--heartbeat-ms: '1.5' is not " + int32},
           {{"--max-queued=-1"}, "--max-queued: '-1' is not " + uint64},
           {{"--result-memory-mb=99999999999999999999"},
            "--result-memory-mb: '99999999999999999999' is not " + uint64},
           {{"--max-message-bytes=-1"}, "--max-message-bytes: '-1' is not " + uint64},
           {{"--auth-token"}, "--auth-token needs a value"},
           {{"--auth-token", "--log-level=warning"}, "--auth-token needs a value"},
           {{"--auth-token-file=/nonexistent/token"},
            "--auth-token-file: cannot read '/nonexistent/token': No such file or directory"},
           {{"--auth-token-file=/dev/null"}, "--auth-token-file: '/dev/null' is empty"},
           {{"--auth-token=a", "--auth-token-file=/dev/null"},
            "--auth-token and --auth-token-file: give one"},
           {{"--heartbeat-ms=1"}, "--heartbeat-ms must be in 50..60000, not 1"},
           {{"--liveness=101"}, "--liveness must be in 2..100, not 101"},
           {{"--max-queued=0"}, "--max-queued must be at least 1, not 0"},
           {{"--result-memory-mb=0"},
            "--result-memory-mb must be at least 64 (room for one result of "
            "--max-message-bytes), not 0"},
           {{"--version"}, "unknown flag '--version' (see --help)"},
           {{"-v"}, "unknown flag '-v' (see --help)"},
       }) {
    std::vector<std::string> flags = {"--client-address=127.0.0.1:0",
                                      "--worker-address=tcp://127.0.0.1:0"};
    flags.insert(flags.end(), c.flags.begin(), c.flags.end());
    BrokerProcess broker(flags, /*capture_stderr=*/true);
    std::string line = broker.first_line();
    EXPECT_EQ(line, "") << c.flags[0] << " was accepted";
    if (!line.empty()) continue;
    int status = broker.wait_exit();
    ASSERT_TRUE(WIFEXITED(status)) << c.flags[0] << ": status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 2) << c.flags[0];
    EXPECT_EQ(broker.stderr_text(), "shoal-broker: " + c.error + "\n") << c.flags[0];
  }
}

// A value may follow its flag after a space, as for shoal-worker and shoal.
TEST(BrokerProcessTest, TakesAValueAfterASpace) {
  BrokerProcess broker({"--client-address", "127.0.0.1:0", "--worker-address",
                        "tcp://127.0.0.1:0", "--heartbeat-ms", "500", "--log_level", "warning"});
  std::string line = broker.first_line();
  EXPECT_EQ(line.rfind("shoal-broker listening clients=127.0.0.1:", 0), 0u) << line;
  int status = broker.terminate();
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(BrokerProcessTest, FailsWithExitCode1OnACertificateThatIsNotPem) {
  char path[] = "/tmp/shoal-not-pem-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "not a certificate\n", 18), 18);
  close(fd);
  BrokerProcess broker({"--client-address=127.0.0.1:0", "--worker-address=tcp://127.0.0.1:0",
                        std::string("--tls-cert=") + path, std::string("--tls-key=") + path});
  int status = broker.wait_exit();
  unlink(path);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 1);
}

TEST(BrokerProcessTest, FailsWithExitCode1WhenTheWorkerPortIsTaken) {
  BrokerProcess first({"--client-address=127.0.0.1:0", "--worker-address=tcp://127.0.0.1:0"});
  std::string line = first.first_line();
  auto at = line.find("workers=");
  ASSERT_NE(at, std::string::npos) << line;
  std::string workers = line.substr(at + 8, line.size() - at - 9);
  BrokerProcess second({"--client-address=127.0.0.1:0", "--worker-address=" + workers});
  int status = second.wait_exit();
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 1);
}

TEST(BrokerProcessTest, FailsWithExitCode1WhenTheClientPortIsTaken) {
  BrokerProcess first({"--client-address=127.0.0.1:0", "--worker-address=tcp://127.0.0.1:0"});
  std::string line = first.first_line();
  auto at = line.find("clients=");
  ASSERT_NE(at, std::string::npos) << line;
  std::string clients = line.substr(at + 8, line.find(' ', at) - at - 8);
  // Without SO_REUSEPORT off, this one would listen beside the first.
  BrokerProcess second({"--client-address=" + clients, "--worker-address=tcp://127.0.0.1:0"},
                       /*capture_stderr=*/true);
  std::string second_line = second.first_line();
  ASSERT_EQ(second_line, "") << "a second broker started on " << clients;
  int status = second.wait_exit();
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 1);
  // One line, as for the worker port: gRPC's own log of the bind is not on stderr.
  EXPECT_EQ(second.stderr_text(), "shoal-broker: UNAVAILABLE: cannot listen for clients on " +
                                      clients + ": Address already in use\n");
}

TEST(BrokerProcessTest, TheSameAddressForClientsAndWorkersIsAOneLineError) {
  std::string port = std::to_string(testutil::free_port());
  BrokerProcess broker(
      {"--client-address=127.0.0.1:" + port, "--worker-address=tcp://127.0.0.1:" + port},
      /*capture_stderr=*/true);
  int status = broker.wait_exit();
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_EQ(broker.stderr_text(),
            "shoal-broker: UNAVAILABLE: cannot listen for clients on "
            "127.0.0.1:" +
                port + ": Address already in use\n");
}

TEST(BrokerProcessTest, FailsWithExitCode1OnAStoreItCannotUse) {
  testutil::TempDir temp("shoal-bad-store");
  std::string not_a_journal = temp.path() + "/journal";
  FILE* f = fopen(not_a_journal.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("someone else's file\n", f);
  fclose(f);
  // Below a file, so it cannot be created; and a directory holding some other journal.
  for (std::string dir : {not_a_journal + "/store", temp.path()}) {
    BrokerProcess broker({"--client-address=127.0.0.1:0", "--worker-address=tcp://127.0.0.1:0",
                          "--store-dir=" + dir});
    int status = broker.wait_exit();
    ASSERT_TRUE(WIFEXITED(status)) << dir << ": status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 1) << dir;
  }
}

}  // namespace
}  // namespace shoal::broker
