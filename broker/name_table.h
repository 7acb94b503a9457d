#pragma once
// Interned names (queues, task names): each distinct string is stored once and
// referred to by a 4-byte NameId.

#include <deque>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "broker/task_store.h"

namespace shoal::broker {

// Not thread-safe. Names are never forgotten.
class NameTable {
 public:
  // The id of `name`, interning it on first use.
  NameId intern(std::string_view name) {
    auto it = ids_.find(name);
    if (it != ids_.end()) return it->second;
    NameId id = NameId(names_.size());
    names_.emplace_back(name);
    ids_.emplace(names_.back(), id);
    return id;
  }
  // The id of `name`, or false when it was never interned.
  bool find(std::string_view name, NameId* id) const {
    auto it = ids_.find(name);
    if (it == ids_.end()) return false;
    *id = it->second;
    return true;
  }
  // The string of a valid id; stable for the table's lifetime.
  const std::string& name(NameId id) const { return names_[id]; }

 private:
  std::deque<std::string> names_;  // deque: stable addresses for the views below
  absl::flat_hash_map<std::string_view, NameId> ids_;
};

}  // namespace shoal::broker
