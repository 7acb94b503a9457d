#include "broker/task_store.h"

#include <utility>

#include "absl/hash/hash.h"

namespace shoal::broker {

size_t InMemoryTaskStore::IdHash::operator()(TaskRef ref) const {
  return absl::Hash<std::string_view>{}(store->get(ref).id);
}

size_t InMemoryTaskStore::IdHash::operator()(std::string_view id) const {
  return absl::Hash<std::string_view>{}(id);
}

InMemoryTaskStore::InMemoryTaskStore() : index_(0, IdHash{this}, IdEq{this}) {}

TaskRef InMemoryTaskStore::insert(std::string id) {
  TaskRef ref;
  if (!free_.empty()) {
    ref = free_.back();
    free_.pop_back();
  } else {
    ref = next_++;
    if ((ref >> kChunkBits) >= chunks_.size()) {
      chunks_.push_back(std::make_unique<TaskRecord[]>(size_t{1} << kChunkBits));
    }
  }
  TaskRecord& rec = get(ref);
  uint32_t gen = rec.gen + 1;
  rec = TaskRecord{};
  rec.gen = gen;
  rec.id = std::move(id);
  index_.insert(ref);
  return ref;
}

bool InMemoryTaskStore::find(std::string_view id, TaskRef* ref) const {
  auto it = index_.find(id);
  if (it == index_.end()) return false;
  *ref = *it;
  return true;
}

void InMemoryTaskStore::erase(TaskRef ref) {
  index_.erase(ref);
  TaskRecord& rec = get(ref);
  uint32_t gen = rec.gen;
  rec = TaskRecord{};  // frees id, args and result now
  rec.gen = gen;
  free_.push_back(ref);
}

}  // namespace shoal::broker
