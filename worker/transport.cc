#include "worker/transport.h"

#include <atomic>
#include <climits>
#include <string>

#include "shared/curve_keys.h"
#include "shared/zmq_monitor.h"

namespace shoal::worker {
namespace {

// Unique per process: a new socket may get a closed one's address, while the monitor
// endpoint named after that one is still being torn down.
std::string monitor_endpoint() {
  static std::atomic<std::uint64_t> next{0};
  return "inproc://shoal-worker-link-" + std::to_string(next.fetch_add(1));
}

}  // namespace

absl::Status zmq_status(const zmq::error_t& error, const std::string& what) {
  std::string message = what + ": " + error.what();
  switch (error.num()) {
    case EAGAIN:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOBUFS: return absl::ResourceExhaustedError(message);
    case EINVAL:
    case EPROTONOSUPPORT:
    case ENOCOMPATPROTO: return absl::InvalidArgumentError(message);
    default: return absl::UnavailableError(message);
  }
}

absl::StatusOr<std::unique_ptr<Transport>> Transport::connect(zmq::context_t& context,
                                                              const std::string& endpoint,
                                                              const Curve& curve) {
  try {
    zmq::socket_t socket(context, zmq::socket_type::dealer);
    if (!curve.broker_public_key.empty()) {
      auto z85 = [](const std::string& key) {
        return zmq::buffer(internal::curve_key_option(key));
      };
      socket.set(zmq::sockopt::curve_serverkey, z85(curve.broker_public_key));
      socket.set(zmq::sockopt::curve_publickey, z85(curve.public_key));
      socket.set(zmq::sockopt::curve_secretkey, z85(curve.secret_key));
    }
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::ipv6, 1);  // else ZeroMQ reaches IPv4 addresses only
    socket.set(zmq::sockopt::sndhwm, 100000);
    socket.set(zmq::sockopt::rcvhwm, 100000);
    socket.set(zmq::sockopt::reconnect_ivl, 100);
    socket.set(zmq::sockopt::reconnect_ivl_max, 1000);
    // Whether a connection is up decides whether closing waits for queued frames.
    const std::string monitor = monitor_endpoint();
    if (zmq_socket_monitor(socket.handle(), monitor.c_str(),
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0) {
      throw zmq::error_t();
    }
    zmq::socket_t events(context, zmq::socket_type::pair);
    events.set(zmq::sockopt::linger, 0);
    // No limit, as the broker's monitor: a full pipe would block ZeroMQ's I/O thread.
    events.set(zmq::sockopt::rcvhwm, 0);
    events.connect(monitor);
    socket.connect(endpoint);
    return std::unique_ptr<Transport>(new Transport(std::move(socket), std::move(events)));
  } catch (const zmq::error_t& e) {
    return zmq_status(e, "connect to " + endpoint);
  }
}

absl::Status Transport::send(v1::WorkerMessage& message) {
  message.set_version(kProtocolVersion);
  return send_bytes(message.SerializeAsString());
}

absl::Status Transport::send_bytes(const std::string& bytes) {
  try {
    auto sent = socket_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
    if (!sent) return absl::ResourceExhaustedError("the broker link's queue is full");
    return absl::OkStatus();
  } catch (const zmq::error_t& e) {
    return zmq_status(e, "send");
  }
}

absl::StatusOr<std::optional<v1::BrokerMessage>> Transport::receive() {
  zmq::message_t frame;
  try {
    if (!socket_.recv(frame, zmq::recv_flags::dontwait)) return std::nullopt;
    bool extra = frame.more();
    for (bool more = extra; more;) {  // one frame per message: drain the rest
      zmq::message_t part;
      if (!socket_.recv(part, zmq::recv_flags::dontwait)) break;
      more = part.more();
    }
    if (extra) return absl::InvalidArgumentError("multi-part message");
  } catch (const zmq::error_t& e) {
    return zmq_status(e, "receive");
  }
  v1::BrokerMessage message;
  if (frame.size() > std::size_t(INT_MAX)) {  // protobuf's limit; no broker sends this much
    return absl::InvalidArgumentError("frame of " + std::to_string(frame.size()) +
                                      " bytes, over 2 GiB");
  }
  if (!message.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) {
    return absl::InvalidArgumentError("frame does not parse as a BrokerMessage");
  }
  if (message.version() != kProtocolVersion) {
    return absl::FailedPreconditionError("frame of protocol version " +
                                         std::to_string(message.version()));
  }
  if (message.body_case() == v1::BrokerMessage::BODY_NOT_SET) {
    return absl::InvalidArgumentError("frame without a body");
  }
  return message;
}

Transport::~Transport() {
  zmq_socket_monitor(socket_.handle(), nullptr, 0);  // no event to a closing PAIR
}

bool Transport::connected() {
  try {
    while (std::optional<internal::MonitorEvent> event = internal::next_monitor_event(events_)) {
      if (event->kind == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) connected_ = true;
      if (event->kind == ZMQ_EVENT_DISCONNECTED) connected_ = false;
    }
  } catch (const zmq::error_t&) {
    // An inproc PAIR fails only when the context ends: what we know stays.
  }
  return connected_;
}

void Transport::set_linger(int ms) {
  try {
    socket_.set(zmq::sockopt::linger, ms);
  } catch (const zmq::error_t&) {
    // A closed socket has nothing left to send.
  }
}

}  // namespace shoal::worker
