// Requests a client gave up on: a call that gets no reply within its wait plus the
// reply margin throws ConnectionError, and the server, once it reads the request, must
// not give that request a lock or a queue item nobody will take. The server is stopped
// (SIGSTOP) to make it late, as a wedged or overloaded one would be. Every case runs on
// both endpoints, with the client holding another lock meanwhile or not: over tcp that
// keeps its connection open (the server takes a lock holder's closed connection for its
// death), else the connection closes as the call gives up.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <tuple>

#include "shoal/manager.hpp"

namespace shoal {
namespace {

using namespace std::chrono_literals;

// Parameters: the endpoint ("private" or "tcp"), and whether another lock is held.
class ManagerCancelTest : public ::testing::TestWithParam<std::tuple<const char*, bool>> {
 protected:
  void SetUp() override {
    manager_ = std::string(std::get<0>(GetParam())) == "tcp" ? Manager::serve("tcp://127.0.0.1:0")
                                                             : Manager();
    held_ = manager_.lock();
    if (std::get<1>(GetParam())) held_.acquire();
  }
  void TearDown() override {
    if (std::get<1>(GetParam())) held_.release();
  }

  // Runs `call` while the server is stopped; it must give up with ConnectionError.
  template <class F>
  void give_up_on(F call) {
    const pid_t server = *manager_.server_pid();
    ASSERT_EQ(::kill(server, SIGSTOP), 0);
    EXPECT_THROW(call(), ConnectionError);
    ASSERT_EQ(::kill(server, SIGCONT), 0);
  }

  Manager manager_;
  LockProxy held_;
};

// Before, a free lock went to the abandoned acquire (over tcp to the connection kept
// open for `held_`) and stayed held for ever.
TEST_P(ManagerCancelTest, AnAcquireGivenUpOnDoesNotTakeTheLock) {
  auto lock = manager_.lock();
  give_up_on([&] { lock.acquire(100ms); });
  bool got = false;
  std::thread([&] { got = lock.acquire(30s); }).join();  // another thread, another connection
  EXPECT_TRUE(got);
  lock.release();
}

// Before, the item went to the abandoned get and was lost.
TEST_P(ManagerCancelTest, AGetGivenUpOnLosesNoItem) {
  auto queue = manager_.queue<int>();
  queue.put(7);
  queue.put(8);
  give_up_on([&] { queue.get(100ms); });
  // The server reads the cancel when it can; a get of another connection read before
  // it would take 8 first (7 is then given back behind it: nothing lost, order not kept).
  auto give_up = std::chrono::steady_clock::now() + 30s;
  while (queue.qsize() != 2 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(queue.qsize(), 2u) << "the abandoned get's item never came back";
  std::optional<int> first, second;
  std::thread([&] {
    try {
      first = queue.get(30s);
      second = queue.get(30s);
    } catch (const Empty&) {
    }
  }).join();
  EXPECT_EQ(first, 7);  // in its place
  EXPECT_EQ(second, 8);
}

INSTANTIATE_TEST_SUITE_P(Endpoints, ManagerCancelTest,
                         ::testing::Combine(::testing::Values("private", "tcp"), ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) ? "_holding_a_lock" : "");
                         });

}  // namespace
}  // namespace shoal
