#include "shoal/internal/future_state.h"

#include <sched.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <random>

namespace shoal::internal {
namespace {

// Spinning longer than a cross-core wake-up (~90 µs here) buys nothing.
constexpr auto kSpin = std::chrono::microseconds(60);

std::uint64_t process_prefix() {
  static std::uint64_t prefix = [] {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd() ^ static_cast<std::uint64_t>(getpid());
  }();
  return prefix;
}

}  // namespace

std::uint64_t next_task_seq() {
  static std::atomic<std::uint64_t> counter{1};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

std::string task_id_string(std::uint64_t seq) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64 "-%" PRIx64, process_prefix(), seq);
  return buf;
}

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
  if (spin_until(deadline)) return true;
  std::unique_lock lock(mu_);
  sleepers_.fetch_add(1);
  bool ok = true;
  if (deadline == Clock::time_point::max()) {
    cv_.wait(lock, [&] { return ready(); });
  } else {
    ok = cv_.wait_until(lock, deadline, [&] { return ready(); });
  }
  sleepers_.fetch_sub(1);
  return ok;
}

void Waitable::set_ready() {
  {
    std::lock_guard lock(mu_);
    ready_.store(true, std::memory_order_release);
  }
  if (sleepers_.load() > 0) cv_.notify_all();
}

const std::string& FutureState::id() const {
  std::call_once(id_once_, [&] { id_ = task_id_string(seq_); });
  return id_;
}

void FutureState::complete(std::size_t, std::string reply) {
  resolve(std::move(reply), std::nullopt);
}

void FutureState::fail(std::size_t, const ErrorInfo& error) { resolve({}, error); }

bool FutureState::resolve(std::string reply, std::optional<ErrorInfo> error) {
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
  for (auto& cb : callbacks) run_callback(cb);
  return true;
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
