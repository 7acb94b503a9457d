#pragma once
// Bounds on the names that travel between clients, broker and workers: the broker keeps
// names for as long as it runs, so none may be of any length or number. Checked where
// names enter (TaskOptions, shoal-worker's flags) and again by the broker.
#include <cstddef>

namespace shoal::internal {

inline constexpr std::size_t kMaxNameBytes = 256;      // a worker's name, a queue's name
inline constexpr std::size_t kMaxQueuesPerWorker = 256;
inline constexpr std::size_t kMaxTaskNameBytes = 1024;
inline constexpr std::size_t kMaxTaskIdBytes = 1024;  // ids come back in every answer

}  // namespace shoal::internal
