// Condition and Barrier: counters guarded by an owner-word lock, sleeping on a sequence
// word that every state change bumps.
#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include "shared/mp/futex.h"
#include "shoal/sync.hpp"

namespace shoal {
namespace {

constexpr int kAll = std::numeric_limits<int>::max();

void bump(std::atomic<uint32_t>* seq, int wake) {
  seq->fetch_add(1, std::memory_order_release);
  internal::futex_wake(seq, wake);
}

}  // namespace

// ---- Condition ------------------------------------------------------------------------
// Every waiter draws a ticket and counts itself in `sleepers`. notify(n) hands out up to n
// tokens (no more than there are sleepers without one) in a batch that only tickets
// drawn before it may claim: a waiter that came after the notify (or one that gave up at
// once) cannot take the token of one asleep at the notify, as Python's Condition
// guarantees. A waiter claims from the oldest batch it may, so that every token finds a
// claimant (the sets of claimants grow from batch to batch). Batches are kept in a fixed
// array; if it is ever full, the newest batch is widened to the new notify's claimants.

namespace {

constexpr uint32_t kMaxBatches = 64;

}  // namespace

struct Condition::State {
  std::atomic<uint32_t> seq;
  uint32_t sleepers;     // waiters in wait(), notified or not
  uint32_t batches;      // batch[0, batches), oldest first; their counts are the tokens
  uint64_t next_ticket;  // the next waiter's ticket
  struct Batch {
    uint64_t before;  // claimable by tickets below this
    uint32_t count;
  } batch[kMaxBatches];
};

Condition::Condition()
    : lock_(internal::new_slot(), /*recursive=*/true),
      region_(internal::SharedRegion::create(sizeof(State))) {
  state_ = reinterpret_cast<State*>(region_->data());
}

Condition::Condition(Lock& lock)
    : lock_(lock), region_(internal::SharedRegion::create(sizeof(State))) {
  state_ = reinterpret_cast<State*>(region_->data());
}

void Condition::check_held(const char* what) const {
  if (!lock_.held_by_this_thread()) {
    throw std::logic_error(std::string("shoal::Condition::") + what +
                           ": the lock must be held by the calling thread");
  }
}

namespace {

// Takes a token `ticket` may claim (from the oldest such batch); false if there is none.
// Under the lock. A batch left empty by a process killed in here is dropped on the way.
template <class State>
bool claim(State& st, uint64_t ticket) {
  for (uint32_t i = 0; i < st.batches;) {
    if (st.batch[i].count == 0) {
      std::copy(st.batch + i + 1, st.batch + st.batches, st.batch + i);
      --st.batches;
      continue;
    }
    if (st.batch[i].before <= ticket) {
      ++i;
      continue;
    }
    if (--st.batch[i].count == 0) {
      std::copy(st.batch + i + 1, st.batch + st.batches, st.batch + i);
      --st.batches;
    }
    return true;
  }
  return false;
}

// Tokens handed out and not yet claimed: the batches' counts summed (kept nowhere else, so
// that a process killed while changing them cannot leave two counts that disagree).
template <class State>
uint64_t tokens(const State& st) {
  uint64_t sum = 0;
  for (uint32_t i = 0; i < st.batches; ++i) sum += st.batch[i].count;
  return sum;
}

}  // namespace

bool Condition::wait_until(const internal::Deadline& deadline) {
  check_held("wait");
  const uint64_t ticket = state_->next_ticket++;
  ++state_->sleepers;
  for (;;) {
    uint32_t s = state_->seq.load(std::memory_order_acquire);
    const uint32_t levels = lock_.release_save();  // a re-entrant lock: every level
    // In slices: a notifier killed between its batch and its wake-up leaves a token that
    // no wake-up announces.
    internal::futex_wait(&state_->seq, s, internal::sleep_slice(deadline));
    lock_.acquire_restore(levels);
    if (claim(*state_, ticket)) {
      --state_->sleepers;
      return true;
    }
    if (internal::expired(deadline)) {
      --state_->sleepers;
      return false;
    }
  }
}

void Condition::notify(int n) {
  check_held("notify");
  if (n <= 0) return;
  // Sleepers without a token (a dead waiter's token is never claimed: it stays counted).
  const uint64_t handed = tokens(*state_);
  const uint32_t unnotified =
      state_->sleepers > handed ? static_cast<uint32_t>(state_->sleepers - handed) : 0;
  const uint32_t k = std::min<uint32_t>(static_cast<uint32_t>(n), unnotified);
  if (k == 0) return;
  const uint64_t before = state_->next_ticket;
  State::Batch* last = state_->batches > 0 ? &state_->batch[state_->batches - 1] : nullptr;
  if (last != nullptr && (last->before == before || state_->batches == kMaxBatches)) {
    last->before = before;  // the same claimants (or, the array full, more of them)
    last->count += k;
  } else {
    state_->batch[state_->batches++] = State::Batch{before, k};
  }
  // Every waiter asleep now drew its ticket before this batch: any k of them can claim.
  bump(&state_->seq, static_cast<int>(k));
}

void Condition::notify_all() { notify(kAll); }

// ---- Barrier --------------------------------------------------------------------------
// The action runs under the barrier's lock, in the thread whose tid `action_tid` holds:
// abort() and reset() from it go ahead without taking the lock again, and broken() and
// n_waiting() never take it (atomic snapshots). Anyone else who takes the lock and finds
// `action_tid` set took it over from a process that died in the action (the owner-word
// lock passes on from a dead holder): that breaks the barrier, as an action that throws
// does. So that the waiters notice, the action's caller wakes them before it runs it: they
// then wait for the lock, which watches its holder, instead of for a round that never ends.
//
// A process killed while asleep in wait() never leaves either: it would count as waiting
// for ever (a round would pass with a party short, a reset() would never end). So every
// sleeper records its pid in a slot, and dead ones are looked for: all of them by the last
// arrival before it lets a round pass, and by reset(); a few at each look of a sleeper
// that woke on its slice. A dead sleeper is forgotten and breaks the barrier, as a wait
// interrupted does in Python.

namespace {
enum BarrierPhase : uint32_t { kFilling = 0, kBroken = 1, kResetting = 2 };
}

struct Barrier::State {
  std::atomic<uint32_t> lock;
  std::atomic<uint32_t> seq;
  std::atomic<uint32_t> count;  // written under the lock
  uint32_t generation;
  std::atomic<uint32_t> phase;       // written under the lock
  std::atomic<uint32_t> action_tid;  // the thread running the action, 0 if none
  uint32_t next_check;               // the slot a sleeper's look checks first
  // Followed by `parties` slots, under the lock: the pid of each caller asleep in wait()
  // (at most parties - 1 at a time), 0 when free.
};

namespace {

// Under the lock, taken by anyone but the action's caller: breaks the barrier if a
// process died in its action (see above). The dead one no longer counts as waiting.
template <class State>
void break_if_action_died(State& st) {
  if (st.action_tid.load() == 0) return;
  st.action_tid.store(0);
  --st.count;
  st.phase = kBroken;
  bump(&st.seq, kAll);
}

template <class State>
uint32_t* sleeper_slots(State& st) {
  return reinterpret_cast<uint32_t*>(&st + 1);
}

// Under the lock: forgets the sleepers of slots [from, from + n) (modulo `parties`) whose
// process has died, and if there was one, breaks the barrier (a reset waits for one less
// waiter). True if one was found.
template <class State>
bool drop_dead_sleepers(State& st, uint32_t parties, uint32_t from, uint32_t n) {
  uint32_t* slots = sleeper_slots(st);
  bool found = false;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t& slot = slots[(from + i) % parties];
    if (slot == 0 || internal::task_alive(static_cast<pid_t>(slot), internal::TaskKind::kProcess)) {
      continue;
    }
    slot = 0;
    if (st.count > 0) --st.count;
    found = true;
  }
  if (!found) return false;
  if (st.phase == kFilling) {
    st.phase = kBroken;
  } else if (st.phase == kResetting && st.count == 0) {
    st.phase = kFilling;
  }
  bump(&st.seq, kAll);
  return true;
}

// Under the lock, by a sleeper that woke on its slice: checks the next few slots, so that
// the sleepers together look at every slot about once a slice.
template <class State>
void check_some_sleepers(State& st, uint32_t parties) {
  constexpr uint32_t kSlotsPerLook = 2;
  const uint32_t from = st.next_check % parties;
  const uint32_t n = std::min(kSlotsPerLook, parties);
  st.next_check = (from + n) % parties;
  drop_dead_sleepers(st, parties, from, n);
}

// Under the lock: a free slot for the caller, about to sleep; `parties` if none is free
// (cannot happen: at most parties - 1 sleep).
template <class State>
uint32_t take_slot(State& st, uint32_t parties) {
  uint32_t* slots = sleeper_slots(st);
  for (uint32_t i = 0; i < parties; ++i) {
    if (slots[i] == 0) {
      slots[i] = internal::self_pid_u32();
      return i;
    }
  }
  return parties;
}

template <class State>
class BarrierGuard {
 public:
  // `already_held`: the caller is the action, which runs under the lock.
  explicit BarrierGuard(State* state, bool already_held = false) : state_(state) {
    if (!already_held) lock();
  }
  ~BarrierGuard() {
    if (held_) internal::owner_release(&state_->lock);
  }
  void lock() {
    internal::owner_acquire(&state_->lock, internal::self_pid_u32(), std::nullopt);
    held_ = true;
    break_if_action_died(*state_);
  }
  void unlock() {
    held_ = false;
    internal::owner_release(&state_->lock);
  }

