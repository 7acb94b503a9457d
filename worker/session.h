#pragma once
// The worker's session with its broker (proto/shoal/v1/worker.proto): hello and
// welcome, tasks in (never more than the credit granted), results out (each returning
// credit; in frames within the broker's --max-message-bytes, a larger result failing its
// task), heartbeats both ways, a new socket and a new hello when the broker is lost
// or asks for it, and a clean stop (Bye, drain, exit).
//
// One thread (the caller of run()) owns the socket and everything here; the engine's
// threads only reach it through the CompletionQueue.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <zmq.hpp>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "shoal/internal/malloc_tuning.h"
#include "worker/log.h"
#include "worker/task_runner.h"
#include "worker/transport.h"

namespace shoal::worker {

// The largest result a broker that does not say (Welcome.max_message_bytes = 0, a broker
// before that field) is assumed to take: the default of its --max-message-bytes.
inline constexpr std::uint64_t kDefaultMaxMessageBytes = 64u << 20;
// How long a stopping worker's last frames may take to reach a connected broker.
inline constexpr int kExitLingerMs = 2000;

struct SessionConfig {
  std::string broker;                  // tcp://HOST:PORT
  Transport::Curve curve;              // the broker's CURVE key and ours; empty: plaintext
  std::string name;                    // unique worker name: its identity at the broker
  std::string instance;                // random, once per process (WorkerHello.instance)
  std::string host;
  std::uint64_t pid = 0;
  std::vector<std::string> queues;     // served queues
  std::vector<std::string> tasks;      // registered task names
  int slots = 1;                       // engine processes
  int prefetch = 1;                    // tasks held per slot
  std::chrono::milliseconds hello_retry{1000};     // new socket + hello while unanswered
  std::chrono::milliseconds drain_timeout{30000};  // stop: then running tasks are killed
  // How long a new connection is tried again, each second, while the process is out of
  // file descriptors or memory for it (EMFILE, ENFILE, ENOMEM, ENOBUFS); then run() fails.
  std::chrono::milliseconds connect_retry{60000};
  std::size_t resend_bytes = 64u << 20;            // results kept to re-send after a loss
};

struct SessionStats {
  std::uint64_t bad_frames = 0;  // malformed, wrong-version or multi-part broker frames
  std::uint64_t welcomes = 0;
  std::uint64_t tasks = 0;       // tasks received
  std::uint64_t results = 0;     // results sent (re-sends included)
  std::uint64_t reconnects = 0;
  std::uint64_t returned = 0;    // tasks handed back unstarted (stopping)
  // How long run()'s last frames (results, Bye) were given to leave when it returned:
  // kExitLingerMs over a live connection, 0 with the broker unreachable (never reached,
  // or its connection closed), when they had nowhere to go.
  int exit_linger_ms = 0;
};

class WorkerSession {
 public:
  // `context`, `runner`, `done` and `log` must outlive the session.
  WorkerSession(SessionConfig config, zmq::context_t& context, TaskRunner& runner,
                CompletionQueue& done, const Log& log);

  // Serves the broker until `stop_fd` is readable, then drains: says Bye{draining} (no
  // more tasks), lets running tasks finish (killing them after drain_timeout) while
  // sending heartbeats, sends their results and a last Bye. Those last frames get up to
  // kExitLingerMs to leave after it returns (the context's end waits for them) only
  // while a connection to the broker is up; with the broker unreachable they are
  // dropped and nothing waits. Calls `on_ready` once, on the first Welcome. Returns
  // non-OK only for a fatal error: a malformed broker endpoint, or kAlreadyExists when
  // the broker still refuses the name Refused.retry_ms after its first refusal (a live
  // worker of another process has it); kUnavailable after a drain begun because the
  // engine's processes are gone (it cannot run tasks any more); a lost broker is
  // retried forever.
  absl::Status run(int stop_fd, const std::function<void()>& on_ready);

  const SessionStats& stats() const { return stats_; }

