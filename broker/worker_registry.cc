#include "broker/worker_registry.h"

#include <algorithm>
#include <utility>

namespace shoal::broker {

WorkerRef WorkerRegistry::add(WorkerState state) {
  WorkerRef w;
  if (!free_.empty()) {
    w = free_.back();
    free_.pop_back();
  } else {
    w = WorkerRef(workers_.size());
    workers_.emplace_back();
  }
  state.live = true;
  by_peer_[state.peer] = w;
  by_name_[state.name] = w;
  workers_[w] = std::move(state);
  return w;
}

void WorkerRegistry::remove(WorkerRef w) {
  WorkerState& state = workers_[w];
  by_peer_.erase(state.peer);
  auto it = by_name_.find(state.name);
  if (it != by_name_.end() && it->second == w) by_name_.erase(it);
  state = WorkerState{};
  free_.push_back(w);
}

WorkerRef WorkerRegistry::by_peer(const std::string& peer) const {
  auto it = by_peer_.find(peer);
  return it == by_peer_.end() ? kNoWorker : it->second;
}

WorkerRef WorkerRegistry::by_name(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? kNoWorker : it->second;
}

std::vector<WorkerRef> WorkerRegistry::live() const {
  std::vector<WorkerRef> refs;
  refs.reserve(by_peer_.size());
  for (const auto& [peer, w] : by_peer_) refs.push_back(w);
  std::sort(refs.begin(), refs.end());  // deterministic order for tests and listings
  return refs;
}

}  // namespace shoal::broker
