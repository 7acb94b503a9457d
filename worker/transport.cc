#include "worker/transport.h"

#include "shared/curve_keys.h"

namespace shoal::worker {

absl::Status zmq_status(const zmq::error_t& error, const std::string& what) {
  std::string message = what + ": " + error.what();
  switch (error.num()) {
    case EAGAIN: return absl::ResourceExhaustedError(message);
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
    socket.connect(endpoint);
    return std::unique_ptr<Transport>(new Transport(std::move(socket)));
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

void Transport::set_linger(int ms) {
  try {
    socket_.set(zmq::sockopt::linger, ms);
  } catch (const zmq::error_t&) {
    // A closed socket has nothing left to send.
  }
}

}  // namespace shoal::worker
