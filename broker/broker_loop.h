#pragma once
// The scheduler's thread: one poller over the workers' ROUTER socket, its connection
// monitor and the client inbox's eventfd. It feeds the Scheduler in batches (up to
// kMaxFramesPerRound worker frames, then every waiting client event) and sends the
// resulting actions once per round, so a burst costs one wake-up, not one per task.
// With a durable store, the store is committed (one fdatasync) before held Accepted ids
// go out (once a tick) and before the round's Cancel calls are answered: what the broker
// acknowledges survives a crash. Tasks and results go out at once; a crash before their
// commit means a task runs again (at least once), never a task lost.

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "broker/actions.h"
#include "broker/client_events.h"
#include "broker/clock.h"
#include "broker/logger.h"
#include "broker/scheduler.h"
#include "broker/worker_gateway.h"
#include "shared/include/shoal/internal/malloc_tuning.h"

namespace shoal::broker {

class BrokerLoop final : private WorkerGateway::Handler {
 public:
  // Everything the loop drives; all must outlive it. After run() starts, scheduler and
  // workers are touched by the loop's thread only.
  struct Deps {
    Scheduler* scheduler = nullptr;
    WorkerGateway* workers = nullptr;
    ClientInbox* inbox = nullptr;
    SessionSink* sessions = nullptr;
    const Clock* clock = nullptr;
    const Logger* log = nullptr;
    TaskStore* store = nullptr;  // the scheduler's: committed before acknowledging
    // Called once, on the loop's thread, when the store cannot make changes durable any
    // more: the loop has stopped and acknowledges nothing more.
    std::function<void(const absl::Status&)> on_store_failure;
    uint32_t max_wait_ms = 600'000;  // GetResult waits are capped at this
  };
  explicit BrokerLoop(Deps deps) : deps_(deps) {}

  // Serves until stop(); then closes the inbox, answers what waits, sends Shutdown to
  // every worker and returns. Blocks the calling thread.
  void run();
  // Asks run() to return. Thread-safe; does not block.
  void stop();

 private:
  static constexpr size_t kMaxFramesPerRound = 512;
  static constexpr int64_t kTickMs = 50;
  // Gaps at least this long in reading worker frames do not count as workers' silence
  // (Scheduler::excuse_silence); shorter ones are the loop's normal work.
  static constexpr int64_t kDeafMs = 100;
  // Accepted ids wait for the next tick, or until this many gather for one session: they
  // only open the client's submission window (65,536 tasks by default), and a result
  // implies its task was accepted. One Accepted per round trip was a third of the
  // messages of sequential calls.
  static constexpr int kMaxHeldAccepted = 4096;

  void on_frame(const std::string& peer, shoal::v1::WorkerMessage* msg) override;
  void on_disconnect(const std::string& peer) override;
  void handle(ClientEvent& event);
  // Session `s` sent a bad message: writes what its earlier messages are owed, then ends
  // it with `status`.
  void end_session(SessionId s, grpc::Status status);
  // Tells the sessions that `events` (this round's, flushed) are handled, and clears them.
  void release_handled(std::vector<ClientEvent>& events);
  // Answers the Cancel calls handled this round, after one commit of the store.
  void answer_cancels();
  // Commits the store; on failure stops the loop (false: acknowledge nothing more).
  bool commit_store();
  // Rewrites the store's journal with the live tasks (logs how long the loop stopped).
  void rewrite_store();
  // Sends this round's actions. Frames a worker's connection could not take (it is
  // gone) go back to the scheduler (Scheduler::undeliverable), and what that causes is
  // sent in turn.
  void flush();
  // Sends the actions once; records the frames that could not be sent in undelivered_.
  void send_actions();
  void hold_accepted(SessionId s, shoal::v1::ServerMessage& message);
  void send_held_accepted(SessionId s);  // 0: every session
  void fill_stats(shoal::v1::Stats* stats) const;

  Deps deps_;
  Actions actions_;
  std::atomic<bool> stop_{false};
  bool store_failed_ = false;
  uint64_t next_token_ = 1;
  absl::flat_hash_map<uint64_t, GetResultCall> waiting_;  // GetResult calls by token
  absl::flat_hash_map<UnaryResponder*, uint64_t> waiting_tokens_;  // their tokens
  std::vector<UnaryResponder*> cancels_;  // Cancel calls handled, answered by round's end
  absl::flat_hash_map<SessionId, shoal::v1::ServerMessage> held_accepted_;
  std::vector<UndeliveredSend> undelivered_;  // by send_actions(), one entry per peer
  internal::IdleMemoryRelease idle_memory_;  // busy: tasks queued or running
};

}  // namespace shoal::broker
