// Signals the owner process handles: they neither stop a Manager's server nor fail calls.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "shoal/manager.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;

int g_handler_pipe = -1;  // the write end the test's handler writes to

// The test program's own handler: notes each signal it sees in the pipe.
void note_signal(int) {
  if (g_handler_pipe >= 0) (void)!::write(g_handler_pipe, "s", 1);
}

// Installs note_signal for `sig` for the test's life, then puts the old action back.
class HandledSignal {
 public:
  explicit HandledSignal(int sig) : sig_(sig) {
    EXPECT_EQ(::pipe2(fds_, O_CLOEXEC | O_NONBLOCK), 0);
    g_handler_pipe = fds_[1];
    struct sigaction action {};
    action.sa_handler = note_signal;
    sigemptyset(&action.sa_mask);
    ::sigaction(sig_, &action, &old_);
  }
  ~HandledSignal() {
    ::sigaction(sig_, &old_, nullptr);
    g_handler_pipe = -1;
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  // How many signals the handler saw, in any process sharing the pipe.
  int seen() {
    char buf[256];
    ssize_t n = ::read(fds_[0], buf, sizeof buf);
    return n > 0 ? static_cast<int>(n) : 0;
  }

 private:
  int sig_;
  int fds_[2] = {-1, -1};
  struct sigaction old_ {};
};

// A signal the owner handles, sent to its server (a terminal's SIGWINCH, a SIGTERM to the
// process group): the server goes on serving, and the owner's handler does not run there.
TEST(ManagerSignalTest, AHandledSignalNeitherStopsTheServerNorRunsTheOwnersHandler) {
  for (const char* endpoint : {"", "tcp://127.0.0.1:0"}) {
    SCOPED_TRACE(endpoint);
    HandledSignal handled(SIGUSR1);
    Manager m = *endpoint ? Manager::serve(endpoint) : Manager();
    auto d = m.dict<int, int>();
    d.set(1, 10);
    for (int i = 0; i < 5; ++i) {
      ASSERT_EQ(::kill(*m.server_pid(), SIGUSR1), 0);
      std::this_thread::sleep_for(5ms);
    }
    EXPECT_EQ(d.get(1), 10);  // it answers: it did not exit
    d.set(2, 20);
    EXPECT_EQ(d.get(2), 20);
    EXPECT_EQ(handled.seen(), 0);
  }
}

// Over tcp, a blocking get interrupted by signals the caller's process handles (a child's
// SIGCHLD, say) still waits for its item: no ConnectionError, and no item lost.
TEST(ManagerSignalTest, InterruptedTcpCallsNeitherFailNorLoseItems) {
  HandledSignal handled(SIGUSR1);
  Manager m = Manager::serve("tcp://127.0.0.1:0");
  auto q = m.queue<int>();
  constexpr int kItems = 200;
  const pthread_t caller = ::pthread_self();
  std::atomic<bool> done{false};
  std::thread interrupter([&] {
    while (!done.load()) {
      ::pthread_kill(caller, SIGUSR1);
      std::this_thread::sleep_for(300us);
    }
  });
  std::thread producer([q]() mutable {
    for (int i = 0; i < kItems; ++i) {
      q.put(i);
      if (i % 20 == 0) std::this_thread::sleep_for(2ms);  // so that gets wait
    }
  });
  int got = 0;
  std::string error;
  try {
    for (; got < kItems; ++got) {
      if (q.get(30s) != got) break;
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  done = true;
  interrupter.join();
  producer.join();
  EXPECT_EQ(error, "");
  EXPECT_EQ(got, kItems);
  EXPECT_GT(handled.seen(), 0);  // the caller was interrupted
}

}  // namespace
}  // namespace shoal
