#pragma once
// Interned names (queues, task names): each distinct string is stored once and
// referred to by a 4-byte NameId.

#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "broker/task_store.h"

namespace shoal::broker {

// Not thread-safe. Names are forgotten only when the owner says which ids are in use
// (forget_all_but); their ids are then reused.
class NameTable {
 public:
  // The id of `name`, interning it on first use.
  NameId intern(std::string_view name) {
    auto it = ids_.find(name);
    if (it != ids_.end()) return it->second;
    NameId id;
    if (free_.empty()) {
      id = NameId(names_.size());
      names_.emplace_back(name);
    } else {
      id = free_.back();
      free_.pop_back();
      names_[id] = name;
    }
    ids_.emplace(names_[id], id);
    return id;
  }
  // The id of `name`, or false when it is not interned.
  bool find(std::string_view name, NameId* id) const {
    auto it = ids_.find(name);
    if (it == ids_.end()) return false;
    *id = it->second;
    return true;
  }
  // The string of a valid id; stable until its id is forgotten.
  const std::string& name(NameId id) const { return names_[id]; }
  // Names interned now.
  std::size_t size() const { return ids_.size(); }
  // Ids are below this.
  std::size_t id_bound() const { return names_.size(); }
  // Forgets every interned name whose id is not marked in `live` (indexed by id, at
  // least id_bound() long).
  void forget_all_but(const std::vector<bool>& live) {
    for (NameId id = 0; id < names_.size(); ++id) {
      if (live[id]) continue;
      auto it = ids_.find(names_[id]);
      if (it == ids_.end() || it->second != id) continue;  // already free
      ids_.erase(it);
      std::string().swap(names_[id]);
      free_.push_back(id);
    }
  }

 private:
  std::deque<std::string> names_;  // deque: stable addresses for the views below
  absl::flat_hash_map<std::string_view, NameId> ids_;
  std::vector<NameId> free_;  // forgotten ids, for reuse
};

}  // namespace shoal::broker
