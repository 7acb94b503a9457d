#pragma once
// The remote backend behind Pool::connect: tasks go to a broker over one gRPC Session
// stream, results come back on it.
//
// Every submission is kept (its wire Task included) until its result arrives, so that
// after a broker restart the backend can re-open the session, Watch its outstanding
// ids and resubmit the ones the broker reports Unknown. Submitters only enqueue; the
// writer sends what accumulated while the previous write was in flight as one batch.
// A supervisor thread reconnects and re-sends tasks the broker rejected as full
// (RESOURCE_EXHAUSTED) after a backoff; submit() blocks while too much is unaccepted.
// A session counts as reconnected once the broker answered it, unless it ended it for
// what it was sent (RESOURCE_EXHAUSTED, INVALID_ARGUMENT) before it took or answered any
// task on it. One it refuses (UNAUTHENTICATED, PERMISSION_DENIED) fails the outstanding
// tasks at once, since the pool's credentials never change; others are retried after a
// growing delay until reconnect_window has passed since the last good session. A task the broker
// ends the session on (RESOURCE_EXHAUSTED, INVALID_ARGUMENT) each time it is sent first, twice in a
// row and then alone, fails with the broker's words. Every message is sized by all its
// fields to stay under the broker's receive limit (4 × --max-message-bytes + 1 MiB).
// When nothing has been outstanding for a few seconds it returns freed memory (MiB
// payloads keep it mapped while busy: retain_payload_memory_until_idle).

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "client/remote_channel.h"
#include "client/remote_session.h"
#include "shoal/internal/backend.h"
#include "shoal/internal/malloc_tuning.h"

namespace shoal::internal {

class RemoteBackend final : public Backend, private SessionListener {
 public:
  using Clock = std::chrono::steady_clock;

  // Tunables (tests shrink them).
  struct Limits {
    std::size_t max_unaccepted = 65536;               // tasks sent but not yet accepted
    std::size_t max_unaccepted_bytes = 256u << 20;    // their argument bytes
    std::size_t max_batch_bytes = 4u << 20;           // one SubmitBatch (one task may exceed)
    std::size_t max_batch_tasks = 16384;
    std::chrono::milliseconds reconnect_window{30000};  // then outstanding fail: ConnectionError
    std::chrono::milliseconds supervisor_tick{1000};    // the supervisor wakes at least this often
    TlsSettingNames tls_names;  // how connect()'s error names the TLS settings
  };

  // Connects to `address`; throws ConnectionError when nothing answers within
  // options.connect_timeout, or when the broker refuses the credentials. Dropping the
  // last reference on one of the backend's own threads (in a done-callback) destroys
  // it on a new detached thread, which the teardown does not wait for.
  static std::shared_ptr<RemoteBackend> connect(const std::string& address,
                                                const ConnectOptions& options, Limits limits);
  // Stops the session and the supervisor; unfinished submissions fail with kCancelled.
  ~RemoteBackend() override;

  bool local() const override { return false; }
  // Blocks while the unaccepted window is full, except on a remote backend's own thread
  // (a done-callback): that thread may be the one that frees the window, so the window
  // is exceeded by what such callbacks submit.
  void submit(std::vector<Submission>& batch) override;
  // As submit(), waiting for room only until `deadline` (Backend::submit_until()).
  bool submit_until(std::vector<Submission>& batch, Clock::time_point deadline) override;
  void close() override;
  void terminate() override;
  // As Backend::join(); throws shoal::Error on the backend's own threads (in a
  // done-callback), which it would wait for.
  void join() override;
  int processes() const override;
  // The slots serving `queue` ("": the pool's), as the broker said at most a second ago.
  int processes_hint(const std::string& queue) const override;
  // The broker's --max-message-bytes, as it said when the pool connected.
  std::uint64_t max_task_bytes() const override {
    return broker_max_bytes_.load(std::memory_order_relaxed);
  }
  // Cancels `seq`: one that never reached the broker is dropped here; one the broker may
  // hold (sent, even on a session that ended since) is cancelled there (even_if_unknown)
  // and true only if the broker says so. Blocks for that call (up to connect_timeout).
  // Thread-safe.
  bool cancel(std::uint64_t seq) override;
  // What cancel_all() did with one task.
  enum class CancelOutcome {
    kCancelled,  // it will not run: dropped here, or cancelled at the broker
    kEnded,      // its result had come already, or the broker says it is done (on its way)
    kRunning,    // the broker says it is running: left alone
    kNoAnswer,   // the broker did not answer (or the backend was terminated)
  };
  // As cancel() for each of `seqs`, in few calls: one Cancel RPC carries up to
  // kMaxCancelIds ids (CancelRequest.more_ids); a broker that does not know more_ids is
  // asked one call per id, for at most max(connect_timeout, 3 s). Returns one outcome per
  // seq, in order (kNoAnswer for all from a call the broker did not answer: none is sent
  // after it). A cancelled task's sink fails with kCancelled, as cancel() does. Blocks for
  // those calls (each up to connect_timeout). Thread-safe.
  std::vector<CancelOutcome> cancel_all(const std::vector<std::uint64_t>& seqs);
  static constexpr std::size_t kMaxCancelIds = 10000;
  // Worker slots serving `queue` ("" = "default"), as the broker says now; nullopt when
  // it does not answer within 2 s.
  std::optional<int> slots_serving(const std::string& queue) const;

