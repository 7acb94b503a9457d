#pragma once
// Helpers of the tests that drive the local Engine directly (engine_*_test.cc): a job
// that blocks until the test writes to a pipe, and waiting for a flag.

#include <atomic>
#include <cstdint>
#include <memory>

#include "shared/engine/engine.h"

namespace shoal::engine::testing {

// A job (sequence `seq`, ending in `sink`) whose task blocks until a byte can be read
// from `fd`, then returns `seq`.
Job gated_job(std::uint64_t seq, int fd, std::shared_ptr<internal::Sink> sink);

// Waits (10 s at most) until `flag` is set; false if it never was.
bool within_10s(const std::atomic<bool>& flag);

}  // namespace shoal::engine::testing
