#include "shared/engine/byte_ring.h"

#include <cstring>

namespace shoal::engine {

std::size_t ByteRing::bytes_for(std::size_t capacity) { return sizeof(Header) + capacity; }

ByteRing::ByteRing(void* memory, std::size_t capacity)
    : header_(static_cast<Header*>(memory)),
      data_(reinterpret_cast<std::byte*>(static_cast<Header*>(memory) + 1)),
      capacity_(capacity) {}

bool ByteRing::fits(std::uint32_t length) const {
  std::uint64_t tail = header_->tail.load(std::memory_order_relaxed);
  std::uint64_t used = tail - header_->head.load(std::memory_order_acquire);
  std::size_t to_end = capacity_ - (tail & (capacity_ - 1));
  std::size_t need = padded(length);
  if (need > to_end) need += to_end;  // the wrap marker wastes the rest of the ring
  return used + need <= capacity_;
}

bool ByteRing::try_write(std::uint64_t token, std::uint64_t total, const void* data,
                         std::uint32_t length, std::uint32_t flags) {
  if (!fits(length)) return false;
  std::uint64_t tail = header_->tail.load(std::memory_order_relaxed);
  std::size_t to_end = capacity_ - (tail & (capacity_ - 1));
  std::uint64_t at_pos = tail;
  if (padded(length) > to_end) {
    MessageHeader* wrap = at(tail);
    *wrap = MessageHeader{0, 0, static_cast<std::uint32_t>(to_end), kWrap, 0};
    at_pos += to_end;
  }
  MessageHeader* m = at(at_pos);
  *m = MessageHeader{token, total, length, flags, 0};
  if (length) std::memcpy(m + 1, data, length);
  header_->tail.store(at_pos + padded(length), std::memory_order_release);
  return true;
}

const MessageHeader* ByteRing::peek() {
  for (;;) {
    std::uint64_t head = header_->head.load(std::memory_order_relaxed);
    if (head == header_->tail.load(std::memory_order_acquire)) return nullptr;
    const MessageHeader* m = at(head);
    if (!(m->flags & kWrap)) return m;
    header_->head.store(head + m->length, std::memory_order_release);
  }
}

void ByteRing::pop(const MessageHeader* m) {
  std::uint64_t head = header_->head.load(std::memory_order_relaxed);
  header_->head.store(head + padded(m->length), std::memory_order_release);
  header_->space.notify(1);
}

bool ByteRing::empty() const {
  return header_->head.load(std::memory_order_relaxed) ==
         header_->tail.load(std::memory_order_acquire);
}

}  // namespace shoal::engine
