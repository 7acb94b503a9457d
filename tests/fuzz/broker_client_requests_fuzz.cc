// What reaches the broker from clients: the bytes become Session messages (SubmitBatch
// and Watch, parsed from raw bytes or built field by field with odd ids, names, queues,
// priorities, retries, item counts and arguments, duplicates and big batches), sessions
// opening, ending and half-closing, GetResult and Cancel calls, and the list calls — as
// the client gateway checks them and the broker's loop hands them to the Scheduler —
// with a worker or two running what they can and time passing. Properties (beyond the
// harness's, broker_scheduler_harness.h): every task of a submission is accepted or
// rejected with a clear error, malformed messages and tasks are counted, and once a
// worker able to run everything joins, every accepted task ends.
#include <algorithm>
#include <string>
#include <vector>

#include "tests/fuzz/broker_scheduler_harness.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_target.h"

namespace shoal::broker::fuzz {
namespace {

const std::vector<std::string> kClientIds = {"a", "b", "c", "d", "e", "f", "", "a"};
const std::vector<std::string> kClientNames = {"square", "cube", "", std::string("sq\0are", 6)};
const std::vector<std::string> kClientQueues = {"", "default", "cpu", "default "};
constexpr uint32_t kMaxWaitMs = 600'000;  // BrokerLoop caps GetResult waits at this

// A field of a task: usually one of a few values, sometimes any bytes or a long string.
std::string field(FuzzInput& in, const std::vector<std::string>& usual, size_t long_size) {
  switch (in.below(10)) {
    case 0: return in.chunk(12);
    case 1: return std::string(long_size + in.below(3), 'n');
    default: return in.pick(usual);
  }
}

shoal::v1::Task client_task(FuzzInput& in) {
  shoal::v1::Task t;
  t.set_id(field(in, kClientIds, 40));
  t.set_name(field(in, kClientNames, 1024));
  t.set_queue(field(in, kClientQueues, 256));
  t.set_priority(in.chance(80) ? in.below(10) : in.u32());
  t.set_max_retries(in.chance(80) ? int32_t(in.below(4)) - 1 : int32_t(in.u32()));
  t.set_items(in.chance(80) ? in.below(4) : in.u32());
  t.set_time_limit_ms(in.chance(80) ? 0 : in.chance(50) ? in.below(250) * 20 : in.u64());
  t.set_args(in.chance(5) ? std::string(256 + in.below(2), 'x') : in.chunk(8));
  if (in.chance(5)) t.set_attempt(in.u32());  // a client's say on these is not taken
  if (in.chance(5)) t.set_lease(in.u64());
  return t;
}

// A worker serving some of the usual queues and names.
WorkerMessage hello(FuzzInput& in) {
  WorkerMessage msg;
  msg.set_version(1);
  auto* hello = msg.mutable_hello();
  hello->set_name("cw" + std::to_string(in.below(2)));
  hello->add_queues("default");
  for (const std::string& q : kClientQueues) {
    if (in.chance(50)) hello->add_queues(q);
  }
  for (const std::string& n : kClientNames) {
    if (in.chance(50)) hello->add_tasks(n);
  }
  hello->set_slots(1 + in.below(4));
  hello->set_prefetch(1);
  hello->set_credit(in.below(5));
  return msg;
}

}  // namespace
}  // namespace shoal::broker::fuzz

