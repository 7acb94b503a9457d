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
// Tasks in one SubmitBatch, ids in one Watch: a broker refuses a message with more
// (a few bytes each on the wire, they would be a hundred or more each in its memory).
inline constexpr std::size_t kMaxSessionEntries = 100'000;

}  // namespace shoal::internal