 private:
  State* state_;
  bool held_ = false;
};

}  // namespace

Barrier::Barrier(int parties, std::function<void()> action,
                 std::optional<std::chrono::milliseconds> timeout)
    : parties_(parties), action_(std::move(action)), timeout_(timeout) {
  if (parties < 1) throw std::invalid_argument("shoal::Barrier: parties must be >= 1");
  region_ = internal::SharedRegion::create(sizeof(State) +
                                           static_cast<std::size_t>(parties) * sizeof(uint32_t));
  state_ = reinterpret_cast<State*>(region_->data());
}

int Barrier::wait() {
  return wait_until(timeout_ ? internal::deadline_after(*timeout_) : internal::Deadline());
}

int Barrier::wait_until(const internal::Deadline& deadline) {
  const auto parties = static_cast<uint32_t>(parties_);
  BarrierGuard guard(state_);
  while (state_->phase == kResetting) {  // the last round's waiters are still leaving
    uint32_t s = state_->seq.load();
    guard.unlock();
    const bool woken = internal::futex_wait(&state_->seq, s, internal::sleep_slice(deadline));
    guard.lock();
    if (!woken) check_some_sleepers(*state_, parties);  // one killed while leaving
    // The timeout holds here too: a waiter stopped in the last round does not leave.
    if (state_->phase == kResetting && internal::expired(deadline)) {
      state_->phase = kBroken;
      bump(&state_->seq, kAll);
      throw BrokenBarrierError("shoal::Barrier: wait timed out; the barrier is broken");
    }
  }
  if (state_->phase == kBroken) throw BrokenBarrierError("shoal::Barrier: the barrier is broken");
  int index = static_cast<int>(state_->count++);
  if (index + 1 == parties_) {
    // A dead sleeper must not pass for a party: the round breaks instead.
    if (drop_dead_sleepers(*state_, parties, 0, parties)) {
      --state_->count;
      throw BrokenBarrierError("shoal::Barrier: a waiter died; the barrier is broken");
    }
    if (action_) {
      state_->action_tid.store(internal::self_tid_u32());
      bump(&state_->seq, kAll);  // the waiters wait for the lock meanwhile (see above)
      try {
        action_();
      } catch (...) {
        state_->action_tid.store(0);
        --state_->count;
        state_->phase = kBroken;
        bump(&state_->seq, kAll);
        throw;
      }
      state_->action_tid.store(0);
      if (state_->phase != kFilling) {
        // The action called abort() or reset(): this round breaks, for its caller too
        // (the others learn it from the phase).
        if (--state_->count == 0 && state_->phase == kResetting) state_->phase = kFilling;
        bump(&state_->seq, kAll);
        throw BrokenBarrierError("shoal::Barrier: the action aborted or reset the barrier");
      }
    }
    std::fill_n(sleeper_slots(*state_), parties, 0u);  // they leave without the lock's help
    state_->count = 0;
    ++state_->generation;
    bump(&state_->seq, kAll);
    return index;
  }
  const uint32_t generation = state_->generation;
  const uint32_t slot = take_slot(*state_, parties);
  auto leave = [&] {
    if (slot < parties) sleeper_slots(*state_)[slot] = 0;
    return --state_->count;
  };
  for (;;) {
    uint32_t s = state_->seq.load();
    guard.unlock();
    // In slices: the last arrival killed before its wake-up would leave us asleep, and
    // another sleeper killed would keep the round from ever filling.
    const bool woken = internal::futex_wait(&state_->seq, s, internal::sleep_slice(deadline));
    guard.lock();
    if (state_->generation != generation) return index;
    if (!woken && state_->phase == kFilling) check_some_sleepers(*state_, parties);
    if (state_->phase != kFilling) {
      if (leave() == 0 && state_->phase == kResetting) {
        state_->phase = kFilling;
        bump(&state_->seq, kAll);
      }
      throw BrokenBarrierError(
          "shoal::Barrier: the barrier was broken (aborted, a waiter died, or its action "
          "failed) or reset");
    }
    if (internal::expired(deadline)) {
      leave();
      state_->phase = kBroken;
      bump(&state_->seq, kAll);
      throw BrokenBarrierError("shoal::Barrier: wait timed out; the barrier is broken");
    }
  }
}

