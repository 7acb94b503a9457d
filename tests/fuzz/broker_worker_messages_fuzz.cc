// What reaches the broker from workers: the bytes decode to a sequence of events from a
// few worker connections — hellos (names shared between processes, claimed tasks),
// credits, result batches (with the leases they were sent, stale, borrowed or forged
// ones, any outcome), heartbeats, byes and drains, closed connections, and frames parsed
// from raw bytes — mixed with client submissions, cancels, watches, GetResult calls and
// time passing, so that tasks are leased, reported, retried, expired and lost. They go
// through the worker gateway's checks into the Scheduler (broker_scheduler_harness.h,
// which checks its promises after every event); at the end a worker able to run
// everything joins, and every accepted task must end.
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/broker_scheduler_harness.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_target.h"

namespace shoal::broker::fuzz {
namespace {

const std::vector<std::string> kPeers = {"p0", "p1", "p2", "p3"};
const std::vector<std::string> kWorkerNames = {"w0", "w1", "w2", ""};
const std::vector<std::string> kInstances = {"i0", "i1", ""};
const std::vector<std::string> kQueues = {"", "default", "cpu", "gpu", "io"};
const std::vector<std::string> kNames = {"square", "cube", "sleep", "render"};
const std::vector<int32_t> kRetries = {-1, 0, 1, 2, 3, -2, 40000};
const std::vector<int64_t> kSteps = {1, 100, 700, 1000, 2000, 2999, 3001, 5000, 25000};
constexpr int kIds = 12;

std::string some_id(FuzzInput& in) { return "t" + std::to_string(in.below(kIds)); }

// A hello; its lists are subsets picked by bit masks.
WorkerMessage hello(FuzzInput& in) {
  WorkerMessage msg;
  msg.set_version(1);
  shoal::v1::WorkerHello* h = msg.mutable_hello();
  h->set_name(in.pick(kWorkerNames));
  h->set_instance(in.pick(kInstances));
  h->set_host(in.chance(80) ? "h" : "h2");
  h->set_pid(in.below(2));
  uint8_t queues = in.byte(), names = in.byte();
  for (size_t i = 0; i < kQueues.size(); ++i) {
    if (queues & (1u << i)) h->add_queues(kQueues[i]);
  }
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (names & (1u << i)) h->add_tasks(kNames[i]);
  }
  h->set_slots(in.below(5));  // 0: the gateway drops it
  h->set_prefetch(in.below(3));
  h->set_credit(in.chance(90) ? in.below(8) : in.u32());
  for (int n = int(in.below(4)); n > 0; --n) h->add_running(some_id(in));
  return msg;
}

// One result: of a task the worker holds (as sent) or of any id, with its own lease,
// another task's, a forged one or none, and any outcome.
shoal::v1::TaskResult result(FuzzInput& in, SchedulerHarness& h, const std::string& peer) {
  shoal::v1::TaskResult r;
  const auto& held = h.held(peer);
  if (!held.empty() && in.chance(70)) {
    auto it = held.begin();
    std::advance(it, in.below(uint32_t(held.size())));
    r.set_id(it->first);
  } else {
    r.set_id(some_id(in));
  }
  switch (in.below(6)) {
    case 0: break;  // no lease: found by id
    case 1: r.set_lease(h.last_lease(some_id(in))); break;
    case 2: r.set_lease(in.u32()); break;  // a guess
    case 3: r.set_lease(in.u64()); break;
    default: r.set_lease(h.last_lease(r.id()));
  }
  switch (in.below(8)) {
    case 0: {
      shoal::v1::TaskError* f = r.mutable_failure();
      f->set_kind(ErrorKind(in.below(12)));
      f->set_message(in.chunk(8));
      break;
    }
    case 1: r.mutable_failure()->set_kind(shoal::v1::ERROR_KIND_WORKER_LOST); break;
    case 2:
    case 3:
      for (int n = 1 + int(in.below(3)); n > 0; --n) {
        if (in.chance(30)) {
          r.add_items()->mutable_error()->set_message(in.chunk(4));
        } else {
          r.add_items()->set_value(in.chunk(4));
        }
      }
      break;
    default: r.set_values("\x91" + in.chunk(4));
  }
  if (in.chance(10)) r.set_worker(in.pick(kWorkerNames));
  return r;
}

shoal::v1::Task task(FuzzInput& in) {
  shoal::v1::Task t;
  t.set_id(in.chance(3) ? "" : some_id(in));
  t.set_name(in.chance(3) ? "" : in.pick(kNames));
  t.set_queue(in.pick(kQueues));
  t.set_priority(in.chance(5) ? 10 + in.below(3) : in.below(10));
  t.set_max_retries(in.pick(kRetries));
  t.set_time_limit_ms(in.chance(25) ? 50 + in.below(100) * 30 : 0);
  t.set_items(in.below(4));
  t.set_args(in.chance(3) ? std::string(257, 'x') : in.chunk(6));
  return t;
}

}  // namespace
}  // namespace shoal::broker::fuzz

