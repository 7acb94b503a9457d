#pragma once
// The worker's end of the broker link: one ZeroMQ DEALER socket carrying one
// serialized protobuf frame per message (proto/shoal/v1/worker.proto), ZeroMQ's events
// about its connection, and the one place where zmq::error_t becomes absl::Status.
// Owned and used by one thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <zmq.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "shoal/v1/worker.pb.h"

namespace shoal::worker {

inline constexpr std::uint32_t kProtocolVersion = 1;

class Transport {
 public:
  // CURVE keys of a worker (Z85), for a broker whose worker endpoint uses CURVE.
  struct Curve {
    std::string broker_public_key;  // empty: plaintext
    std::string public_key, secret_key;  // this worker's pair
  };

  // A new DEALER socket connecting to `endpoint` (tcp://HOST:PORT), encrypted with
  // `curve` when it names the broker's key. The connection is made in the background;
  // frames sent before it exists are queued. kInvalidArgument for a malformed endpoint
  // or key.
  static absl::StatusOr<std::unique_ptr<Transport>> connect(zmq::context_t& context,
                                                            const std::string& endpoint,
                                                            const Curve& curve = {});
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Sends `message` (its version is set here) without blocking; kResourceExhausted
  // when the socket's queue is full, kUnavailable for other socket errors.
  absl::Status send(v1::WorkerMessage& message);
  // Sends an already serialized WorkerMessage (version set), as send() does.
  absl::Status send_bytes(const std::string& bytes);

  // Reads one frame without blocking: nullopt when none is waiting. A frame that is not
  // a valid version-1 BrokerMessage is consumed and reported as kInvalidArgument
  // (does not parse, or has no body) or kFailedPrecondition (wrong version).
  absl::StatusOr<std::optional<v1::BrokerMessage>> receive();

  // How long queued frames may still be sent after destruction (default 0: dropped).
  void set_linger(int ms);

  // Whether the socket has a connection to the broker now, as far as ZeroMQ has said:
  // a handshake done and no close since (false while the broker has never been reached,
  // and from the moment ZeroMQ reports the connection closed until it makes a new one).
  // Reads the connection events waiting in events(); never blocks.
  bool connected();

  zmq::socket_t& socket() { return socket_; }
  // Readable (ZMQ_POLLIN) when connection events wait: poll it and call connected(), so
  // that they never pile up.
  zmq::socket_t& events() { return events_; }

 private:
  Transport(zmq::socket_t socket, zmq::socket_t events)
      : socket_(std::move(socket)), events_(std::move(events)) {}
  zmq::socket_t socket_;
  zmq::socket_t events_;  // PAIR receiving ZeroMQ's monitor events about socket_
  bool connected_ = false;
};

// The canonical status for a ZeroMQ error (EAGAIN and a want of descriptors or memory:
// EMFILE, ENFILE, ENOMEM, ENOBUFS -> kResourceExhausted; EINVAL/EPROTONOSUPPORT ->
// kInvalidArgument; others -> kUnavailable).
absl::Status zmq_status(const zmq::error_t& error, const std::string& what);

}  // namespace shoal::worker
