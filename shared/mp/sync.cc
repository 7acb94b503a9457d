// Lock, RLock, Semaphore and Event: small states in their own shared regions.
#include "shoal/sync.hpp"

#include <limits>
#include <stdexcept>

#include "shared/mp/futex.h"

namespace shoal {
namespace {

constexpr uint32_t kIdMask = 0x7fffffffu;
constexpr int kSpins = 200;

}  // namespace

internal::Slot internal::new_slot() {
  auto region = internal::SharedRegion::create(internal::kSlotBytes);
  void* at = region->data();
  return internal::Slot{std::move(region), at};
}

// ---- Lock -----------------------------------------------------------------------------
// The owner word holds the holder's pid (for death detection); the next word of the slot
// holds the tid of the thread that acquired it, for Condition's holder check and for
// re-entry; the third, for a re-entrant lock, the levels held (touched by the holder only).

Lock::Lock() : Lock(internal::new_slot()) {}

Lock::Lock(internal::Slot slot, bool recursive)
    : region_(std::move(slot.region)),
      word_(static_cast<std::atomic<uint32_t>*>(slot.at)),
      recursive_(recursive) {}

std::atomic<uint32_t>* Lock::tid_word() const { return word_ + 1; }
std::atomic<uint32_t>* Lock::depth_word() const { return word_ + 2; }

bool Lock::acquired(bool acquired) {
  if (acquired) {
    tid_word()->store(internal::self_tid_u32(), std::memory_order_relaxed);
    depth_word()->store(1, std::memory_order_relaxed);  // also after a dead holder's levels
  }
  return acquired;
}

void Lock::acquire() { acquire_until(std::nullopt); }

bool Lock::acquire_until(const internal::Deadline& deadline) {
  if (recursive_ && held_by_this_thread()) {
    depth_word()->fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  return acquired(internal::owner_acquire(word_, internal::self_pid_u32(), deadline));
}

bool Lock::try_acquire() {
  if (recursive_ && held_by_this_thread()) {
    depth_word()->fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  return acquired(internal::owner_try_acquire(word_, internal::self_pid_u32()));
}

void Lock::release() {
  if (recursive_) {
    if (!held_by_this_thread()) {
      throw std::logic_error(
          "shoal::Lock::release: the calling thread does not hold this re-entrant lock");
    }
    if (depth_word()->fetch_sub(1, std::memory_order_relaxed) > 1) return;
  }
  tid_word()->store(0, std::memory_order_relaxed);  // before: then it is the next holder's
  if (internal::owner_release(word_) == 0) {
    throw std::logic_error("shoal::Lock::release: the lock is not held");
  }
}

uint32_t Lock::release_save() {
  const uint32_t levels = recursive_ ? depth_word()->load(std::memory_order_relaxed) : 1;
  if (recursive_) depth_word()->store(1, std::memory_order_relaxed);
  release();
  return levels;
}

void Lock::acquire_restore(uint32_t levels) {
  acquire();
  if (recursive_) depth_word()->store(levels, std::memory_order_relaxed);
}

bool Lock::locked() const { return word_->load(std::memory_order_relaxed) != 0; }

bool Lock::held_by_this_thread() const {
  // A thread sees its own tid there only while it holds the lock: it clears the word
  // before releasing, and only holders write it.
  return (word_->load(std::memory_order_relaxed) & kIdMask) == internal::self_pid_u32() &&
         tid_word()->load(std::memory_order_relaxed) == internal::self_tid_u32();
}

// ---- RLock ----------------------------------------------------------------------------

struct RLock::State {
  std::atomic<uint32_t> word;  // owner tid | waiters bit
  uint32_t count;              // touched by the owner only
};

RLock::RLock() : region_(internal::SharedRegion::create(sizeof(State))) {
  state_ = reinterpret_cast<State*>(region_->data());
}

void RLock::acquire() { acquire_until(std::nullopt); }

bool RLock::acquire_until(const internal::Deadline& deadline) {
  uint32_t self = internal::self_tid_u32();
  if ((state_->word.load(std::memory_order_relaxed) & kIdMask) == self) {
    ++state_->count;
    return true;
  }
  if (!internal::owner_acquire(&state_->word, self, deadline, internal::TaskKind::kThread)) {
    return false;
  }
  state_->count = 1;  // also right after taking over from a dead owner
  return true;
}

bool RLock::try_acquire() {
  uint32_t self = internal::self_tid_u32();
  if ((state_->word.load(std::memory_order_relaxed) & kIdMask) == self) {
    ++state_->count;
    return true;
  }
  if (!internal::owner_try_acquire(&state_->word, self, internal::TaskKind::kThread)) return false;
  state_->count = 1;
  return true;
}

void RLock::release() {
  if ((state_->word.load(std::memory_order_relaxed) & kIdMask) != internal::self_tid_u32()) {
    throw std::logic_error("shoal::RLock::release: the calling thread does not own the lock");
  }
  if (--state_->count == 0) internal::owner_release(&state_->word);
}

// ---- Semaphore ------------------------------------------------------------------------

struct Semaphore::State {
  std::atomic<uint32_t> value;
  std::atomic<uint32_t> waiters;
  bool bounded;
  uint32_t bound;  // bounded: the maximum value (0 for a BoundedSemaphore(0))
};

Semaphore::Semaphore(int value) : Semaphore(value, false) {}

Semaphore::Semaphore(int value, bool bounded) {
  if (value < 0) throw std::invalid_argument("shoal::Semaphore: initial value must be >= 0");
  region_ = internal::SharedRegion::create(sizeof(State));
  state_ = reinterpret_cast<State*>(region_->data());
  state_->value.store(static_cast<uint32_t>(value));
  state_->bounded = bounded;
  state_->bound = static_cast<uint32_t>(value);
}

bool Semaphore::try_acquire() {
  uint32_t v = state_->value.load(std::memory_order_relaxed);
  while (v > 0) {
    if (state_->value.compare_exchange_weak(v, v - 1, std::memory_order_acquire)) return true;
  }
  return false;
}

void Semaphore::acquire() { acquire_until(std::nullopt); }

bool Semaphore::acquire_until(const internal::Deadline& deadline) {
  for (int i = 0; i < kSpins; ++i) {
    if (try_acquire()) return true;
    internal::cpu_relax();
  }
  state_->waiters.fetch_add(1);
  bool ok = false;
  for (;;) {
    if (try_acquire()) {
      ok = true;
      break;
    }
    // In slices: a releaser killed before its wake-up, or a waiter woken and killed before
    // taking the unit, leaves a unit no wake-up announces.
    internal::futex_wait(&state_->value, 0, internal::sleep_slice(deadline));
    if (internal::expired(deadline)) {
      ok = try_acquire();
      break;
    }
  }
  state_->waiters.fetch_sub(1);
  return ok;
}

void Semaphore::release() {
  uint32_t v = state_->value.load(std::memory_order_relaxed);
  for (;;) {
    if (state_->bounded && v >= state_->bound) {
      throw std::logic_error("shoal::BoundedSemaphore::release: released too many times");
    }
    if (v == std::numeric_limits<uint32_t>::max() >> 1) {
      throw std::overflow_error("shoal::Semaphore::release: value overflow");
    }
    if (state_->value.compare_exchange_weak(v, v + 1, std::memory_order_release)) break;
  }
  if (state_->waiters.load() > 0) internal::futex_wake(&state_->value, 1);
}

int Semaphore::get_value() const {
  return static_cast<int>(state_->value.load(std::memory_order_relaxed));
}

// ---- Event ----------------------------------------------------------------------------
// One word: bit 0 is the flag, the bits above count the set() calls that raised it. A
// waiter returns once either changes from what it saw at the start, so a set() at once
// undone by clear() still wakes whoever was waiting then (as Python's Event does).

namespace {
constexpr uint32_t kEventFlag = 1;
}

Event::Event() : region_(internal::SharedRegion::create(sizeof(uint32_t))) {
  flag_ = reinterpret_cast<std::atomic<uint32_t>*>(region_->data());
}

void Event::set() {
  uint32_t w = flag_->load(std::memory_order_relaxed);
  do {
    if (w & kEventFlag) return;
  } while (!flag_->compare_exchange_weak(w, (w + 2) | kEventFlag, std::memory_order_release,
                                         std::memory_order_relaxed));
  internal::futex_wake(flag_, std::numeric_limits<int>::max());
}

void Event::clear() { flag_->fetch_and(~kEventFlag, std::memory_order_relaxed); }

bool Event::is_set() const { return (flag_->load() & kEventFlag) != 0; }

void Event::wait() { wait_until(std::nullopt); }

bool Event::wait_until(const internal::Deadline& deadline) {
  const uint32_t start = flag_->load(std::memory_order_acquire);
  if (start & kEventFlag) return true;
  // Set since the start (even if cleared again since).
  auto was_set = [&] { return flag_->load(std::memory_order_acquire) != start; };
  for (int i = 0; i < kSpins; ++i) {
    if (was_set()) return true;
    internal::cpu_relax();
  }
  while (!was_set()) {
    // In slices: a set() killed before its wake-up leaves no wake-up to wait for.
    internal::futex_wait(flag_, start, internal::sleep_slice(deadline));
    if (internal::expired(deadline)) return was_set();
  }
  return true;
}

}  // namespace shoal
