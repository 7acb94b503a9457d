#include "shoal/internal/future_state.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <ctime>
#include <cstdio>

#include "shoal/internal/reply.h"

namespace shoal::internal {
namespace {

// Spinning longer than a cross-core wake-up (~90 µs here) buys nothing.
constexpr auto kSpin = std::chrono::microseconds(60);

// This process's task id prefix. A child of fork() makes its own (pthread_atfork), or
// parent and children would name their tasks alike and a broker would take one's task
// for the other's resubmission, answering it with the other's result.
struct TaskIdPrefix {
  char text[kTaskIdPrefixSize];

  // Async-signal-safe (a child handler of fork()): getrandom and getpid only.
  void renew() {
    std::uint64_t bits = 0;
    if (syscall(SYS_getrandom, &bits, sizeof(bits), 0) != long(sizeof(bits))) {
      timespec now{};
      clock_gettime(CLOCK_MONOTONIC, &now);
      bits = std::uint64_t(now.tv_nsec) * 0x9E3779B97F4A7C15ull ^ std::uint64_t(now.tv_sec);
    }
    bits ^= static_cast<std::uint64_t>(getpid()) << 20;
    for (std::size_t i = 0; i < kTaskIdPrefixSize; ++i, bits >>= 6) {
      text[i] = kTaskIdDigits[bits & 63];
    }
  }
};

TaskIdPrefix& task_id_prefix_storage() {
  static TaskIdPrefix* prefix = [] {
    static TaskIdPrefix p;
    p.renew();
    pthread_atfork(nullptr, nullptr, [] { p.renew(); });
    return &p;
  }();
  return *prefix;
}

}  // namespace

std::uint64_t next_task_seq() {
  static std::atomic<std::uint64_t> counter{1};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

void renew_task_id_prefix() { task_id_prefix_storage().renew(); }

std::string_view task_id_prefix() {
  return {task_id_prefix_storage().text, kTaskIdPrefixSize};
}

std::string task_id_string(std::uint64_t seq) {
  const std::string_view prefix = task_id_prefix();
  // The remote client names every task, so no snprintf (it was a tenth of its time).
  char digits[11];
  int n = 0;
  do {
    digits[n++] = kTaskIdDigits[seq & 63];
    seq >>= 6;
  } while (seq != 0);
  std::string id(prefix);
  while (n > 0) id.push_back(digits[--n]);
  return id;
}

void SpinLock::yield() { sched_yield(); }

namespace {

// Sleeps while `*word == 0`, until `deadline` (max: no limit). Returns on a wake-up, a
// changed value, a signal or the deadline; the caller re-checks.
void futex_wait_zero(std::atomic<std::uint32_t>* word, Clock::time_point deadline) {
  timespec ts{};
  timespec* timeout = nullptr;
  if (deadline != Clock::time_point::max()) {
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now());
    if (left.count() <= 0) return;
    ts.tv_sec = static_cast<time_t>(left.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(left.count() % 1'000'000'000);
    timeout = &ts;
  }
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_PRIVATE, 0, timeout,
          nullptr, 0);
}

}  // namespace

bool Waitable::spin_until(Clock::time_point deadline) const {
  auto stop = std::min(deadline, Clock::now() + kSpin);
  auto source = progress.lock();
  for (int i = 0;; ++i) {
    if (ready()) return true;
    if (source && source->poll()) continue;
    if ((i & 63) == 63) {
      if (Clock::now() >= stop) return ready();
      sched_yield();
    }
    __builtin_ia32_pause();
  }
}

void Waitable::wait() const { wait_until(Clock::time_point::max()); }

bool Waitable::wait_until(Clock::time_point deadline) const {
  if (ready() || spin_until(deadline)) return true;  // ready: no clock, no lock()
  // A done-callback on the pool's result thread: nobody else would collect the result.
  if (auto source = progress.lock();
      source && source->collect_until([this] { return ready(); }, deadline)) {
    return ready();
  }
  // Dekker with set_ready(): either it sees us counted, or we see the flag.
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  while (ready_.load(std::memory_order_seq_cst) == 0) {
    if (deadline != Clock::time_point::max() && Clock::now() >= deadline) break;
    futex_wait_zero(&ready_, deadline);
  }
  sleepers_.fetch_sub(1, std::memory_order_relaxed);
  return ready();
}

void Waitable::set_ready() {
  ready_.store(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&ready_), FUTEX_WAKE_PRIVATE, INT_MAX,
            nullptr, nullptr, 0);
  }
}

FutureState::~FutureState() {
  delete id_.load(std::memory_order_acquire);
  recycle_reply_buffer(std::move(reply_));
}

const std::string& FutureState::id() const {
  if (const std::string* id = id_.load(std::memory_order_acquire)) return *id;
  auto* made = new std::string(task_id_string(seq_));
  std::string* expected = nullptr;
  if (!id_.compare_exchange_strong(expected, made, std::memory_order_acq_rel)) {
    delete made;  // another thread was first: its string stays
    return *expected;
  }
  return *made;
}

void FutureState::complete(std::size_t, std::string reply) { resolve(std::move(reply), nullptr); }

void FutureState::fail(std::size_t, const ErrorInfo& error) {
  resolve({}, std::make_unique<ErrorInfo>(error));
}

bool FutureState::resolve(std::string reply, std::unique_ptr<ErrorInfo> error) {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mu_);
    if (resolved_) return false;
    resolved_ = true;
    reply_ = std::move(reply);
    error_ = std::move(error);
    callbacks.swap(callbacks_);
  }
  set_ready();
  if (callbacks.empty()) return true;
  if (CallbackDeferral* deferral = callback_deferral()) {
    deferral->defer(std::move(callbacks));
  } else {
    for (auto& cb : callbacks) run_callback(cb);
  }
  return true;
}

CallbackDeferral*& callback_deferral() {
  thread_local CallbackDeferral* deferral = nullptr;
  return deferral;
}

void FutureState::add_callback(std::function<void()> cb) {
  {
    std::lock_guard lock(mu_);
    if (!resolved_) {
      callbacks_.push_back(std::move(cb));
      return;
    }
  }
  wait();  // resolved_ is set just before ready: the wait is momentary
  run_callback(cb);
}

bool FutureState::cancel() {
  if (ready()) return false;
  auto c = canceller.lock();
  return c && c->cancel(seq_);
}

void fail_undelivered(Sink& sink, std::size_t index) noexcept {
  try {
    std::string why = "a non-standard exception";
    try {
      throw;
    } catch (const std::exception& e) {
      why = e.what();
    } catch (...) {
    }
    sink.fail(index,
              {ErrorKind::kOther, "", "the outcome of a task could not be delivered: " + why, ""});
    return;
  } catch (...) {
  }
  try {
    sink.fail(index, {ErrorKind::kOther, "", "out of memory", ""});  // short: no allocation
    return;
  } catch (...) {
  }
  std::fprintf(stderr,
               "shoal: the outcome of a task could not be delivered; whoever waits "
               "for it may wait for ever\n");
}

void run_callback(const std::function<void()>& cb) noexcept {
  try {
    cb();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shoal: a done-callback threw: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "shoal: a done-callback threw a non-standard exception\n");
  }
}

}  // namespace shoal::internal