  // The broker's counters, as it says now; nullopt when it does not answer within 2 s
  // (or options.connect_timeout, if shorter). Blocks for that call. Thread-safe.
  std::optional<v1::Stats> stats() const;

  // How the link to the broker stands, for a client that tells its user (the CLI).
  struct Link {
    std::uint64_t losses = 0;  // sessions the broker had answered that ended since connect()
    bool up = false;           // the broker has answered the current session
  };
  // The link now. A lost broker's outstanding tasks fail once Limits::reconnect_window
  // has passed without a session it answers. Thread-safe.
  Link link() const;

  // Submissions whose results have not arrived. Thread-safe.
  std::size_t outstanding() const;
  // True while a submission that the broker rejected as full (RESOURCE_EXHAUSTED) waits
  // to be resent or accepted: the broker's --max-queued holds it back. O(outstanding()).
  // Thread-safe.
  bool waiting_for_room() const;
  // Waits up to `timeout` until the broker has accepted (or answered) everything
  // submitted so far; true if it has. Thread-safe.
  bool wait_accepted(std::chrono::milliseconds timeout);

 private:
  enum class State { kPending, kSent, kAccepted, kBackoff };
  // Outstanding tasks are keyed by their sequence number (the counter part of the id):
  // hashing and comparing a uint64 instead of an id string halves W1's client CPU.
  using Key = std::uint64_t;
  // An outstanding task: what its Task message needs (built per batch, in the session's
  // arena; the id is task_id_string(key)), where its result goes, and its state.
  struct Entry {
    Key key = 0;
    std::string name;
    std::string args;   // the wire form (remote_wire.h)
    std::string queue;  // resolved: the pool's queue when the call named none
    std::uint32_t items = 1;
    std::uint32_t priority = 0;
    std::uint64_t time_limit_ms = 0;
    std::int32_t max_retries = -1;
    std::shared_ptr<Sink> sink;
    std::size_t index = 0;
    State state = State::kPending;
    bool rejected_full = false;  // the broker said it was full, and has not accepted it since
    // Put in a SubmitBatch since the broker last said Unknown or Rejected(FULL) of it: the
    // broker may hold it even while it is kPending again (to resend after a reconnect).
    bool maybe_at_broker = false;
  };
  // True if the broker may hold `entry`: cancelling it takes a Cancel call.
  static bool may_be_at_broker(const Entry& entry) {
    return entry.maybe_at_broker || entry.state == State::kSent || entry.state == State::kAccepted;
  }
  // A sink call to make once mu_ is released.
  struct Delivery {
    std::shared_ptr<Sink> sink;
    std::size_t index = 0;
    v1::TaskResult* result = nullptr;  // unless failed; valid until delivered, then spent
    std::size_t items = 1;             // the task's calls, which `result` must answer
    ErrorInfo error;
    bool failed = false;
  };

  RemoteBackend(std::string address, ConnectOptions options, Limits limits);

  void on_message(RemoteSession* session, v1::ServerMessage& message) override;
  void on_write_done(RemoteSession* session, bool ok) override;
  void on_done(RemoteSession* session, const grpc::Status& status) override;

