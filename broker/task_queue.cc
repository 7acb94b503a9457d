#include "broker/task_queue.h"

#include <algorithm>
#include <bit>
#include <iterator>

namespace shoal::broker {

Lane& TaskQueue::lane(NameId task_name) {
  auto [it, inserted] = by_name_.try_emplace(task_name, nullptr);
  if (inserted) {
    lanes_.push_back(std::make_unique<Lane>(task_name));
    it->second = lanes_.back().get();
  }
  return *it->second;
}

Lane* TaskQueue::find_lane(NameId task_name) {
  auto it = by_name_.find(task_name);
  return it == by_name_.end() ? nullptr : it->second;
}

void TaskQueue::push(const TaskStore& store, Lane& lane, QueueEntry entry, int priority,
                     bool front) {
  auto& fifo = lane.by_priority[priority];
  if (front) {
    // A retry goes back where its seq puts it, among the retries before it (pushed to the
    // front one by one, a lost worker's tasks came back reversed) and ahead of the tasks
    // queued after it. Entries are in seq order, stale ones too; retries are near the
    // front, so the insertion moves few entries. An entry with its seq is its own (seqs
    // are never reused), left stale when it was taken out of the queue: it is live again.
    auto at = std::upper_bound(fifo.begin(), fifo.end(), entry.seq,
                               [](uint64_t seq, const QueueEntry& e) { return seq < e.seq; });
    if (at == fifo.begin() || std::prev(at)->seq != entry.seq) fifo.insert(at, entry);
  } else {
    fifo.push_back(entry);
  }
  lane.mask |= uint16_t(1u << priority);
  // clean_head drops stale entries only at the head: behind one that does not move,
  // submitted-then-cancelled tasks left theirs for ever. Once at least two thirds of the
  // FIFO is stale, drop them all: O(1) per entry made stale, amortised.
  if (fifo.size() > 3 * depth + 64) {
    std::erase_if(fifo, [&store](const QueueEntry& e) { return !is_live(store, e); });
    if (fifo.empty()) lane.mask &= uint16_t(~(1u << priority));
  }
}

bool TaskQueue::clean_head(const TaskStore& store, Lane& lane, int p) {
  auto& fifo = lane.by_priority[p];
  while (!fifo.empty() && !is_live(store, fifo.front())) fifo.pop_front();
  if (fifo.empty()) {
    lane.mask &= uint16_t(~(1u << p));
    return false;
  }
  return true;
}

bool TaskQueue::pop_for(const TaskStore& store, const absl::flat_hash_set<NameId>& can_run,
                        TaskRef* ref) {
  Lane* best = nullptr;
  int best_p = -1;
  for (auto& lane_ptr : lanes_) {
    Lane& lane = *lane_ptr;
    if (lane.mask == 0 || !can_run.contains(lane.name)) continue;
    // Highest non-empty priority of this lane that is not below the best so far.
    while (lane.mask != 0) {
      int p = std::bit_width(unsigned(lane.mask)) - 1;
      if (p < best_p) break;
      if (!clean_head(store, lane, p)) continue;
      if (p > best_p ||
          lane.by_priority[p].front().seq < best->by_priority[best_p].front().seq) {
        best = &lane;
        best_p = p;
      }
      break;
    }
  }
  if (best == nullptr) return false;
  auto& fifo = best->by_priority[best_p];
  *ref = fifo.front().ref;
  fifo.pop_front();
  if (fifo.empty()) best->mask &= uint16_t(~(1u << best_p));
  return true;
}

std::vector<TaskRef> TaskQueue::drain(const TaskStore& store, Lane& lane) {
  std::vector<TaskRef> live;
  for (int p = kPriorities - 1; p >= 0; --p) {
    for (QueueEntry e : lane.by_priority[p]) {
      if (is_live(store, e)) live.push_back(e.ref);
    }
    std::deque<QueueEntry>().swap(lane.by_priority[p]);
  }
  lane.mask = 0;
  return live;
}

std::size_t TaskQueue::forget_empty_lanes(const TaskStore& store) {
  for (std::size_t i = 0; i < lanes_.size();) {
    Lane& lane = *lanes_[i];
    for (int p = 0; p < kPriorities; ++p) {
      if (lane.mask & (1u << p)) clean_head(store, lane, p);
    }
    if (lane.mask != 0) {
      ++i;
      continue;
    }
    by_name_.erase(lane.name);
    lanes_[i] = std::move(lanes_.back());  // order does not matter: pop_for compares seqs
    lanes_.pop_back();
  }
  return lanes_.size();
}

std::size_t TaskQueue::entries() const {
  std::size_t n = 0;
  for (const auto& lane : lanes_) {
    for (const auto& fifo : lane->by_priority) n += fifo.size();
  }
  return n;
}

}  // namespace shoal::broker
