#pragma once
// A fuzz target's input read front to back as a stream of decisions: small integers,
// picks from fixed lists and byte strings. Reading past the end yields zeros and empty
// strings, so every input decodes to some sequence of events and libFuzzer's mutations
// of one byte change one decision. Every target that reads its bytes as a script uses it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  // True once every byte was read.
  bool done() const { return pos_ >= size_; }
  // The next byte, or 0 past the end.
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  // Little-endian integers of the next 2, 4 or 8 bytes.
  uint32_t u16() { return uint32_t(byte()) | uint32_t(byte()) << 8; }
  uint32_t u32() { return u16() | u16() << 16; }
  uint64_t u64() { return uint64_t(u32()) | uint64_t(u32()) << 32; }
  // A value in [0, n) from one byte (n <= 256), or 0 when n is 0.
  uint32_t below(uint32_t n) { return n == 0 ? 0 : byte() % n; }
  // True with probability percent / 100 (one byte).
  bool chance(int percent) { return byte() % 100 < uint32_t(percent); }
  // One of `v` (which must not be empty).
  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[below(uint32_t(v.size()))];
  }
  // The next `n` bytes (fewer at the end).
  std::string bytes(size_t n) {
    size_t take = n < size_ - pos_ ? n : size_ - pos_;  // pos_ never passes size_
    std::string s(reinterpret_cast<const char*>(data_ + pos_), take);
    pos_ += take;
    return s;
  }
  // A length byte (below `max` + 1), then that many bytes.
  std::string chunk(size_t max = 255) { return bytes(byte() % (max + 1)); }
  // A two-byte length (below `max` + 1), then that many bytes.
  std::string long_chunk(size_t max) { return bytes(u16() % (max + 1)); }
  // Every byte not read yet.
  std::string rest() { return bytes(size_ - pos_); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace shoal::fuzz