SHOAL_FUZZ_TARGET(broker_client_requests) {
  using namespace shoal::broker;
  using namespace shoal::broker::fuzz;
  FuzzInput in(data, size);
  SchedulerHarness h(harness_options(in));
  SessionId sessions[2] = {h.open_session(), h.open_session()};
  int bulk = 0;
  for (int events = 0; !in.done() && events < 300; ++events) {
    SessionId& s = sessions[in.below(2)];
    if (!h.is_open(s)) s = h.open_session();
    switch (in.below(13)) {
      case 0:
      case 1:
      case 2: {  // a SubmitBatch built from the bytes
        Tasks tasks;
        int n = in.chance(95) ? 1 + int(in.below(6)) : int(in.byte());
        for (; n > 0; --n) *tasks.Add() = client_task(in);
        h.submit(s, std::move(tasks));
        break;
      }
      case 10:  // many tasks of new names at once: the scheduler must forget names
        if (in.chance(50)) {  // a worker of "default" fails them NOT_REGISTERED at once
          if (bulk == 0) {
            WorkerMessage msg;
            msg.set_version(1);
            msg.mutable_hello()->set_name("bulk");
            msg.mutable_hello()->add_tasks("square");
            msg.mutable_hello()->set_slots(1);
            h.frame("bulk", msg);
            // The hello can end a half-closed session whose last task it fails.
            if (!h.is_open(s)) s = h.open_session();
          }
          Tasks tasks;
          for (int n = 16 + in.byte() / 8; n > 0; --n, ++bulk) {
            shoal::v1::Task* t = tasks.Add();
            t->set_id("bulk-" + std::to_string(bulk));
            t->set_name("name-" + std::to_string(bulk));
            t->set_max_retries(-1);
          }
          h.submit(s, std::move(tasks));
          break;
        }
        [[fallthrough]];
      case 3: {  // a ClientMessage read from any bytes, as the gateway does
        shoal::v1::ClientMessage m;
        if (!parse_quietly(m, in.long_chunk(512))) break;  // gRPC ends such a call
        if (m.has_submit()) {
          h.submit(s, std::move(*m.mutable_submit()->mutable_tasks()));
        } else if (m.has_watch()) {
          h.watch(s, {m.watch().ids().begin(), m.watch().ids().end()});
        } else {
          h.bad_client_message();
        }
        break;
      }
      case 4: {
        std::vector<std::string> ids;
        for (int n = int(in.below(4)); n > 0; --n) ids.push_back(field(in, kClientIds, 40));
        h.watch(s, ids);
        break;
      }
      case 5: {  // GetResult, as the gateway checks it and the loop caps its wait
        std::string id = field(in, kClientIds, 40);
        uint32_t wait_ms = in.chance(50) ? 0 : in.chance(80) ? 50 * in.below(100) : in.u32();
        if (id.empty()) {
          h.bad_client_message();  // INVALID_ARGUMENT "GetResult needs an id"
        } else {
          h.get_result(id, std::min(wait_ms, kMaxWaitMs));
        }
        break;
      }
      case 6: {
        std::string id = field(in, kClientIds, 40);
        if (id.empty()) {
          h.bad_client_message();  // INVALID_ARGUMENT "Cancel needs an id"
        } else {
          h.cancel(id, /*even_if_unknown=*/in.chance(50));
        }
        break;
      }
      case 7:
        switch (in.below(3)) {
          case 0: h.close_session(s); break;
          case 1: h.half_close(s); break;
          default: break;
        }
        break;
      case 8:
        h.frame("cw" + std::to_string(in.below(2)), hello(in));
        break;
      case 9: {  // a worker reports what it holds
        std::string peer = "cw" + std::to_string(in.below(2));
        WorkerMessage msg;
        msg.set_version(1);
        auto* batch = msg.mutable_results();
        for (const auto& [id, lease] : h.held(peer)) {
          auto* r = batch->add_results();
          r->set_id(id);
          r->set_lease(lease);
          if (in.chance(20)) {
            r->mutable_failure()->set_kind(shoal::v1::ERROR_KIND_WORKER_LOST);
          } else {
            r->set_values("\x91\x01");
          }
        }
        batch->set_credit(in.below(4));
        h.frame(peer, msg);
        break;
      }
      case 11:
      case 12:
        h.advance(in.chance(50) ? 1000 : 50 * int64_t(in.byte()));
    }
  }
  h.drain();
}
