#pragma once
// Private pieces of Engine shared by engine.cc and engine_collect.cc.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "shared/engine/engine.h"

namespace shoal::engine {

// The pool-side shadow of one task record.
struct Engine::Inflight {
  Job job;                     // args already copied into shared memory
  std::uint32_t gen = 1;       // the record's current generation
  std::uint64_t ring_pos = 0;  // where its token was last pushed
  std::size_t slab_offset = 0;
  std::size_t slab_size = 0;  // 0: arguments inline
  int attempts = 0;           // re-runs so far
  bool active = false;
  bool timed_out = false;  // killed for its time limit; the death is expected
};

// A failure of a whole job, or none; behind a pointer, since outcomes are mostly
// successes and every collection round moves a vector of them.
struct OutcomeError : std::unique_ptr<internal::ErrorInfo> {
  OutcomeError() = default;
  OutcomeError(std::nullopt_t) {}  // NOLINT: as std::optional converts
  OutcomeError(internal::ErrorInfo error)  // NOLINT: as std::optional converts
      : std::unique_ptr<internal::ErrorInfo>(
            std::make_unique<internal::ErrorInfo>(std::move(error))) {}
};

// A sink to resolve once the engine lock is released.
struct Engine::Outcome {
  std::shared_ptr<internal::Sink> sink;
  std::size_t index = 0;
  std::string reply;
  OutcomeError error;
};

// Freed slab blocks this large go back to the kernel; smaller ones stay warm.
inline constexpr std::size_t kReleaseBytes = std::size_t{32} << 20;
// Arguments this large are copied into the slab outside the engine lock.
inline constexpr std::size_t kStageBytes = std::size_t{64} << 10;
// A pool with no worker alive whose forks of workers kept failing this long stops.
inline constexpr std::int64_t kForkFailureLimitNs = 10'000'000'000;
// Replies collected per ring in one round (bounds a poll()).
inline constexpr std::size_t kDrainBatch = 256;

// "<what> 12 was killed by signal SIGKILL (Killed)" / "<what> 12 exited with code 3".
std::string describe_death(const char* what, pid_t pid, int wait_status);

}  // namespace shoal::engine
