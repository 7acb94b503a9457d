#pragma once
// The workers' side of the broker: a ZeroMQ ROUTER socket speaking worker.proto, one
// protobuf frame per message. Owned and used by one thread (the scheduler's), which
// polls router() and monitor(). Malformed frames are counted, logged once per kind and
// dropped; they never stop the gateway.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "broker/actions.h"
#include "broker/logger.h"
#include "shoal/v1/worker.pb.h"
#include "zmq.hpp"

namespace shoal::broker {

class WorkerGateway {
 public:
  struct Options {
    std::string address = "tcp://127.0.0.1:5555";  // port 0 picks a free port
    uint64_t max_message_bytes = 64 << 20;         // frames above 4x this are refused
    // CURVE: the broker's secret key (Z85, checked by the caller); empty = plaintext.
    // Workers must then know the broker's public key.
    std::string curve_secret_key;
    // Z85 public keys of the workers let in (through a ZAP handler on the gateway's
    // context); empty = any worker that knows the broker's public key.
    std::vector<std::string> curve_worker_keys;
  };
  // What the gateway reports to its owner.
  class Handler {
   public:
    virtual ~Handler() = default;
    // A well-formed version-1 frame from routing id `peer`; `msg` may be moved from.
    virtual void on_frame(const std::string& peer, shoal::v1::WorkerMessage* msg) = 0;
    // The connection of a worker that said hello closed.
    virtual void on_disconnect(const std::string& peer) = 0;
  };

  // Binds a ROUTER to options.address (kUnavailable if it cannot). `context` and `log`
  // must outlive the gateway.
  static absl::StatusOr<std::unique_ptr<WorkerGateway>> bind(zmq::context_t& context,
                                                             Options options, const Logger* log);
  ~WorkerGateway();

  // The bound endpoint with its real port, e.g. "tcp://127.0.0.1:41234".
  const std::string& endpoint() const { return endpoint_; }
  // Sockets to poll for ZMQ_POLLIN.
  zmq::socket_ref router() { return router_; }
  zmq::socket_ref monitor() { return monitor_; }
  // The ZAP socket admitting workers by key; a null ref without curve_worker_keys.
  zmq::socket_ref zap() { return zap_; }

  // Reads up to `max` frames without blocking and hands the good ones to `handler`,
  // but for a hello whose connection has closed already (read late: the loop was busy
  // or stopped), which no worker would answer and no close would ever name. Such a
  // hello is not always told: when a later connection already has its descriptor again,
  // it is handed over, and the first frame sent to its peer fails (send() is false).
  // Returns how many frames were read.
  size_t receive(Handler& handler, size_t max);
  // Reads connection events without blocking; reports closed worker connections and
  // counts failed CURVE handshakes as refused. A closed connection is reported after
  // the frames still waiting in the socket (the worker's last results and its Bye
  // arrived before its close; read after it, its tasks were retried needlessly) —
  // unless `in_receive`, when receive() is handling a frame (a hello) and asks only
  // for older closes. Returns how many connection closes it read (of any connection,
  // said hello or not).
  size_t receive_events(Handler& handler, bool in_receive = false);
  // Answers the waiting ZAP requests: workers whose key is listed are let in.
  void answer_zap();
  // Worker connections refused so far: a failed CURVE handshake or an unlisted key.
  // Thread-safe.
  uint64_t refused_workers() const { return refused_workers_.load(std::memory_order_relaxed); }
  // Sends `msg` to `peer`; stamps heartbeats. False when nothing was sent because the
  // peer's connection is gone (ZMQ_ROUTER_MANDATORY's EHOSTUNREACH; also a closed
  // connection whose last frames wait unread), or, which sndhwm 0 rules out, its queue
  // is full: the worker will never see the frame.
  bool send(const std::string& peer, shoal::v1::BrokerMessage& msg);
  // Sends a TaskBatch already encoded by Actions::add_task to `peer`; false as send().
  bool send_task_batch(const std::string& peer, const EncodedTaskBatch& batch);
  // Malformed or wrong-version frames so far. Thread-safe.
  uint64_t bad_frames() const { return bad_frames_.load(std::memory_order_relaxed); }
  // Closes the sockets, giving queued frames up to `linger_ms` to leave.
  void close(int linger_ms);

 private:
  enum class BadFrame {
    kMultipart, kUnparsable, kWrongVersion, kNoBody, kNoSlots, kBadHello, kCount
  };
  WorkerGateway(zmq::context_t& context, const Logger* log);
  void count_bad(BadFrame kind, const std::string& detail);
  bool send_frame(const std::string& peer, zmq::message_t& body);

  const Logger* log_;
  zmq::socket_t router_;
  zmq::socket_t monitor_;
  zmq::socket_t zap_;  // REP at inproc://zeromq.zap.01, only with curve_worker_keys
  absl::flat_hash_set<std::string> allowed_keys_;  // Z85 public keys
  absl::flat_hash_set<std::string> refused_logged_;  // keys already logged (bounded)
  bool logged_failed_handshake_ = false;
  std::string endpoint_;
  std::atomic<uint64_t> bad_frames_{0};
  std::atomic<uint64_t> refused_workers_{0};
  bool logged_[int(BadFrame::kCount)] = {};
  absl::flat_hash_map<int, std::string> peer_by_fd_;  // connections that said hello
  // Descriptors whose last event was a close (none opened since): a hello read from one
  // comes from a closed connection.
  absl::flat_hash_set<int> closed_fds_;
};

}  // namespace shoal::broker
