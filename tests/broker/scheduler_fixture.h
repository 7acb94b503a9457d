#pragma once
// The scheduler test fixture: a Scheduler on a fake clock, helpers that play a client
// session and workers, and accessors for what came out.

#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker/durable_task_store.h"
#include "broker/scheduler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace shoal::broker {

// A task to submit; setters chain: T("t1").priority(5).
struct TaskSpec {
  std::string id_;
  std::string name_ = "square";
  std::string queue_;
  uint32_t priority_ = 0;
  int32_t max_retries_ = -1;
  uint64_t time_limit_ms_ = 0;
  uint32_t items_ = 0;
  std::string args_ = "\x91\x07";
  TaskSpec& name(std::string v) { name_ = std::move(v); return *this; }
  TaskSpec& queue(std::string v) { queue_ = std::move(v); return *this; }
  TaskSpec& priority(uint32_t v) { priority_ = v; return *this; }
  TaskSpec& max_retries(int32_t v) { max_retries_ = v; return *this; }
  TaskSpec& time_limit_ms(uint64_t v) { time_limit_ms_ = v; return *this; }
  TaskSpec& items(uint32_t v) { items_ = v; return *this; }
  TaskSpec& args(std::string v) { args_ = std::move(v); return *this; }
};
inline TaskSpec T(std::string id) { TaskSpec t; t.id_ = std::move(id); return t; }

class SchedulerTest : public ::testing::Test {
 protected:
  static constexpr SessionId kSession = 1;

  SchedulerTest() { reset(SchedulerOptions{.heartbeat_ms = 1000, .liveness = 3,
                                           .result_ttl_ms = 60'000, .max_queued = 1000,
                                           .max_message_bytes = 1024, .default_max_retries = 3,
                                           .time_limit_grace_ms = 5000, .broker_id = "b1"}); }

  void reset(SchedulerOptions options) {
    options_ = options;
    store_ = std::make_unique<InMemoryTaskStore>();
    scheduler_ = std::make_unique<Scheduler>(options, Scheduler::Deps{&clock_, store_.get()});
    scheduler_->open_session(kSession);
  }

  // Submits tasks on kSession; returns the actions it caused.
  void submit(const std::vector<TaskSpec>& specs, SessionId s = kSession) {
    google::protobuf::RepeatedPtrField<shoal::v1::Task> tasks;
    for (const TaskSpec& spec : specs) {
      shoal::v1::Task* t = tasks.Add();
      t->set_id(spec.id_);
      t->set_name(spec.name_);
      t->set_queue(spec.queue_);
      t->set_priority(spec.priority_);
      t->set_max_retries(spec.max_retries_);
      t->set_time_limit_ms(spec.time_limit_ms_);
      t->set_items(spec.items_);
      t->set_args(spec.args_);
    }
    scheduler_->submit(s, &tasks, out_);
  }

  // A hello from connection `peer` (worker "w-<peer>") offering slots x prefetch credit.
  void hello(const std::string& peer, std::vector<std::string> tasks = {"square"},
             uint32_t slots = 1, std::vector<std::string> queues = {}, uint32_t prefetch = 1) {
    shoal::v1::WorkerMessage msg;
    msg.set_version(1);
    auto* h = msg.mutable_hello();
    h->set_name("w-" + peer);
    for (auto& t : tasks) h->add_tasks(t);
    for (auto& q : queues) h->add_queues(q);
    h->set_slots(slots);
    h->set_prefetch(prefetch);
    h->set_credit(slots * prefetch);
    scheduler_->worker_message(peer, &msg, out_);
  }

  // A hello from connection `peer` naming itself `name`, from process `instance` (with
  // host "h" and `pid`): one slot, one credit.
  void hello_as(const std::string& peer, const std::string& name, const std::string& instance,
                uint64_t pid = 1) {
    shoal::v1::WorkerMessage msg;
    msg.set_version(1);
    auto* h = msg.mutable_hello();
    h->set_name(name);
    h->add_tasks("square");
    h->set_slots(1);
    h->set_prefetch(1);
    h->set_credit(1);
    h->set_host("h");
    h->set_pid(pid);
    h->set_instance(instance);
    scheduler_->worker_message(peer, &msg, out_);
  }

  // A hello from new connection `peer` of the worker that said hello as `was` (one slot,
  // no credit yet), saying it still runs `running`.
  void reconnect(const std::string& peer, const std::string& was,
                 std::vector<std::string> running) {
    shoal::v1::WorkerMessage msg;
    msg.set_version(1);
    auto* h = msg.mutable_hello();
    h->set_name("w-" + was);
    h->add_tasks("square");
    h->set_slots(1);
    h->set_prefetch(1);
    for (auto& id : running) h->add_running(id);
    scheduler_->worker_message(peer, &msg, out_);
  }

  void heartbeat(const std::string& peer) {
    shoal::v1::WorkerMessage msg;
    msg.set_version(1);
    msg.mutable_heartbeat();
    scheduler_->worker_message(peer, &msg, out_);
  }

  // Lets `seconds` s pass with a heartbeat from `peer` after each: it alone stays alive.
  void keep_alive(const std::string& peer, int seconds) { keep_alive({peer}, seconds); }
  // Lets `seconds` s pass with a heartbeat from each of `peers` after each: they alone
  // stay alive.
  void keep_alive(std::initializer_list<std::string> peers, int seconds) {
    for (int i = 0; i < seconds; ++i) {
      clock_.advance_ms(1000);
      for (const std::string& peer : peers) heartbeat(peer);
    }
  }

