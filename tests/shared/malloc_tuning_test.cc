// IdleMemoryRelease's timing, and what retain_payload_memory_until_idle() and release()
// do to a thread's freed payload memory.
#include "shoal/internal/malloc_tuning.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace shoal::internal {
namespace {

TEST(IdleMemoryReleaseTest, DueOnceForEachIdleSpellThatFollowsWork) {
  IdleMemoryRelease idle(5000);
  EXPECT_FALSE(idle.due(false, 0));
  EXPECT_FALSE(idle.due(false, 60'000)) << "nothing to give back before any work";
  EXPECT_FALSE(idle.due(true, 60'100));
  EXPECT_FALSE(idle.due(false, 65'099));
  EXPECT_TRUE(idle.due(false, 65'100));
  EXPECT_FALSE(idle.due(false, 65'200)) << "once per idle spell";
  EXPECT_FALSE(idle.due(false, 200'000));
  EXPECT_FALSE(idle.due(true, 300'000));
  EXPECT_FALSE(idle.due(true, 304'000));
  EXPECT_FALSE(idle.due(false, 308'999)) << "counted from the last busy report";
  EXPECT_TRUE(idle.due(false, 309'000));
}

std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  if (f != nullptr) {
    if (std::fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kGlibcMalloc = false;  // the sanitizer's allocator ignores mallopt
#else
constexpr bool kGlibcMalloc = true;
#endif

TEST(IdleMemoryReleaseTest, PayloadMemoryAThreadFreedStaysMappedUntilReleased) {
  if (!kGlibcMalloc) GTEST_SKIP() << "needs glibc's allocator";
  if (!malloc_tuning_allowed()) GTEST_SKIP() << "malloc tuning switched off in the environment";
  retain_payload_memory_until_idle();
  constexpr std::size_t kPayload = 1 << 20, kCount = 160;  // spans three 64 MiB thread heaps
  std::size_t before = resident_bytes();
  std::size_t after_free = 0;
  // A thread of its own, so the buffers come from a thread arena, whose emptied heaps
  // glibc would otherwise unmap as soon as they are freed.
  std::thread([&] {
    std::vector<char*> buffers;
    for (std::size_t i = 0; i < kCount; ++i) {
      buffers.push_back(static_cast<char*>(std::malloc(kPayload)));
      std::memset(buffers.back(), 1, kPayload);
    }
    for (char* b : buffers) std::free(b);
    after_free = resident_bytes();
  }).join();
  EXPECT_GT(after_free, before + kCount * kPayload * 3 / 4) << "freed payload memory was unmapped";
  IdleMemoryRelease::release();
  // All but the free top of the arena's last heap (glibc's malloc_trim gives back free
  // chunks of thread arenas, not their top): at most 64 MiB stays.
  EXPECT_LT(resident_bytes(), before + kCount * kPayload / 2) << "release() kept it";
}

}  // namespace
}  // namespace shoal::internal
