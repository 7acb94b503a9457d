#pragma once
// Process-shared futex waits on 32-bit words in MAP_SHARED memory, and small helpers
// every mp/ primitive uses: deadlines, spinning, and "is the owner still alive?".

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

#include "shoal/sync.hpp"

namespace shoal::internal {

// Sleeps while *word == expected, until woken or `deadline` passes (nullopt: forever).
// Returns false only when the deadline passed; spurious returns are possible.
bool futex_wait(std::atomic<uint32_t>* word, uint32_t expected, const Deadline& deadline);
// Wakes up to `count` waiters on `word` (any process).
void futex_wake(std::atomic<uint32_t>* word, int count);

// True when `deadline` is set and has passed.
bool expired(const Deadline& deadline);

// The longest a sleeper sleeps before it looks at what it waits for again. A process
// killed between changing a shared state and its futex_wake() (or woken and killed
// before acting on it) leaves the others asleep: a lost wake-up costs at most this.
inline constexpr auto kSleepSlice = std::chrono::milliseconds(100);
// One sleep of a waiter bound by `deadline`: the deadline or kSleepSlice from now,
// whichever comes first.
Deadline sleep_slice(const Deadline& deadline);

// One spin-loop pause (the x86 `pause` instruction, or a compiler barrier elsewhere).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
}

// The calling process's pid, cached (refreshed in fork() children by an atfork handler).
pid_t self_pid();
// Refreshes self_pid()'s cache: for a child made without fork()'s atfork handlers
// (_Fork, clone), which otherwise goes on with its parent's pid. Async-signal-safe.
void refresh_self_pid();
// The calling thread's kernel tid (unique system-wide), cached per thread.
pid_t self_tid();

// False when process (`kind` kProcess: a thread group, which lives while any of its
// threads does) or thread `id` no longer runs: gone, or a zombie not yet reaped. Without
// pidfds and /proc (a sandbox), a zombie not yet reaped counts as alive.
bool task_alive(pid_t id, TaskKind kind);

}  // namespace shoal::internal
