#include "tests/client/engine_test_util.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <tuple>
#include <utility>

#include "shoal/task.hpp"

namespace shoal::engine::testing {
namespace {

// Blocks until the test writes a byte to the pipe whose read end is `fd`, then returns `v`.
int wait_for_byte(int fd, int v) {
  char c;
  while (read(fd, &c, 1) < 0 && errno == EINTR) {
  }
  return v;
}
SHOAL_TASK_AS(wait_for_byte, "engine_test.wait_for_byte");

}  // namespace

Job gated_job(std::uint64_t seq, int fd, std::shared_ptr<internal::Sink> sink) {
  const internal::TaskEntry* task = internal::find_task("engine_test.wait_for_byte");
  Job job;
  job.seq = seq;
  job.invoke = task->invoke;
  job.fn = task->fn;
  internal::encode_args<false>(job.args, std::tuple<int, int>{fd, int(seq)});
  job.sink = std::move(sink);
  return job;
}

bool within_10s(const std::atomic<bool>& flag) {
  for (auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       !flag.load() && std::chrono::steady_clock::now() < give_up;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return flag.load();
}

}  // namespace shoal::engine::testing
