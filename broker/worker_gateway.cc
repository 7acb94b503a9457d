#include "broker/worker_gateway.h"

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <iterator>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "broker/config.h"
#include "shared/curve_keys.h"
#include "shared/endpoint.h"
#include "shared/zap_handler.h"
#include "shared/zmq_monitor.h"
#include "shoal/internal/name_limits.h"
#include "shoal/internal/utf8.h"
#include "zmq_addon.hpp"

namespace shoal::broker {
namespace {

// "tcp://host:0" -> "tcp://host:*" (ZeroMQ's spelling of "any free port").
std::string bind_spelling(const std::string& address) {
  if (absl::EndsWith(address, ":0")) return address.substr(0, address.size() - 1) + "*";
  return address;
}

}  // namespace

WorkerGateway::WorkerGateway(zmq::context_t& context, const Logger* log)
    : log_(log), router_(context, zmq::socket_type::router), monitor_(context, zmq::socket_type::pair) {}

WorkerGateway::~WorkerGateway() { close(0); }

absl::StatusOr<std::unique_ptr<WorkerGateway>> WorkerGateway::bind(zmq::context_t& context,
                                                                   Options options,
                                                                   const Logger* log) {
  std::unique_ptr<WorkerGateway> gw(new WorkerGateway(context, log));
  const bool curve = !options.curve_secret_key.empty();
  gw->allowed_keys_.insert(options.curve_worker_keys.begin(), options.curve_worker_keys.end());
  try {
    if (curve) {
      if (!gw->allowed_keys_.empty()) {
        // libzmq asks the handler at this fixed address of the context about every
        // CURVE handshake (ZAP, RFC 27); it must be bound before the first worker comes.
        gw->zap_ = zmq::socket_t(context, zmq::socket_type::rep);
        gw->zap_.bind(internal::kZapEndpoint);
        gw->router_.set(zmq::sockopt::zap_domain, "shoal-workers");
      }
      gw->router_.set(zmq::sockopt::curve_server, true);
      gw->router_.set(zmq::sockopt::curve_secretkey,
                      zmq::buffer(internal::curve_key_option(options.curve_secret_key)));
    }
    gw->router_.set(zmq::sockopt::ipv6, internal::zmq_bind_needs_ipv6(options.address));
    gw->router_.set(zmq::sockopt::sndhwm, 0);  // credits bound what we queue per worker
    // A frame to a connection that is gone fails instead of vanishing: a hello read late
    // can register a worker whose connection closed (the gateway cannot always tell, see
    // receive()), and tasks sent to it must come back without costing a retry.
    gw->router_.set(zmq::sockopt::router_mandatory, true);
    gw->router_.set(zmq::sockopt::rcvhwm, 0);
    gw->router_.set(zmq::sockopt::maxmsgsize, int64_t(max_frame_bytes(options.max_message_bytes)));
    gw->router_.bind(bind_spelling(options.address));
    gw->endpoint_ = gw->router_.get(zmq::sockopt::last_endpoint);
    // Connection events, to notice a worker whose connection closed without a Bye.
    // Named by a count, not by the gateway's address: a gateway made where a closed one
    // was found its monitor endpoint still bound (ZeroMQ closes it a moment later).
    static std::atomic<uint64_t> gateways{0};
    std::string monitor_address = absl::StrCat(
        "inproc://shoal-router-monitor-", gateways.fetch_add(1, std::memory_order_relaxed));
    // Opens too: a connection's descriptor number is reused by a later one (the lowest
    // free), and a hello is from a closed connection only while its number is closed.
    // With CURVE also failed handshakes: a worker without CURVE or the broker's key.
    int events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED;
    if (curve) {
      events |= ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    }
    if (zmq_socket_monitor(gw->router_.handle(), monitor_address.c_str(), events) != 0) {
      return absl::InternalError(absl::StrCat("zmq_socket_monitor: ", zmq_strerror(zmq_errno())));
    }
    // No limit on events waiting: with the default one (1,000), ZeroMQ's I/O thread
    // blocks sending the next event, and all worker traffic with it, until the loop reads
    // them (seen with 1,500 connections made while the monitor was not read).
    gw->monitor_.set(zmq::sockopt::rcvhwm, 0);
    gw->monitor_.connect(monitor_address);
  } catch (const zmq::error_t& e) {
    return absl::UnavailableError(absl::StrCat(
        "cannot bind the worker endpoint ", options.address, ": ", e.what(),
        e.num() == ENODEV ? " (ZeroMQ binds an IP address, '*' or the name of a network "
                            "interface, not a host name)"
                          : ""));
  }
  return gw;
}

void WorkerGateway::count_bad(BadFrame kind, const std::string& detail) {
  bad_frames_.fetch_add(1, std::memory_order_relaxed);
  if (!logged_[int(kind)]) {  // once per kind: a flood of garbage must not flood the log
    logged_[int(kind)] = true;
    log_->warning("dropped a bad worker frame (", detail,
                  "); further frames of this kind are only counted");
  }
}

namespace {
constexpr size_t kMaxFramesBeforeClose = 16384;

// Why a hello is refused, or "": names end up in logs, stats and the broker's memory,
// so a worker cannot register names of any length or queues without number.
std::string hello_problem(const shoal::v1::WorkerHello& hello) {
  using internal::kMaxNameBytes, internal::kMaxQueuesPerWorker, internal::kMaxTaskNameBytes;
  if (hello.name().size() > kMaxNameBytes) {
    return absl::StrCat("a hello with a name of ", hello.name().size(), " bytes (at most ",
                        kMaxNameBytes, ")");
  }
  if (hello.queues_size() > int(kMaxQueuesPerWorker)) {
    return absl::StrCat("a hello from ", internal::quoted_excerpt(hello.name()), " with ", hello.queues_size(),
                        " queues (at most ", kMaxQueuesPerWorker, ")");
  }
  for (const std::string& q : hello.queues()) {
    if (q.size() > kMaxNameBytes) {
      return absl::StrCat("a hello from ", internal::quoted_excerpt(hello.name()), " with a queue name of ", q.size(),
                          " bytes (at most ", kMaxNameBytes, ")");
    }
  }
  for (const std::string& t : hello.tasks()) {
    if (t.size() > kMaxTaskNameBytes) {
      return absl::StrCat("a hello from ", internal::quoted_excerpt(hello.name()), " with a task name of ", t.size(),
                          " bytes (at most ", kMaxTaskNameBytes, ")");
    }
  }
  return "";
}
}  // namespace

size_t WorkerGateway::receive(Handler& handler, size_t max) {
  size_t n = 0;
  zmq::message_t id, body;
  shoal::v1::WorkerMessage msg;
  for (; n < max; ++n) {
    if (!router_.recv(id, zmq::recv_flags::dontwait)) break;
    if (!id.more()) continue;  // cannot happen on a ROUTER; nothing to answer
    [[maybe_unused]] auto got = router_.recv(body, zmq::recv_flags::none);
    if (body.more()) {
      while (body.more()) [[maybe_unused]] auto rest = router_.recv(body, zmq::recv_flags::none);
      count_bad(BadFrame::kMultipart, "a message of more than one frame");
      continue;
    }
    msg.Clear();
    if (!msg.ParseFromArray(body.data(), int(body.size()))) {
      count_bad(BadFrame::kUnparsable, "not a shoal.v1.WorkerMessage");
      continue;
    }
    if (msg.version() != 1) {
      count_bad(BadFrame::kWrongVersion, absl::StrCat("version ", msg.version(), ", expected 1"));
      continue;
    }
    if (msg.body_case() == shoal::v1::WorkerMessage::BODY_NOT_SET) {
      count_bad(BadFrame::kNoBody, "a WorkerMessage without a body");
      continue;
    }
    if (msg.has_hello() && msg.hello().slots() == 0) {  // it could never take a task
      count_bad(BadFrame::kNoSlots, absl::StrCat("a hello from ",
                                                 internal::quoted_excerpt(msg.hello().name()),
                                                 " with 0 slots; a worker needs at least one"));
      continue;
    }
    if (msg.has_hello()) {
      if (std::string why = hello_problem(msg.hello()); !why.empty()) {
        count_bad(BadFrame::kBadHello, why);
        continue;
      }
    }
    std::string peer(id.data<char>(), id.size());
    if (msg.has_hello()) {
      // An older close of a reused fd first; and the events up to now, among them the
      // open of this hello's connection (it came before the hello).
      receive_events(handler, /*in_receive=*/true);
      int fd = zmq_msg_get(body.handle(), ZMQ_SRCFD);
      if (fd >= 0 && closed_fds_.contains(fd)) {
        // Its connection closed before we read it (this loop was busy or stopped), and
        // no close would ever name it: registered, it would be sent tasks until liveness.
        log_->info("worker ", internal::quoted_excerpt(msg.hello().name()), " (",
                   internal::quoted_excerpt(msg.hello().host()), ":", msg.hello().pid(),
                   ") said hello on a connection closed since; ignored");
        continue;
      }
      if (fd >= 0) peer_by_fd_[fd] = peer;
      log_->info("worker ", internal::quoted_excerpt(msg.hello().name()), " (",
                 internal::quoted_excerpt(msg.hello().host()), ":", msg.hello().pid(),
                 ") said hello: ", msg.hello().slots(), " slots");
    }
    handler.on_frame(peer, &msg);
  }
  return n;
}

size_t WorkerGateway::receive_events(Handler& handler, bool in_receive) {
  std::vector<std::string> closed;
  size_t closes = 0;
  while (std::optional<internal::MonitorEvent> event = internal::next_monitor_event(monitor_)) {
    const uint16_t kind = event->kind;
    const int32_t fd = event->value;
    if (kind == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || kind == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
      refused_workers_.fetch_add(1, std::memory_order_relaxed);
      if (!logged_failed_handshake_) {
        logged_failed_handshake_ = true;
        log_->warning("a worker failed the CURVE handshake (it does not use CURVE, or not with "
                      "this broker's public key); further ones are only counted");
      }
      continue;
    }
    if (kind == ZMQ_EVENT_ACCEPTED) {
      closed_fds_.erase(fd);
      continue;
    }
    if (kind != ZMQ_EVENT_DISCONNECTED) continue;
    ++closes;
    closed_fds_.insert(fd);
    auto it = peer_by_fd_.find(fd);
    if (it == peer_by_fd_.end()) continue;
    closed.push_back(std::move(it->second));
    peer_by_fd_.erase(it);
  }
  if (closed.empty()) return closes;
  // Bounded: frames of other workers arriving meanwhile must not keep us here.
  if (!in_receive) receive(handler, kMaxFramesBeforeClose);
  for (const std::string& peer : closed) handler.on_disconnect(peer);
  return closes;
}

void WorkerGateway::answer_zap() {
  absl::Status status =
      internal::answer_zap_requests(zap_, [&](const std::string& key, const std::string& address) {
        if (allowed_keys_.contains(key)) return true;
        refused_workers_.fetch_add(1, std::memory_order_relaxed);
        // Logged once per key (and for at most 1,024 keys): a scanner must not flood the log.
        if (refused_logged_.size() < 1024 && refused_logged_.insert(key).second) {
          log_->warning("refused a worker from ", address, ": its CURVE key ", key,
                        " is not in --curve-worker-keys-file");
        }
        return false;
      });
  if (!status.ok()) log_->warning(status.message());
}

bool WorkerGateway::send(const std::string& peer, shoal::v1::BrokerMessage& msg) {
  if (msg.has_heartbeat()) {
    msg.mutable_heartbeat()->set_sent_unix_ms(uint64_t(
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count()));
  }
  zmq::message_t body(msg.ByteSizeLong());
  msg.SerializeWithCachedSizesToArray(static_cast<uint8_t*>(body.data()));
  return send_frame(peer, body);
}

bool WorkerGateway::send_task_batch(const std::string& peer, const EncodedTaskBatch& batch) {
  zmq::message_t body(batch.frame_size());
  batch.write_frame(static_cast<uint8_t*>(body.data()));
  return send_frame(peer, body);
}

bool WorkerGateway::send_frame(const std::string& peer, zmq::message_t& body) {
  try {
    // With ZMQ_ROUTER_MANDATORY the routing id decides: EHOSTUNREACH (thrown) for a
    // connection that is gone, EAGAIN (no throw with dontwait) for a full one. Either
    // way nothing was queued, and the body must not follow as a message of its own.
    if (!router_.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      log_->warning("cannot send to worker ", absl::BytesToHexString(peer),
                    ": its queue is full (ZeroMQ's sndhwm is meant to be unlimited)");
      return false;
    }
    router_.send(body, zmq::send_flags::dontwait);
    return true;
  } catch (const zmq::error_t& e) {
    if (e.num() != EHOSTUNREACH) {
      log_->warning("cannot send to worker ", absl::BytesToHexString(peer), ": ", e.what());
    }
    return false;
  }
}

void WorkerGateway::close(int linger_ms) {
  if (router_.handle() != nullptr) {
    zmq_socket_monitor(router_.handle(), nullptr, 0);
    router_.set(zmq::sockopt::linger, linger_ms);
    router_.close();
  }
  if (monitor_.handle() != nullptr) {
    monitor_.set(zmq::sockopt::linger, 0);
    monitor_.close();
  }
  if (zap_.handle() != nullptr) {
    zap_.set(zmq::sockopt::linger, 0);
    zap_.close();
  }
}

}  // namespace shoal::broker