  // For tests: the current connection's socket (null between connections). Only on
  // run()'s thread, e.g. from an engine's submit().
  zmq::socket_t* socket_for_testing() { return transport_ ? &transport_->socket() : nullptr; }

 private:
  using Clock = std::chrono::steady_clock;

  absl::Status reconnect(const std::string& why);
  // A new Transport; one that fails for want of descriptors or memory is tried again each
  // second for up to config_.connect_retry, or until `stop_fd_` is readable.
  absl::StatusOr<std::unique_ptr<Transport>> connect();
  void receive_all(Clock::time_point now, const std::function<void()>& on_ready);
  void handle(v1::BrokerMessage& message, const std::function<void()>& on_ready);
  // Sends the waiting results (taking the engine's first when `take`), in frames
  // within the broker's limit.
  void flush_results(bool take);
  // Turns `result` (`size` bytes encoded, more than the broker takes) into the task's
  // final RESOURCE_EXHAUSTED failure naming both sizes; returns its new size.
  std::size_t fail_oversized(v1::TaskResult& result, std::size_t size);
  // New credit to grant, `reporting` results being sent in the same frame (their slots
  // are free once the broker reads them, before it adds the credit).
  std::uint32_t grant(std::int64_t reporting = 0);
  void send(v1::WorkerMessage& message);
  void bad_frame(const absl::Status& status);
  // Stops taking tasks: Bye{draining} when welcomed, else a new hello granting nothing.
  void begin_stop();
  // Takes the tasks the engine has not started back from it, to hand to the broker.
  void return_unstarted();
  // Bye{draining: true} when the stop begins (no more tasks, the held ones still run),
  // Bye{draining: false} when leaving.
  void send_bye(bool draining);
  void remember(std::string frame, Clock::time_point now);

  const SessionConfig config_;
  zmq::context_t& context_;
  TaskRunner& runner_;
  CompletionQueue& done_;
  const Log& log_;

  std::unique_ptr<Transport> transport_;
  bool ready_ = false;  // Welcome received on the current socket
  int unanswered_hellos_ = 0;  // hellos sent since the last Welcome
  // Since the first Refused without a Welcome after it (nullopt: not refused).
  std::optional<Clock::time_point> refused_since_;
  absl::Status fatal_;  // run() returns it once set
  int stop_fd_ = -1;    // run()'s
  absl::Status engine_lost_;  // the engine stopped by itself: run() drains, returns it
  bool announced_ = false;
  Clock::time_point hello_sent_, last_recv_, last_send_;
  std::chrono::milliseconds heartbeat_{1000};
  int liveness_ = 3;
  std::uint64_t max_message_bytes_ = kDefaultMaxMessageBytes;  // Welcome's: largest result
  std::int64_t outstanding_credit_ = 0;  // granted to this broker, not yet used
  // Tasks this broker counts as leased to us: received, and their results not yet sent.
  // Credit is granted against this, not against running tasks: a task that finished
  // but whose result is still here holds its slot at the broker, which would clamp a
  // grant counting that slot, and the difference would accumulate in
  // outstanding_credit_ until the worker granted one task at a time.
  std::int64_t leased_ = 0;
  std::deque<v1::TaskResult> unsent_;
  std::vector<TaskRunner::Returned> to_return_;  // unstarted, handed back when stopping
  // ResultBatch frames sent within the last two liveness windows: a broker that died
  // may not have read them, so their results are sent again after the next Welcome.
  std::deque<std::pair<Clock::time_point, std::string>> recent_;
  std::size_t recent_bytes_ = 0;
  bool stopping_ = false;
  bool killed_ = false;
  Clock::time_point drain_deadline_, kill_deadline_;
  absl::flat_hash_set<int> logged_bad_kinds_;
  internal::IdleMemoryRelease idle_memory_;  // busy: tasks leased to us
  SessionStats stats_;
};

}  // namespace shoal::worker
