#include <cxxabi.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <unordered_map>

#include "shoal/task.hpp"

namespace shoal::internal {
namespace {

struct Registry {
  std::shared_mutex mu;
  std::map<std::string, std::unique_ptr<TaskEntry>, std::less<>> by_name;
  std::unordered_map<std::uintptr_t, const TaskEntry*> by_fn;
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: used from static initialisers
  return *r;
}

// Where the function at `fn` is: its symbol when the dynamic table has it, else its
// object file and offset (register_task knows no name of its own for it).
std::string function_at(std::uintptr_t fn) {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(fn), &info) != 0 && info.dli_sname != nullptr) {
    int status = 0;
    char* plain = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
    std::string name = status == 0 && plain != nullptr ? plain : info.dli_sname;
    std::free(plain);
    return name;
  }
  char where[64];
  if (info.dli_fname == nullptr || *info.dli_fname == '\0') {
    std::snprintf(where, sizeof where, "at %#zx", std::size_t(fn));
    return where;
  }
  // As addr2line -e FILE takes it.
  std::snprintf(where, sizeof where, "+%#zx",
                std::size_t(fn - reinterpret_cast<std::uintptr_t>(info.dli_fbase)));
  return std::string("at ") + info.dli_fname + where;
}

// An entry for an error message: register_task's "function: TYPE" gains where it is.
std::string describe(const TaskEntry& entry) {
  constexpr std::string_view kUnnamed = "function: ";
  if (!entry.signature.starts_with(kUnnamed)) return entry.signature;
  return "function " + function_at(entry.fn) + entry.signature.substr(kUnnamed.size() - 2);
}

}  // namespace

void (*item_started)() = nullptr;

void add_task(TaskEntry entry) {
  Registry& r = registry();
  std::unique_lock lock(r.mu);
  auto it = r.by_name.find(entry.name);
  if (it != r.by_name.end()) {
    throw std::invalid_argument("shoal: task name '" + entry.name + "' is taken by " +
                                describe(*it->second) + "; cannot register " +
                                describe(entry));
  }
  auto owned = std::make_unique<TaskEntry>(std::move(entry));
  r.by_fn.emplace(owned->fn, owned.get());  // first name wins for address lookups
  r.by_name.emplace(owned->name, std::move(owned));
}

const TaskEntry* find_task(std::string_view name) {
  Registry& r = registry();
  std::shared_lock lock(r.mu);
  auto it = r.by_name.find(name);
  return it == r.by_name.end() ? nullptr : it->second.get();
}

const TaskEntry* find_task(std::uintptr_t fn) {
  Registry& r = registry();
  std::shared_lock lock(r.mu);
  auto it = r.by_fn.find(fn);
  return it == r.by_fn.end() ? nullptr : it->second;
}

std::vector<std::string> task_names() {
  Registry& r = registry();
  std::shared_lock lock(r.mu);
  std::vector<std::string> names;
  for (const auto& [name, entry] : r.by_name) names.push_back(name);
  return names;
}

bool register_at_startup(TaskEntry entry) {
  try {
    add_task(std::move(entry));
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::exit(2);
  }
  return true;
}

}  // namespace shoal::internal
