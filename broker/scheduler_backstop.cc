// Scheduler, the time-limit backstop: which tasks a worker holds have started (their
// limits armed from then), which wait behind them in the order sent, and the copies it
// runs that are no longer its lease (phantoms), which keep their process.
#include <algorithm>
#include <limits>
#include <tuple>
#include <utility>

#include "broker/scheduler.h"

namespace shoal::broker {

namespace {
constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();
}  // namespace

void Scheduler::unlease(TaskRecord& rec, TaskRef ref, HolderCopy copy) {
  if (rec.worker != kNoWorker) {
    WorkerState& st = workers_.get(rec.worker);
    st.leased.erase(ref);
    if (copy == HolderCopy::kStillRuns) {
      // Nothing tells the worker that the task ended: its copy keeps its process, or its
      // place among the waiting (its entry there now stands for the phantom).
      PhantomCopies& p = st.phantoms[rec.id];
      if (rec.waiting) {
        p.waiting.push_back({ref, rec.gen, rec.attempt});
      } else {
        // Its limit counts from now, not from when it started: late, never early.
        p.started.push_back(run_deadline(rec, clock_->now_ms()));
        if (p.started.back() != kNoDeadline) {
          phantom_timers_.push({p.started.back(), rec.worker, st.name_id, rec.id});
        }
      }
      prune_phantoms(rec.worker);
    } else if (rec.waiting) {
      rec.waiting = false;  // its entry in st.waiting is skipped
    } else if (st.started > 0) {
      // A process of the worker is free (the worker reported the task, or it is lost).
      --st.started;
      if (copy == HolderCopy::kTakenForLost) {
        ++st.phantoms[rec.id].freed;
        prune_phantoms(rec.worker);
      }
      start_waiting(rec.worker);
    }
  }
  rec.waiting = false;
  --queue_for(rec.queue).in_flight;
  --running_;
  rec.worker = kNoWorker;
}

void Scheduler::hold(TaskRef ref, TaskRecord& rec, WorkerRef w, int64_t now) {
  WorkerState& st = workers_.get(w);
  st.leased.insert(ref);
  if (st.started < std::max<uint32_t>(st.slots, 1)) {  // then nothing waits (start_waiting)
    ++st.started;
    rec.waiting = false;
    arm_time_limit(ref, rec, now);
    return;
  }
  rec.waiting = true;
  st.waiting.push_back({ref, rec.gen, rec.attempt});
  // Entries of tasks that ended while waiting (reported before the broker saw them start)
  // are skipped when they reach the front; should they pile up behind long tasks, drop
  // them. Amortised O(1) per lease: what is left (the entries of leases and of waiting
  // phantom copies, of which an id may have several) is dropped again only once as many
  // entries have been added since; without that, copies of one id outnumbering the
  // leases rebuilt the set below on every lease.
  if (st.waiting.size() > 2 * (st.leased.size() + st.phantoms.size()) + 64 &&
      st.waiting.size() > 2 * st.waiting_after_prune + 64) {
    // Those of phantoms by the entry itself: a record may have been reused since.
    absl::flat_hash_set<std::tuple<TaskRef, uint32_t, uint16_t>> phantom_entries;
    for (const auto& [id, p] : st.phantoms) {
      for (const HeldTask& e : p.waiting) phantom_entries.insert({e.ref, e.gen, e.attempt});
    }
    std::erase_if(st.waiting, [&](const HeldTask& h) {
      const TaskRecord& r = store_->get(h.ref);
      if (r.phase == TaskPhase::kRunning && r.worker == w && r.waiting && r.gen == h.gen &&
          r.attempt == h.attempt) {
        return false;
      }
      return !phantom_entries.contains({h.ref, h.gen, h.attempt});
    });
    st.waiting_after_prune = st.waiting.size();
  }
}

void Scheduler::start_waiting(WorkerRef w) {
  WorkerState& st = workers_.get(w);
  const uint32_t slots = std::max<uint32_t>(st.slots, 1);
  while (st.started < slots && !st.waiting.empty()) {
    const HeldTask h = st.waiting.front();
    st.waiting.pop_front();
    TaskRecord& rec = store_->get(h.ref);
    if (rec.phase != TaskPhase::kRunning || rec.worker != w || !rec.waiting || rec.gen != h.gen ||
        rec.attempt != h.attempt) {
      if (!st.phantoms.empty()) start_phantom(w, h);
      continue;  // it left meanwhile
    }
    rec.waiting = false;
    ++st.started;
    arm_time_limit(h.ref, rec, clock_->now_ms());
  }
}

void Scheduler::hold_phantom(WorkerRef w, const std::string& id, const TaskRef* ref) {
  WorkerState& st = workers_.get(w);
  PhantomCopies& p = st.phantoms[id];
  if (ref == nullptr || st.started < std::max<uint32_t>(st.slots, 1)) {
    // With no record to name its place among the waiting, it counts as started at once:
    // the tasks behind it wait no less long for that.
    start_phantom_copy(w, p, id, ref == nullptr ? nullptr : &store_->get(*ref));
    return;
  }
  const TaskRecord& rec = store_->get(*ref);
  // Not this worker's lease: the entry stands for the phantom (start_phantom).
  st.waiting.push_back({*ref, rec.gen, rec.attempt});
  p.waiting.push_back(st.waiting.back());
}

bool Scheduler::end_phantom(WorkerRef w, const std::string& id) {
  WorkerState& st = workers_.get(w);
  if (st.phantoms.empty()) return false;
  auto it = st.phantoms.find(id);
  if (it == st.phantoms.end()) return false;
  PhantomCopies& p = it->second;
  bool freed_process = false;
  if (p.freed > 0) {
    --p.freed;  // its process was counted as free when the backstop took it for lost
  } else if (!p.started.empty()) {
    p.started.erase(p.started.begin());
    freed_process = st.started > 0;
    if (freed_process) --st.started;
  } else {
    p.waiting.erase(p.waiting.begin());  // its entry among the waiting is skipped
  }
  if (p.freed == 0 && p.started.empty() && p.waiting.empty()) st.phantoms.erase(it);
  if (freed_process) start_waiting(w);
  return true;
}

Scheduler::PhantomMap::iterator Scheduler::phantom_for(WorkerState& st, const HeldTask& h) {
  const TaskRecord& rec = store_->get(h.ref);
  if (rec.gen == h.gen) {
    auto it = st.phantoms.find(rec.id);
    return it != st.phantoms.end() && it->second.stands_for(h) ? it : st.phantoms.end();
  }
  // The record no longer names the entry's task: its id may be another task's now, whose
  // phantoms are not these. Rare (a result expired while its phantom waited), and bounded
  // by prune_phantoms().
  for (auto it = st.phantoms.begin(); it != st.phantoms.end(); ++it) {
    if (it->second.stands_for(h)) return it;
  }
  return st.phantoms.end();
}

void Scheduler::start_phantom(WorkerRef w, const HeldTask& h) {
  WorkerState& st = workers_.get(w);
  auto it = phantom_for(st, h);
  if (it == st.phantoms.end()) return;  // an entry of a task or copy that left
  std::vector<HeldTask>& waiting = it->second.waiting;
  waiting.erase(std::find_if(waiting.begin(), waiting.end(), [&](const HeldTask& e) {
    return e.ref == h.ref && e.gen == h.gen && e.attempt == h.attempt;
  }));
  const TaskRecord& rec = store_->get(h.ref);
  start_phantom_copy(w, it->second, it->first, rec.gen == h.gen ? &rec : nullptr);
}

void Scheduler::start_phantom_copy(WorkerRef w, PhantomCopies& p, const std::string& id,
                                   const TaskRecord* rec) {
  WorkerState& st = workers_.get(w);
  ++st.started;
  const int64_t deadline = rec == nullptr ? kNoDeadline : run_deadline(*rec, clock_->now_ms());
  p.started.push_back(deadline);
  if (deadline != kNoDeadline) phantom_timers_.push({deadline, w, st.name_id, id});
}

void Scheduler::expire_phantoms(int64_t now) {
  while (!phantom_timers_.empty() && phantom_timers_.top().deadline <= now) {
    const PhantomTimer t = phantom_timers_.top();
    phantom_timers_.pop();
    WorkerState& st = workers_.get(t.worker);
    if (!st.live || st.name_id != t.worker_name) continue;  // gone (its ref reused)
    auto it = st.phantoms.find(t.id);
    if (it == st.phantoms.end()) continue;
    PhantomCopies& p = it->second;
    bool freed_process = false;
    while (!p.started.empty() && p.started.front() <= now) {
      p.started.erase(p.started.begin());
      ++p.freed;
      if (st.started > 0) {
        --st.started;
        freed_process = true;
      }
    }
    if (freed_process) start_waiting(t.worker);
  }
  // Timers of copies that ended are skipped when due; with long limits, drop them before.
  if (phantom_timers_.size() > phantom_timers_prune_at_) {
    phantom_timers_.erase_if([this](const PhantomTimer& t) {
      const WorkerState& st = workers_.get(t.worker);
      if (!st.live || st.name_id != t.worker_name) return true;
      auto it = st.phantoms.find(t.id);
      return it == st.phantoms.end() || it->second.started.empty();
    });
    phantom_timers_prune_at_ = 2 * phantom_timers_.size() + 64;
  }
}

void Scheduler::prune_phantoms(WorkerRef w) {
  WorkerState& st = workers_.get(w);
  const uint64_t bound = 2 * uint64_t(st.capacity()) + 64;
  if (st.phantoms.size() <= bound) return;
  // Copies taken for lost that never reported go first: they hold no process.
  absl::erase_if(st.phantoms, [](const auto& entry) {
    return entry.second.started.empty() && entry.second.waiting.empty();
  });
  if (st.phantoms.size() <= st.capacity()) return;  // then `bound` is far again
  // More copies than it may hold: it lost some without a result. Forget them all, and
  // count as started only its leases that are.
  st.phantoms.clear();
  st.started = 0;
  for (TaskRef ref : st.leased) st.started += !store_->get(ref).waiting;
  start_waiting(w);
}

int64_t Scheduler::run_deadline(const TaskRecord& rec, int64_t now) const {
  if (rec.time_limit_ms == 0) return kNoDeadline;
  // The limit applies to each item of a chunk (the worker's engine restarts it per item).
  // Capped at 2^50 ms (35,000 years) so that nothing overflows.
  const uint64_t items = std::max<uint32_t>(rec.items, 1);
  const uint64_t budget =
      std::min<uint64_t>(rec.time_limit_ms, (uint64_t{1} << 50) / items) * items;
  return now + int64_t(budget) + options_.time_limit_grace_ms;
}

void Scheduler::arm_time_limit(TaskRef ref, const TaskRecord& rec, int64_t now) {
  if (rec.time_limit_ms == 0) return;
  lease_timers_.push({run_deadline(rec, now), ref, rec.gen, rec.attempt});
  // A timer whose lease ended is skipped when it falls due, but with a long limit that
  // is far off: once such timers may outnumber the running tasks, drop them (amortised
  // O(1) per lease, as at most running_ timers are left).
  if (lease_timers_.size() > 2 * running_ + 64) {
    lease_timers_.erase_if([this](const Timer& t) { return !lease_timer_current(t); });
  }
}

bool Scheduler::lease_timer_current(const Timer& t) const {
  const TaskRecord& rec = store_->get(t.ref);
  return rec.gen == t.gen && rec.phase == TaskPhase::kRunning && rec.attempt == t.attempt;
}

}  // namespace shoal::broker
