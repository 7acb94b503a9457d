// SharedRegion and the owner-word lock under every mp/ primitive.
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "shared/mp/futex.h"
#include "shoal/sync.hpp"

namespace shoal::internal {
namespace {

constexpr uint32_t kWaiters = 0x80000000u;
constexpr uint32_t kIdMask = 0x7fffffffu;
constexpr int kSpins = 200;
// How often a blocked waiter checks whether the holder still lives.
constexpr auto kDeathCheck = std::chrono::milliseconds(50);

}  // namespace

std::shared_ptr<SharedRegion> SharedRegion::create(std::size_t bytes, bool reserve_only) {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::size_t size = (bytes + page - 1) / page * page;
  if (size == 0) size = page;
  int flags = MAP_SHARED | MAP_ANONYMOUS | (reserve_only ? MAP_NORESERVE : 0);
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (p == MAP_FAILED) {
    throw Error("shoal: cannot map " + std::to_string(size) +
                " bytes of shared memory: " + std::strerror(errno));
  }
  return std::shared_ptr<SharedRegion>(new SharedRegion(static_cast<std::byte*>(p), size));
}

SharedRegion::~SharedRegion() { ::munmap(data_, size_); }

uint32_t self_pid_u32() { return static_cast<uint32_t>(self_pid()); }
uint32_t self_tid_u32() { return static_cast<uint32_t>(self_tid()); }

namespace {

// owner_try_acquire, taking a free word with `flags` (kWaiters, for a caller that was
// asleep in the word: a wake-up it took may have been meant for another sleeper, whose
// wake-up must then come from our release).
bool try_acquire(std::atomic<uint32_t>* word, uint32_t self, TaskKind kind, uint32_t flags) {
  uint32_t held = 0;
  if (word->compare_exchange_strong(held, self | flags, std::memory_order_acquire,
                                    std::memory_order_relaxed)) {
    return true;
  }
  // Held: by a holder that is dead, the lock is ours (keeping the waiters' flag, so that
  // our release wakes the next one). A failed try costs a look at the holder's /proc.
  if (task_alive(static_cast<pid_t>(held & kIdMask), kind)) return false;
  return word->compare_exchange_strong(held, self | flags | (held & kWaiters),
                                       std::memory_order_acquire, std::memory_order_relaxed);
}

}  // namespace

bool owner_try_acquire(std::atomic<uint32_t>* word, uint32_t self, TaskKind kind) {
  return try_acquire(word, self, kind, 0);
}

bool owner_acquire(std::atomic<uint32_t>* word, uint32_t self, const Deadline& deadline,
                   TaskKind kind) {
  if (owner_try_acquire(word, self, kind)) return true;
  for (int i = 0; i < kSpins; ++i) {
    cpu_relax();
    if (word->load(std::memory_order_relaxed) == 0 && owner_try_acquire(word, self, kind)) {
      return true;
    }
  }
  for (;;) {
    uint32_t w = word->load(std::memory_order_relaxed);
    if (w == 0) {
      // We may not be the only waiter: keep the flag so our release wakes the next one.
      uint32_t expected = 0;
      if (word->compare_exchange_strong(expected, self | kWaiters, std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
        return true;
      }
      continue;
    }
    if (!(w & kWaiters)) {
      if (!word->compare_exchange_weak(w, w | kWaiters, std::memory_order_relaxed)) continue;
      w |= kWaiters;
    }
    auto slice = std::chrono::steady_clock::now() + kDeathCheck;
    bool deadline_first = deadline && *deadline < slice;
    bool woken = futex_wait(word, w, deadline_first ? deadline : Deadline(slice));
    if (!woken) {
      if (deadline_first) return try_acquire(word, self, kind, kWaiters);
      // A slice passed with the same holder: take the lock over if the holder is dead.
      uint32_t now = word->load(std::memory_order_relaxed);
      if (now == w && !task_alive(static_cast<pid_t>(w & kIdMask), kind)) {
        if (word->compare_exchange_strong(now, self | kWaiters, std::memory_order_acquire,
                                          std::memory_order_relaxed)) {
          return true;
        }
      }
    }
    if (expired(deadline)) return try_acquire(word, self, kind, kWaiters);
  }
}

uint32_t owner_release(std::atomic<uint32_t>* word) {
  uint32_t prev = word->exchange(0, std::memory_order_release);
  if (prev & kWaiters) futex_wake(word, 1);
  return prev;
}

}  // namespace shoal::internal
