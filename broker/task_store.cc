#include "broker/task_store.h"

#include <utility>

#include "absl/hash/hash.h"

namespace shoal::broker {

uint32_t InMemoryTaskStore::hash_id(std::string_view id) {
  uint64_t h = absl::Hash<std::string_view>{}(id);
  return uint32_t(h ^ (h >> 32));
}

InMemoryTaskStore::InMemoryTaskStore() : index_(0, IdHash{}, IdEq{this}) {}

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
  index_.insert(entry(hash_id(rec.id), ref));
  return ref;
}

bool InMemoryTaskStore::find(std::string_view id, TaskRef* ref) const {
  auto it = index_.find(Key{id, hash_id(id)});
  if (it == index_.end()) return false;
  *ref = TaskRef(*it);
  return true;
}

void InMemoryTaskStore::erase(TaskRef ref) {
  TaskRecord& rec = get(ref);
  index_.erase(entry(hash_id(rec.id), ref));
  uint32_t gen = rec.gen;
  rec = TaskRecord{};  // frees id, args and result now
  rec.gen = gen;
  free_.push_back(ref);
}

}  // namespace shoal::broker
