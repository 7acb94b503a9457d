#pragma once
// The calling thread's instance of a per-thread cache, usable even after the thread's
// thread_local objects are destroyed: at exit they go before static objects, and a
// static Manager's destructor still calls its server through a cache.

namespace shoal::internal {

// The calling thread's Cache; once its own is destroyed, one that never is (the thread
// or the process is ending; what it holds is left to the kernel).
template <class Cache>
Cache& thread_cache() {
  struct Owned {
    Cache cache;
    bool* destroyed;
    ~Owned() { *destroyed = true; }
  };
  thread_local bool destroyed = false;  // trivially destructible: readable to the end
  thread_local Owned owned{{}, &destroyed};
  if (destroyed) {
    thread_local Cache* late = nullptr;
    if (late == nullptr) late = new Cache;
    return *late;
  }
  return owned.cache;
}

}  // namespace shoal::internal
