#pragma once
// Keeps MiB-sized payload buffers in glibc's heap instead of fresh mmap()ed pages.
//
// Big arguments and results (W4: 1 MiB each way) otherwise make glibc map and unmap, or
// grow and trim, fresh pages for every buffer, and the page faults cost a third of the
// transfer time. Used by the local pool, the remote client, the broker and the worker.

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

namespace shoal::internal {

// Once per process: buffers up to 32 MiB come from the heap and up to 256 MiB of freed
// heap stays mapped. Does nothing when the user tunes malloc already (GLIBC_TUNABLES
// mentions malloc) or sets SHOAL_MALLOC_TUNING=0. Thread-safe.
inline void tune_malloc_for_payloads() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* opt_out = std::getenv("SHOAL_MALLOC_TUNING");
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    if (opt_out && std::strcmp(opt_out, "0") == 0) return;
    if (tunables && std::strstr(tunables, "malloc")) return;
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
  });
}

}  // namespace shoal::internal
