#include "shared/zmq_term.h"

#include <future>
#include <thread>
#include <utility>

namespace shoal::internal {

bool terminate_within(zmq::context_t context, std::chrono::milliseconds bound) {
  std::promise<void> done;
  std::future<void> finished = done.get_future();
  std::thread terminator([context = std::move(context), done = std::move(done)]() mutable {
    context.close();  // zmq_ctx_term
    done.set_value();
  });
  if (finished.wait_for(bound) == std::future_status::ready) {
    terminator.join();
    return true;
  }
  terminator.detach();
  return false;
}

}  // namespace shoal::internal