  void supervise();
  // Sends the next batch if nothing is being written. Call without mu_.
  void pump();
  bool build_message(v1::ClientMessage& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The most bytes one SubmitBatch or Watch may carry, every field counted (one task may
  // exceed it): half the broker's receive limit.
  std::size_t batch_bytes() const;
  // Opens a session: its hello, Watches of what the broker accepted, what it did not
  // accept sent again; what no longer fits the broker's limit fails into `out`.
  void open_session(std::vector<Delivery>& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The failure of a task whose arguments are over the broker's limit.
  static ErrorInfo too_big(std::size_t bytes, std::uint64_t max_bytes);
  // True if `entry`'s arguments fit the broker's limit; else drops it into `out`.
  bool fits(Entry& entry, std::vector<Delivery>& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes `id` (if outstanding) and queues its failure into `out`.
  void drop(Key key, const ErrorInfo& error, std::vector<Delivery>& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void fail_all(const ErrorInfo& error, std::vector<Delivery>& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void set_state(Entry& entry, State state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes the sink calls of `deliveries` (taken out of outstanding_: each counted in
  // undelivered_ until made), each on its own (internal::fail_undelivered when its sink
  // throws), and clears it. Call without mu_. Never throws.
  void deliver(std::vector<Delivery>& deliveries) noexcept ABSL_LOCKS_EXCLUDED(mu_);
  // Stops the supervisor and every session and waits for them. Thread-safe: callers
  // take turns (the threads are joined once), and later ones find nothing left to stop.
  void stop_sessions() ABSL_LOCKS_EXCLUDED(mu_, stop_mu_);

  // The backend whose own thread (a session's, or the supervisor) runs this code, if
  // any: user callbacks run there.
  static thread_local const RemoteBackend* own_thread_of_;

  const std::string address_;
  const ConnectOptions options_;
  const Limits limits_;
  // The broker's limit on one task's arguments (Stats.max_message_bytes; 0: not known).
  std::atomic<std::uint64_t> broker_max_bytes_{0};
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TaskService::Stub> stub_;

  absl::Mutex stop_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // held through stop_sessions()
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, Entry> outstanding_ ABSL_GUARDED_BY(mu_);
  std::deque<Key> pending_ ABSL_GUARDED_BY(mu_);  // to submit, in order
  std::deque<Key> watch_ ABSL_GUARDED_BY(mu_);    // to Watch after a reconnect
  std::vector<Key> backoff_ ABSL_GUARDED_BY(mu_); // rejected as full: resend later
  Clock::time_point backoff_until_ ABSL_GUARDED_BY(mu_);
  // Tasks went into backoff_ since the supervisor last looked: it must wake to time their
  // resend (its condition cannot wake it when backoff_until_ passes).
  bool backoff_armed_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::milliseconds backoff_delay_ ABSL_GUARDED_BY(mu_){0};
  // Ids in Accepted since the last resend of backoff_: the next resends up to twice as
  // many (at least kMinResend).
  std::size_t accepted_since_resend_ ABSL_GUARDED_BY(mu_) = 0;
  static constexpr std::size_t kMinResend = 1024;
  // Tasks taken out of outstanding_ whose sink calls are not made yet: join() waits for
  // them too.
  std::size_t undelivered_ ABSL_GUARDED_BY(mu_) = 0;
  std::size_t unaccepted_ ABSL_GUARDED_BY(mu_) = 0;
  std::size_t unaccepted_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // The live session, if any. Sessions are shared: pump() holds one while it writes
  // without mu_, so the supervisor's deleting it after its on_done cannot free it under
  // the writer (the last holder deletes it; never its own thread, see pump()).
  std::shared_ptr<RemoteSession> session_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;              // a write of session_ in flight
  // The broker has sent something on session_: only then has the pool reconnected (a
  // broker that refuses the session ends it unanswered; see also on_done()). Every
  // session's first message is a Watch of an id no task has, which the broker answers
  // with Unknown.
  bool answered_ ABSL_GUARDED_BY(mu_) = false;
  // The broker said Accepted, Rejected or Results on session_: it works.
  bool progressed_ ABSL_GUARDED_BY(mu_) = false;
  // A SubmitBatch was built on session_: its first task, and whether it went alone.
  bool submitted_ ABSL_GUARDED_BY(mu_) = false;
  Key first_head_ ABSL_GUARDED_BY(mu_) = 0;
  bool head_alone_ ABSL_GUARDED_BY(mu_) = false;
  // Sessions in a row that the broker ended (RESOURCE_EXHAUSTED or INVALID_ARGUMENT) on
  // their first submission, headed by strike_head_: at 2, the next sends it alone.
  int strikes_ ABSL_GUARDED_BY(mu_) = 0;
  Key strike_head_ ABSL_GUARDED_BY(mu_) = 0;
  bool solo_next_ ABSL_GUARDED_BY(mu_) = false;
  std::uint64_t losses_ ABSL_GUARDED_BY(mu_) = 0;  // answered sessions that ended (link())
  // After a session that ended unanswered, the next opens no earlier than reopen_at_;
  // the delay doubles per such session (kMinReopenDelay..kMaxReopenDelay).
  Clock::time_point reopen_at_ ABSL_GUARDED_BY(mu_);
  std::chrono::milliseconds reopen_delay_ ABSL_GUARDED_BY(mu_){0};
  std::string last_refusal_ ABSL_GUARDED_BY(mu_);  // how the last unanswered session ended
  std::vector<std::shared_ptr<RemoteSession>> sessions_ ABSL_GUARDED_BY(mu_);
  std::vector<RemoteSession*> finished_ ABSL_GUARDED_BY(mu_);  // on_done seen: deletable
  // The end of the last answered session (or connect()): without one answered since,
  // outstanding tasks fail once reconnect_window has passed.
  Clock::time_point disconnected_since_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool terminated_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // supervisor exits, no new sessions
  IdleMemoryRelease idle_memory_;  // the supervisor's; busy: tasks outstanding
  // The slots serving `queue` as the broker said when last asked (at most `max_age` ago),
  // or asked now; its last answer when it does not answer.
  int slots_hint(const std::string& queue, Clock::duration max_age) const;
  struct SlotsHint {
    int slots = 0;
    Clock::time_point at;  // when asked
  };
  mutable absl::Mutex hints_mu_;
  mutable absl::flat_hash_map<std::string, SlotsHint> hints_ ABSL_GUARDED_BY(hints_mu_);
  std::thread supervisor_;
};

}  // namespace shoal::internal
