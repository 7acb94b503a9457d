#pragma once
// Value and Array (API.md §6): trivially copyable data in shared memory, each with a
// Lock, like multiprocessing.Value / multiprocessing.Array.
//
//   shoal::Value<long> counter(0);                 // create before forking
//   { std::lock_guard g(counter.get_lock()); counter.value() += 1; }
//   shoal::Array<int> a(6);                        // six zeros; Array<int>{6} is one 6
//
// The data lives in an anonymous MAP_SHARED mapping made by the constructor; processes
// forked afterwards share it. Objects are handles: copies share the data and the lock.
// value()/operator[] give the shared object itself: plain reads and writes of it are not
// synchronised, so hold get_lock() for read-modify-write.
//
// get_lock() is re-entrant, as the RLock Python gives a Value or Array by default: the
// thread holding it may call load(), store() and to_vector(), which take it too, or take
// it again (each acquire needs a release; only the holding thread may release it).
// Value::store takes the lock, as Python's setter does, so it never lands in the middle
// of a read-modify-write under get_lock(). Value::load is an atomic read: lock-free for
// types of 1, 2, 4 or 8 bytes (it does not wait for a holder of the lock, so it may see a
// value the holder is about to change again), under the lock otherwise.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "shoal/sync.hpp"

namespace shoal {

template <class T>
class Value {
  static_assert(std::is_trivially_copyable_v<T>,
                "shoal::Value<T>: T must be trivially copyable (it lives in shared memory)");

 public:
  // A shared T holding `initial`. Throws shoal::Error if shared memory cannot be mapped.
  explicit Value(T initial = T{})
      : region_(internal::SharedRegion::create(internal::kSlotBytes + sizeof(T))),
        lock_(internal::Slot{region_, region_->data()}, /*recursive=*/true),
        data_(reinterpret_cast<T*>(region_->data() + internal::kSlotBytes)) {
    std::memcpy(static_cast<void*>(data_), &initial, sizeof(T));
  }

  // An atomic read. Lock-free for 1, 2, 4 and 8-byte types; else it takes get_lock()
  // (blocking while another thread holds it). Thread-safe and process-safe.
  T load() const {
    if constexpr (kLockFree) {
      return std::atomic_ref<T>(*data_).load();
    } else {
      std::lock_guard guard(lock_);
      return *data_;
    }
  }
  // An atomic write under get_lock(): blocks while another thread (of any process) holds
  // it; may be called by its holder. Thread-safe and process-safe.
  void store(T v) {
    std::lock_guard guard(lock_);
    if constexpr (kLockFree) {
      std::atomic_ref<T>(*data_).store(v);  // lock-free loads never see it torn
    } else {
      *data_ = v;
    }
  }
  // The shared object itself; hold get_lock() to read-modify-write it.
  T& value() { return *data_; }
  const T& value() const { return *data_; }
  // The re-entrant lock that guards this value (shared by every copy and process); see
  // the file comment. Lives as long as any copy of this Value in this process.
  Lock& get_lock() { return lock_; }

 private:
  static constexpr bool kLockFree =
      sizeof(T) <= 8 && (sizeof(T) & (sizeof(T) - 1)) == 0 && std::is_trivially_copyable_v<T>;
  std::shared_ptr<internal::SharedRegion> region_;
  mutable Lock lock_;
  T* data_;
};

template <class T>
class Array {
  static_assert(std::is_trivially_copyable_v<T>,
                "shoal::Array<T>: T must be trivially copyable (it lives in shared memory)");

 public:
  // n value-initialised elements (zeros for numbers). More than the address space can
  // hold: std::length_error; more than can be mapped: shoal::Error.
  explicit Array(std::size_t n) : Array(n, nullptr) {}
  // The given elements: Array<int>{6} holds one 6 (Array<int>(6) holds six zeros).
  Array(std::initializer_list<T> init) : Array(init.size(), init.begin()) {}
  explicit Array(std::span<const T> init) : Array(init.size(), init.data()) {}

  std::size_t size() const { return size_; }
  // The shared element itself, unchecked like std::vector's.
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  // A copy of the elements, taken under get_lock() (blocks while another thread holds
  // it; may be called by its holder).
  std::vector<T> to_vector() const {
    std::lock_guard guard(lock_);
    return std::vector<T>(data_, data_ + size_);
  }
  // The re-entrant lock that guards the elements (shared by every copy and process); see
  // the file comment.
  Lock& get_lock() { return lock_; }

 private:
  // The region's size for n elements; checked, as n * sizeof(T) would wrap around.
  static std::size_t bytes_for(std::size_t n) {
    if (n > (SIZE_MAX - internal::kSlotBytes) / sizeof(T)) {
      throw std::length_error("shoal::Array: " + std::to_string(n) + " elements of " +
                              std::to_string(sizeof(T)) + " bytes exceed the address space");
    }
    return internal::kSlotBytes + n * sizeof(T);
  }
  Array(std::size_t n, const T* init)
      : region_(internal::SharedRegion::create(bytes_for(n))),
        lock_(internal::Slot{region_, region_->data()}, /*recursive=*/true),
        data_(reinterpret_cast<T*>(region_->data() + internal::kSlotBytes)),
        size_(n) {
    for (std::size_t i = 0; i < n; ++i) {
      if (init) {
        std::memcpy(static_cast<void*>(data_ + i), init + i, sizeof(T));
      } else {
        new (data_ + i) T{};
      }
    }
  }
  std::shared_ptr<internal::SharedRegion> region_;
  mutable Lock lock_;
  T* data_;
  std::size_t size_;
};

}  // namespace shoal
