#pragma once
// SharedMemory (API.md §6): a named POSIX shared-memory segment (shm_open), so unrelated
// processes — separate executables — can share bytes by name.
//
//   shoal::SharedMemory shm("my-seg", 4096, /*create=*/true);   // creator
//   shoal::SharedMemory view("my-seg", 0, /*create=*/false);    // elsewhere: attach
//   view.buf()[0] = std::byte{42};
//   shm.unlink();                                               // when everyone is done
//
// The segment outlives every process until unlink() (as with Python's SharedMemory, no
// one unlinks it for you). Handles are copyable: copies share this process's mapping,
// which close() unmaps (for every copy) and the last copy's destructor unmaps too.
// Not thread-safe to close() while another thread uses buf().

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "shoal/errors.hpp"

namespace shoal {

class SharedMemory {
 public:
  // name: without a leading '/', at most 255 bytes. create: makes a new segment of
  // `size` bytes (zero filled), shoal::Error if one with that name exists, size is 0 or
  // it cannot be mapped (then nothing is left behind). Attach
  // (create = false): shoal::Error if it does not exist; size 0 means the segment's size,
  // a larger size than the segment's is an error. size() reports the real size.
  SharedMemory(std::string name, std::size_t size, bool create);

  const std::string& name() const;
  std::size_t size() const;
  // The mapped bytes; empty after close().
  std::span<std::byte> buf();
  // Unmaps this process's view (every copy).
  void close();
  // Removes the name; processes attached keep their mappings. shoal::Error if the
  // name is already gone.
  void unlink();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace shoal
