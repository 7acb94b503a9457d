#pragma once
// Pipe and Connection (API.md §6): message channels between two processes.
//
//   auto [parent_end, child_end] = shoal::Pipe();
//   shoal::Process p([&] { child_end.send(std::string("hi")); });
//   p.start();
//   auto s = parent_end.recv<std::string>();     // "hi"
//
// Each message is length-prefixed, so messages never merge or split; empty messages
// are messages. send()/recv() carry any Codable type through the codec;
// send_bytes()/recv_bytes() carry raw bytes (any size that fits in memory).
// A Pipe is a socket pair (AF_UNIX, SOCK_STREAM; Pipe(false) shuts down the unused
// direction of each end) plus a shared-memory ring per direction, made before any
// fork: a message up to 64 KiB goes through the ring without a system call while the
// reader is awake; the socket carries bigger messages, wakes a sleeping reader, and
// reports end-of-file when the peer closes or dies. Writing to an end whose peer is
// gone throws ConnectionError (never SIGPIPE) — at once for a big message, and for
// small ones once the ring (256 KiB) is full. fileno() is the socket: wait for data
// with poll(), not with select()/poll() on fileno(), which sees only big messages,
// wake-ups and end-of-file.
//
// Connection is a handle: copies share one descriptor, which is closed by close() or
// when the last copy in this process goes. A forked child inherits the descriptor and
// uses its own copy; close the ends a process does not use, so that recv() can report
// EOFError once every writer has closed. recv() spins for a few microseconds before it
// sleeps, which cuts round-trip latency between busy processes.
// Not thread-safe: one thread of one process at a time per end, as in Python. Processes
// that share an end (several writers of one pipe, say) must take turns with a Lock, or
// their messages interleave and the reader gets SerializationError.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "shoal/codec.hpp"
#include "shoal/errors.hpp"

namespace shoal {

class Connection;
std::pair<Connection, Connection> Pipe(bool duplex);

class Connection {
 public:
  // A closed connection (use Pipe() to make a live pair).
  Connection() = default;
  // Internal: takes ownership of `fd`.
  Connection(int fd, bool readable, bool writable);

  // Sends one encoded value. std::logic_error on a read-only or closed end;
  // ConnectionError if the peer is gone. Blocks while the peer's buffer is full.
  template <class T>
  void send(const T& value) {
    static_assert(Codable<T>, "shoal::Connection::send: T must be Codable");
    send_bytes(encode(value));
  }
  // Receives one value. Blocks until a message arrives. EOFError once the peer closed
  // and every message was read; SerializationError if it is not a T; std::logic_error
  // on a write-only or closed end; shoal::Error if the stream holds what no writer
  // sends (a process that shares the end wrote garbage into it).
  template <class T>
  T recv() {
    static_assert(Codable<T>, "shoal::Connection::recv: T must be Codable");
    return decode<T>(recv_bytes());
  }
  // As send/recv, for raw bytes.
  void send_bytes(std::string_view bytes);
  std::string recv_bytes();
  // True if recv() would not block (a message, or EOF, is there), waiting at most
  // `timeout` for it (negative: no wait; over 100 years: no limit). shoal::Error on a
  // corrupt stream, as recv().
  bool poll(std::chrono::milliseconds timeout = std::chrono::milliseconds{0});

  // Closes this process's descriptor (for every copy in this process).
  void close();
  bool closed() const;
  bool readable() const;
  bool writable() const;
  // The descriptor; std::logic_error when closed.
  int fileno() const;

 private:
  friend std::pair<Connection, Connection> Pipe(bool duplex);
  struct State;
  State& open_state(const char* what) const;
  bool fill(bool block);
  std::shared_ptr<State> state_;
};

// A connected pair. duplex: both ends read and write; else the first reads and the
// second writes. Throws shoal::Error if the sockets cannot be made.
std::pair<Connection, Connection> Pipe(bool duplex = true);

}  // namespace shoal