SHOAL_FUZZ_TARGET(broker_worker_messages) {
  using namespace shoal::broker;
  using namespace shoal::broker::fuzz;
  FuzzInput in(data, size);
  SchedulerHarness h(harness_options(in));
  SessionId sessions[2] = {h.open_session(), h.open_session()};
  for (int events = 0; !in.done() && events < 400; ++events) {
    const std::string& peer = in.pick(kPeers);
    SessionId& s = sessions[in.below(2)];
    WorkerMessage msg;
    msg.set_version(1);
    switch (in.below(16)) {
      case 0:
      case 1:
        h.frame(peer, hello(in));
        break;
      case 2:
        msg.mutable_credit()->set_credit(in.chance(90) ? in.below(6) : in.u32());
        h.frame(peer, msg);
        break;
      case 3:
      case 4: {
        auto* batch = msg.mutable_results();
        for (int n = 1 + int(in.below(3)); n > 0; --n) *batch->add_results() = result(in, h, peer);
        batch->set_credit(in.below(4));
        h.frame(peer, msg);
        break;
      }
      case 5: {  // everything it holds, as a well-behaved worker reports it
        auto* batch = msg.mutable_results();
        for (const auto& [id, lease] : h.held(peer)) {
          auto* r = batch->add_results();
          r->set_id(id);
          r->set_lease(lease);
          r->set_values("\x91\x01");
        }
        batch->set_credit(uint32_t(batch->results_size()));
        h.frame(peer, msg);
        break;
      }
      case 6:
        msg.mutable_heartbeat()->set_sent_unix_ms(in.u32());
        h.frame(peer, msg);
        break;
      case 7:
        msg.mutable_bye()->set_draining(in.chance(50));
        msg.mutable_bye()->set_reason("SIGTERM");
        h.frame(peer, msg);
        break;
      case 8:
        h.disconnect(peer);
        break;
      case 9: {  // any bytes that parse
        WorkerMessage raw;
        if (parse_quietly(raw, in.chunk(64))) {
          if (in.chance(80)) raw.set_version(1);
          h.frame(peer, std::move(raw));
        }
        break;
      }
      case 10:
      case 11: {
        if (!h.is_open(s)) s = h.open_session();
        Tasks tasks;
        for (int n = 1 + int(in.below(5)); n > 0; --n) *tasks.Add() = task(in);
        h.submit(s, std::move(tasks));
        break;
      }
      case 12: {
        std::string id = some_id(in);  // read first: argument order is unspecified
        h.cancel(id, /*even_if_unknown=*/in.chance(50));
        break;
      }
      case 13:
        if (in.chance(50)) {
          h.get_result(some_id(in), in.chance(50) ? 0 : 100 * in.below(50));
        } else if (h.is_open(s)) {
          h.watch(s, {some_id(in), some_id(in)});
        }
        break;
      case 14:
        switch (in.below(3)) {
          case 0: if (h.is_open(s)) h.close_session(s); s = h.open_session(); break;
          case 1: if (h.is_open(s)) h.half_close(s); break;
          default: if (h.is_open(s)) h.close_session(s);
        }
        break;
      default:
        h.advance(in.chance(70) ? in.pick(kSteps) : 37 * int64_t(in.byte()));
    }
  }
  h.drain();
}