  // Bye: leaving now, or (`draining`) stopping once what it holds is done.
  void bye(const std::string& peer, bool draining = false) {
    shoal::v1::WorkerMessage msg;
    msg.set_version(1);
    msg.mutable_bye()->set_reason("SIGTERM");
    msg.mutable_bye()->set_draining(draining);
    scheduler_->worker_message(peer, &msg, out_);
  }

  // The worker reports a result for `id` and grants one more credit. Like a real worker
  // it sends the task's lease, if the task was ever sent (take_sent).
  void report(const std::string& peer, const std::string& id, const std::string& value = "\x31",
              shoal::v1::ErrorKind failure = shoal::v1::ERROR_KIND_OTHER, bool failed = false) {
    shoal::v1::WorkerMessage msg;
    msg.set_version(1);
    shoal::v1::TaskResult* r = msg.mutable_results()->add_results();
    r->set_id(id);
    if (auto it = sent_.find(id); it != sent_.end()) r->set_lease(it->second.lease());
    if (failed) {
      r->mutable_failure()->set_kind(failure);
      r->mutable_failure()->set_message("child killed by SIGKILL");
    } else {
      r->add_items()->set_value(value);
    }
    msg.mutable_results()->set_credit(1);
    scheduler_->worker_message(peer, &msg, out_);
  }

  // Ids of the tasks sent to `peer` in the current actions (each also kept in sent_).
  std::vector<std::string> take_sent(const std::string& peer) {
    std::vector<std::string> ids;
    for (auto& send : out_.to_workers) {
      if (send.peer != peer || send.task_batch.empty()) continue;
      shoal::v1::BrokerMessage frame;
      EXPECT_TRUE(frame.ParseFromString(send.task_batch.frame()));
      EXPECT_EQ(frame.version(), 1u);
      for (auto& t : frame.tasks().tasks()) {
        ids.push_back(t.id());
        sent_[t.id()] = t;
      }
    }
    return ids;
  }

  // Results delivered to session `s` in the current actions.
  std::vector<shoal::v1::TaskResult> results(SessionId s = kSession) {
    std::vector<shoal::v1::TaskResult> rs;
    for (auto& send : out_.to_sessions) {
      if (send.session == s && send.message.has_results()) {
        for (auto& r : send.message.results().results()) rs.push_back(r);
      }
    }
    return rs;
  }

  // Kinds of the frames sent to `peer`, e.g. "welcome", "tasks", "reconnect".
  std::vector<std::string> frames(const std::string& peer) {
    std::vector<std::string> kinds;
    for (auto& send : out_.to_workers) {
      if (send.peer != peer) continue;
      if (!send.task_batch.empty()) {
        kinds.push_back("tasks");
        continue;
      }
      kinds.push_back(send.message.GetDescriptor()
                          ->FindFieldByNumber(int(send.message.body_case()))
                          ->name());
    }
    return kinds;
  }

  // The frames to `peer` in the current actions could not be sent (its connection is
  // gone), as the broker's loop reports it once it sent the actions (so they are cleared
  // first). Returns how many tasks went back to their queues.
  size_t undeliverable(const std::string& peer) {
    UndeliveredSend failed{peer, {}};
    for (auto& send : out_.to_workers) {
      if (send.peer != peer) continue;
      const std::vector<uint64_t>& leases = send.task_batch.leases();
      failed.leases.insert(failed.leases.end(), leases.begin(), leases.end());
    }
    out_.clear();
    return scheduler_->undeliverable({failed}, out_);
  }

  shoal::v1::GetResultResponse get_result(const std::string& id) {
    Actions out;
    scheduler_->get_result(id, 0, 7, out);
    EXPECT_EQ(out.replies.size(), 1u);
    return out.replies.empty() ? shoal::v1::GetResultResponse{} : out.replies[0].response;
  }

  // Opens the durable store in `dir` as a starting broker does — replay, restore,
  // rewrite — under a new scheduler. Called again it is a crash and restart: what was
  // not committed is lost.
  void restart_durable(const std::string& dir) {
    close_store();
    out_.clear();
    JournalReplay replay;
    auto store = DurableTaskStore::open(dir, &replay);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    scheduler_ = std::make_unique<Scheduler>(options_, Scheduler::Deps{&clock_, store_.get()});
    for (JournaledTask& t : replay.live) {
      scheduler_->restore(t.task, t.result ? &*t.result : nullptr);
    }
    ASSERT_TRUE(scheduler_->rewrite_store().ok());
    scheduler_->open_session(kSession);
  }
  // Drops scheduler and store (releasing a durable store's lock).
  void close_store() {
    scheduler_.reset();
    store_.reset();
  }

  void tick_after(int64_t ms) {
    clock_.advance_ms(ms);
    scheduler_->tick(out_);
  }

  SchedulerOptions options_;
  FakeClock clock_;
  std::unique_ptr<TaskStore> store_;
  std::unique_ptr<Scheduler> scheduler_;
  Actions out_;
  std::map<std::string, shoal::v1::Task> sent_;
};

}  // namespace shoal::broker
