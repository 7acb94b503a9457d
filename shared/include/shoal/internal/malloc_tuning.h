#pragma once
// Keeps MiB-sized payload buffers in glibc's heap instead of fresh mmap()ed pages.
//
// Big arguments and results (W4: 1 MiB each way) otherwise make glibc map and unmap, or
// grow and trim, fresh pages for every buffer, and the page faults cost a third of the
// transfer time. Used by the local pool, the remote client, the broker and the worker.

#include <malloc.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace shoal::internal {

// False when the user tunes malloc already (GLIBC_TUNABLES mentions malloc) or sets
// SHOAL_MALLOC_TUNING=0.
inline bool malloc_tuning_allowed() {
  const char* opt_out = std::getenv("SHOAL_MALLOC_TUNING");
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (opt_out && std::strcmp(opt_out, "0") == 0) return false;
  return !(tunables && std::strstr(tunables, "malloc"));
}

// Once per process: buffers up to 32 MiB come from the heap and up to 256 MiB of freed
// heap stays mapped. Does nothing unless malloc_tuning_allowed(). Thread-safe.
inline void tune_malloc_for_payloads() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (!malloc_tuning_allowed()) return;
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
  });
}

// Once per process, for processes that also run an IdleMemoryRelease (broker, worker,
// remote client): tune_malloc_for_payloads, and freed memory stays mapped in every
// thread's arena too. glibc otherwise unmaps a thread arena's emptied 64 MiB heaps at
// once, and the next burst of payloads faults every page in again (W4 faulted each
// payload byte in 2-5 times per process). Does nothing unless malloc_tuning_allowed().
// Thread-safe.
inline void retain_payload_memory_until_idle() {
  tune_malloc_for_payloads();
  static std::once_flag once;
  std::call_once(once, [] {
    if (malloc_tuning_allowed()) mallopt(M_TOP_PAD, 64 << 20);  // a thread heap's size
  });
}

// Decides when to give freed heap memory back to the kernel: once per idle spell, when
// its owner has had nothing to do for `idle_ms` since it was last busy (memory that
// retain_payload_memory_until_idle keeps mapped while busy is then released). Not
// thread-safe: one owner calls due().
class IdleMemoryRelease {
 public:
  explicit IdleMemoryRelease(int64_t idle_ms = 5000) : idle_ms_(idle_ms) {}

  // Reports the owner busy or not at `now_ms` (any monotonic clock); true when the
  // caller should call release() now. Never true before the first busy report.
  bool due(bool busy, int64_t now_ms) {
    if (busy) {
      busy_ms_ = now_ms;
      pending_ = true;
      return false;
    }
    if (!pending_ || now_ms - busy_ms_ < idle_ms_) return false;
    pending_ = false;
    return true;
  }

  // Returns free pages of every arena to the kernel (may take milliseconds when much is
  // free); glibc keeps the free top of each thread arena's last heap (< 64 MiB).
  // Thread-safe.
  static void release() { malloc_trim(0); }

 private:
  int64_t idle_ms_;
  int64_t busy_ms_ = 0;   // when last reported busy
  bool pending_ = false;  // busy since the last release
};

}  // namespace shoal::internal