namespace {

// True when the calling thread is running `state`'s action (and so holds its lock).
template <class State>
bool in_action(const State& state) {
  return state.action_tid.load() == internal::self_tid_u32();
}

// True when a process died in `state`'s action, before anyone took the lock over.
template <class State>
bool action_died(const State& state) {
  const uint32_t tid = state.action_tid.load();
  return tid != 0 && tid != internal::self_tid_u32() &&
         !internal::task_alive(static_cast<pid_t>(tid), internal::TaskKind::kThread);
}

}  // namespace

void Barrier::abort() {
  BarrierGuard guard(state_, in_action(*state_));
  state_->phase = kBroken;
  bump(&state_->seq, kAll);
}

void Barrier::reset() {
  BarrierGuard guard(state_, in_action(*state_));
  // A dead sleeper never leaves: the reset would wait for it for ever.
  drop_dead_sleepers(*state_, static_cast<uint32_t>(parties_), 0, static_cast<uint32_t>(parties_));
  state_->phase = state_->count > 0 ? kResetting : kFilling;
  bump(&state_->seq, kAll);
}

bool Barrier::broken() const {
  return state_->phase.load(std::memory_order_relaxed) == kBroken || action_died(*state_);
}

int Barrier::n_waiting() const {
  return static_cast<int>(state_->count.load(std::memory_order_relaxed));
}

}  // namespace shoal
