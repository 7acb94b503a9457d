#include "shared/engine/worker_loop.h"

#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "shoal/task.hpp"

namespace shoal::engine {
namespace {

// Spinning outlasts a short gap between tasks (a cross-core wake-up costs ~90 µs
// here) without keeping an idle pool busy for long.
constexpr std::int64_t kSpinNs = 100'000;
// A worker keeps its reply buffer up to this size: big replies then cost no page faults.
constexpr std::size_t kKeptReplyBytes = std::size_t{64} << 20;

// Takes the next token, spinning briefly and then sleeping. False on shutdown.
bool next_token(SharedState& shared, WorkerSlot& slot, std::uint64_t* token) {
  TokenRing& tasks = shared.tasks();
  Control& control = shared.control();
  std::int64_t stop = 0;
  for (int i = 0;; ++i) {
    if (tasks.pop(token)) return true;
    if (control.shutdown.load(std::memory_order_acquire)) return false;
    if ((i & 63) == 63) {
      std::int64_t now = now_ns();
      if (stop == 0) stop = now + kSpinNs;
      if (now >= stop) break;
      sched_yield();
    }
    cpu_relax();
  }
  for (;;) {
    std::uint32_t key = slot.wake.prepare_wait();
    if (!tasks.empty() || control.shutdown.load(std::memory_order_acquire)) {
      slot.wake.cancel_wait();
    } else {
      slot.wake.commit_wait(key, -1);
    }
    if (tasks.pop(token)) {
      // More waiting: pass the wake-up on, in case it was meant for a task this worker
      // did not take (this task may run for long while another worker sleeps).
      if (!tasks.empty()) shared.wake_workers(1);
      return true;
    }
    if (control.shutdown.load(std::memory_order_acquire)) return false;
  }
}

void wait_for_room(ByteRing& ring, std::uint32_t length) {
  for (int i = 0; i < 2000; ++i) {
    if (ring.fits(length)) return;
    if ((i & 63) == 63) sched_yield();
    cpu_relax();
  }
  WaitWord& space = ring.space_word();
  while (!ring.fits(length)) {
    std::uint32_t key = space.prepare_wait();
    if (ring.fits(length)) {
      space.cancel_wait();
      return;
    }
    space.commit_wait(key, 100'000'000);
  }
}

// This worker's slot clock, which the pool reads to enforce time limits.
std::atomic<std::int64_t>* g_started_ns = nullptr;

// internal::item_started while a timed chunk runs: its next item gets the whole limit.
void restart_time_limit() { g_started_ns->store(now_ns(), std::memory_order_relaxed); }

}  // namespace

void send_reply(ByteRing& ring, WaitWord& results, std::uint64_t token, const char* data,
                std::size_t size) {
  std::size_t offset = 0;
  do {
    auto length = static_cast<std::uint32_t>(std::min(ring.max_fragment(), size - offset));
    std::uint32_t flags = offset + length < size ? ByteRing::kMore : 0;
    while (!ring.try_write(token, size, data + offset, length, flags)) wait_for_room(ring, length);
    offset += length;
    results.notify(1);
  } while (offset < size);
}

void run_worker(const WorkerConfig& config) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != config.zygote) _exit(0);  // the zygote died before prctl
  SharedState& shared = *config.shared;
  WorkerSlot& slot = shared.slot(config.worker);
  // Before the first claim: the zygote stores it too, but only once fork() has returned
  // there, maybe after this process has taken a task, and a time-limit kill the pool sent
  // meanwhile named pid 0, which the zygote ignores.
  slot.pid.store(getpid());
  prctl(PR_SET_NAME, "shoal-worker");
  // Tasks with big payloads allocate and free megabytes per call: keep that memory in
  // the heap instead of mapping and faulting in fresh pages every time.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  if (config.initializer && *config.initializer) {
    try {
      (*config.initializer)();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shoal: pool initializer threw in worker %d: %s\n", getpid(), e.what());
    } catch (...) {
      std::fprintf(stderr, "shoal: pool initializer threw in worker %d\n", getpid());
    }
  }
  g_started_ns = &slot.started_ns;
  ByteRing& out = shared.results(config.worker);
  WaitWord& results = shared.control().results;
  const auto me = static_cast<std::uint32_t>(config.worker);
  std::string reply;
  int done = 0;
  std::uint64_t token;
  while (next_token(shared, slot, &token)) {
    TaskRecord& r = shared.record(token_index(token));
    const std::uint32_t gen = token_gen(token);
    // Announce the claim before making it: if we die between the two, the pool finds
    // the record still queued and re-pushes it.
    slot.current.store(token, std::memory_order_relaxed);
    slot.started_ns.store(now_ns(), std::memory_order_relaxed);
    std::uint64_t expected = make_state(gen, 0, kQueued);
    if (!r.state.compare_exchange_strong(expected, make_state(gen, me, kRunning),
                                         std::memory_order_acq_rel)) {
      slot.current.store(0, std::memory_order_relaxed);  // cancelled or stale
      continue;
    }
    reply.clear();
    auto invoke = reinterpret_cast<internal::Invoker>(r.invoke);
    internal::item_started = (r.items & kTimedItems) != 0 ? &restart_time_limit : nullptr;
    invoke(static_cast<std::uintptr_t>(r.fn), std::string_view(shared.args_of(r), r.args_size),
           r.items & ~kTimedItems, reply);
    send_reply(out, results, token, reply.data(), reply.size());
    std::uint64_t ran = token;
    if (!slot.current.compare_exchange_strong(ran, 0, std::memory_order_acq_rel)) {
      // The pool marked the task over its time limit before it ended: its SIGKILL for
      // this process is on the way and must not find another task running here.
      for (;;) pause();
    }
    if (reply.capacity() > kKeptReplyBytes) std::string().swap(reply);
    if (config.max_tasks_per_child > 0 && ++done >= config.max_tasks_per_child) break;
  }
  std::fflush(nullptr);
  _exit(0);  // never run the parent's atexit handlers or static destructors
}

}  // namespace shoal::engine
