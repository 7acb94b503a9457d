// The durable store's journal (broker/task_journal.h) as a restarting broker reads it:
// the bytes become a journal file — as they are, after the magic, or (most often) as
// frames with good lengths and CRCs built from the bytes, holding tasks, results,
// retries and expiries of a few ids, some corrupt or cut short — which is opened,
// replayed into a Scheduler, rewritten and opened again, as Broker::open_store does.
// Properties: a file that is not a journal, or one damaged before whole frames, is
// refused with a clear error and left as it was; otherwise only a torn tail is cut off
// and the frames kept are well formed; the rewritten journal holds exactly what the
// scheduler restored; a second restart replays to the same (a fixed point); every
// restored task can be leased to a worker serving its queue and name.
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "broker/durable_task_store.h"
#include "broker/scheduler.h"
#include "tests/fuzz/broker_scheduler_harness.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_target.h"

namespace shoal::broker::fuzz {
namespace {

constexpr std::string_view kMagic = "SHOALJ1\n";
const std::vector<std::string> kJournalIds = {"j0", "j1", "j2", "j3", "j4", "j5", "", "j0"};
const std::vector<std::string> kJournalNames = {"square", "cube", ""};
const std::vector<std::string> kJournalQueues = {"", "default", "cpu"};

// One directory for the whole run, in memory when /dev/shm is there (fdatasync is cheap).
const std::string& store_dir() {
  static const std::string* dir = [] {
    std::string base = std::filesystem::is_directory("/dev/shm") && getenv("TMPDIR") == nullptr
                           ? "/dev/shm"
                           : std::filesystem::temp_directory_path().string();
    std::string pattern = base + "/shoal-fuzz-journal-XXXXXX";
    SHOAL_FUZZ_CHECK(mkdtemp(pattern.data()) != nullptr);
    static struct Remover {
      std::string path;
      ~Remover() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
      }
    } remover{pattern};
    return new std::string(pattern);
  }();
  return *dir;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(char(v >> (8 * i)));
}
uint32_t get_u32(std::string_view at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(uint8_t(at[i])) << (8 * i);
  return v;
}
uint32_t crc_of(std::string_view body) {
  return uint32_t(crc32_z(crc32_z(0, nullptr, 0),
                          reinterpret_cast<const Bytef*>(body.data()), body.size()));
}

Task journal_task(FuzzInput& in) {
  Task t;
  t.set_id(in.pick(kJournalIds));
  t.set_name(in.pick(kJournalNames));
  t.set_queue(in.chance(3) ? std::string(300, 'q') : in.pick(kJournalQueues));
  t.set_priority(in.chance(85) ? in.below(10) : in.byte());
  t.set_items(in.chance(80) ? in.below(4) : in.u32());
  t.set_time_limit_ms(in.chance(70) ? 0 : in.chance(50) ? in.below(200) : in.u64());
  t.set_max_retries(in.chance(80) ? int32_t(in.below(5)) - 1 : int32_t(in.u32()));
  t.set_attempt(in.chance(80) ? in.below(4) : in.u32());
  t.set_args(in.chunk(8));
  if (in.chance(5)) t.set_lease(in.u64());
  return t;
}

TaskResult journal_result(FuzzInput& in) {
  TaskResult r;
  r.set_id(in.pick(kJournalIds));
  switch (in.below(3)) {
    case 0:
      r.mutable_failure()->set_kind(ErrorKind(in.below(12)));
      r.mutable_failure()->set_message(in.chunk(6));
      break;
    case 1: r.add_items()->set_value(in.chunk(4)); break;
    default: r.set_values(in.chunk(4));
  }
  r.set_attempts(in.below(4));
  if (in.chance(30)) r.set_worker("w0");
  return r;
}

// A journal built from the input: frames with good headers, some of them broken.
std::string built_journal(FuzzInput& in) {
  google::protobuf::LogSilencer quiet;  // strings that are not UTF-8 are meant
  std::string file(kMagic);
  while (!in.done()) {
    std::string body(1, char(1 + in.below(4)));
    if (in.chance(3)) body[0] = char(in.byte());  // an unknown kind
    if (in.chance(5)) {
      body += in.chunk(16);  // a payload of any bytes
    } else {
      switch (body[0]) {
        case 1: body += journal_task(in).SerializeAsString(); break;
        case 2: body += journal_result(in).SerializeAsString(); break;
        case 3: body += in.pick(kJournalIds); break;
        case 4: {
          Task retried;
          retried.set_id(in.pick(kJournalIds));
          retried.set_attempt(in.chance(80) ? in.below(4) : in.u32());
          body += retried.SerializeAsString();
          break;
        }
        default: body += in.chunk(8);
      }
    }
    uint32_t length = uint32_t(body.size()), crc = crc_of(body);
    if (in.chance(2)) crc ^= 1;
    if (in.chance(2)) length += in.below(3) - 1;
    put_u32(file, length);
    put_u32(file, crc);
    file += body;
  }
  if (in.chance(10)) file.resize(file.size() - std::min<size_t>(file.size(), in.below(12)));
  return file;
}

// True when submit() would have refused `task` for a reason that keeps it from running:
// restore() ends such a task INVALID rather than queue it.
bool unrunnable(const Task& task) {
  return task.name().empty() || task.name().size() > shoal::internal::kMaxTaskNameBytes ||
         task.priority() >= 10 || task.queue().size() > shoal::internal::kMaxNameBytes;
}

// A result as compared: the INVALID failure restore() makes stands for itself.
std::string result_form(const TaskResult& r) {
  if (r.failure().kind() == shoal::v1::ERROR_KIND_INVALID &&
      r.failure().message().starts_with("restored from the journal: ")) {
    return "INVALID";
  }
  return r.SerializeAsString();
}

// A replayed task as the scheduler restores and writes it back: queue, items, retries
// and attempt resolved, arguments dropped once ended; an unrunnable task that had not
// ended ends INVALID (with its priority within 0..9).
std::string restored_form(const JournaledTask& t, const SchedulerOptions& options) {
  Task task = t.task;
  bool refused = unrunnable(task);
  if (refused) task.set_priority(std::min(task.priority(), 9u));
  if (task.queue().empty()) task.set_queue("default");
  task.set_items(std::max(1u, task.items()));
  int32_t retries = task.max_retries() < 0 ? options.default_max_retries
                                           : std::min(task.max_retries(), 30000);
  task.set_max_retries(retries);
  task.set_attempt(std::min<uint32_t>(task.attempt(), uint32_t(retries)));
  task.clear_lease();
  if (t.result.has_value() || refused) task.clear_args();  // dropped when a task ends
  task.DiscardUnknownFields();
  std::string form = task.SerializeAsString();
  if (t.result.has_value()) {
    TaskResult r = *t.result;
    r.set_id(task.id());
    form += "|" + result_form(r);
  } else if (refused) {
    form += "|INVALID";
  }
  return form;
}

// Each task of a replay as a string: its task without args once done, and its result.
std::vector<std::string> forms(const JournalReplay& replay) {
  std::vector<std::string> out;
  for (const JournaledTask& t : replay.live) {
    Task task = t.task;
    std::string form = task.SerializeAsString();
    if (t.result.has_value()) form += "|" + t.result->SerializeAsString();
    out.push_back(form);
  }
  return out;
}

// DurableTaskStore::open without protobuf's log lines about strings that are not UTF-8.
absl::StatusOr<std::unique_ptr<DurableTaskStore>> open_quietly(const std::string& dir,
                                                               JournalReplay* replay) {
  google::protobuf::LogSilencer quiet;
  return DurableTaskStore::open(dir, replay);
}

// Opens the store in `dir` like a starting broker; returns its replay, with the
// scheduler and store in `*scheduler` and `*store`.
JournalReplay restart(const std::string& dir, const SchedulerOptions& options,
                      const FakeClock& clock, std::unique_ptr<DurableTaskStore>* store,
                      std::unique_ptr<Scheduler>* scheduler) {
  scheduler->reset();
  store->reset();
  JournalReplay replay;
  auto opened = open_quietly(dir, &replay);
  SHOAL_HARNESS_CHECK(opened.ok(), "a journal the broker wrote does not open");
  *store = *std::move(opened);
  *scheduler = std::make_unique<Scheduler>(options, Scheduler::Deps{&clock, store->get()});
  for (JournaledTask& t : replay.live) {
    Task task = t.task;
    std::optional<TaskResult> result = t.result;
    (*scheduler)->restore(task, result ? &*result : nullptr);
  }
  SHOAL_HARNESS_CHECK((*scheduler)->rewrite_store().ok(), "the rewrite failed");
  return replay;
}

}  // namespace
}  // namespace shoal::broker::fuzz

SHOAL_FUZZ_TARGET(broker_journal) {
  using namespace shoal::broker;
  using namespace shoal::broker::fuzz;
  FuzzInput in(data, size);
  const std::string& dir = store_dir();
  const std::string path = dir + "/journal";
  std::filesystem::remove(dir + "/journal.new");
  std::string file;
  switch (in.byte() % 8) {
    case 0: file = in.bytes(size); break;
    case 1: file = std::string(kMagic) + in.bytes(size); break;
    default: file = built_journal(in);
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc) << file;

  // The first open: a journal, or refused as none and left alone.
  JournalReplay first;
  {
    auto store = open_quietly(dir, &first);
    bool journal = std::string_view(file).starts_with(kMagic) ||
                   (file.size() < kMagic.size() && kMagic.starts_with(file));
    if (!journal) {
      SHOAL_HARNESS_CHECK(!store.ok() && absl::StrContains(store.status().message(),
                                                           "not a Shoal journal"),
                          "a file that is not a journal was opened");
      SHOAL_HARNESS_CHECK(read_file(path) == file, "a file refused as no journal was changed");
      return;
    }
    if (!store.ok() && absl::StrContains(store.status().message(), " is damaged at byte ")) {
      // Damage before whole frames is no torn tail: refused, and the file left alone.
      SHOAL_HARNESS_CHECK(read_file(path) == file, "a journal refused as damaged was changed");
      return;
    }
    SHOAL_HARNESS_CHECK(store.ok(), "a journal did not open: " + store.status().ToString());
    // Only a tail was cut off, and what is left is whole frames.
    std::string kept = read_file(path);
    size_t good = file.size() < kMagic.size() ? 0 : file.size() - first.dropped_bytes;
    SHOAL_HARNESS_CHECK(good <= file.size() && (good == 0 ? kept == kMagic
                                                          : kept == file.substr(0, good)),
                        "opening changed more than a bad tail");
    uint64_t frames = 0;
    for (size_t at = kMagic.size(); at < good; ++frames) {
      SHOAL_HARNESS_CHECK(good - at >= 8, "a kept frame is cut short");
      uint32_t length = get_u32(std::string_view(kept).substr(at));
      SHOAL_HARNESS_CHECK(length > 0 && length <= good - at - 8 &&
                              crc_of(std::string_view(kept).substr(at + 8, length)) ==
                                  get_u32(std::string_view(kept).substr(at + 4)),
                          "a kept frame is corrupt");
      at += 8 + length;
    }
    trace("journal of ", file.size(), " bytes: ", first.frames, " frames, ",
          first.live.size(), " tasks live, ", first.dropped_bytes, " bytes cut off");
    SHOAL_HARNESS_CHECK(frames == first.frames, "the replay counts frames it did not keep");
    std::set<std::string> ids;
    for (const JournaledTask& t : first.live) {
      SHOAL_HARNESS_CHECK(!t.task.id().empty() && ids.insert(t.task.id()).second,
                          "a replay with an empty or twice-live id");
      SHOAL_HARNESS_CHECK(!t.result.has_value() || t.result->id() == t.task.id(),
                          "a replayed result of another task");
    }
  }

  // Restored and rewritten: the journal holds what the scheduler took, queued tasks
  // first (in their order), then the ended ones.
  SchedulerOptions options = harness_options(false, 3000);
  FakeClock clock;
  std::unique_ptr<DurableTaskStore> store;
  std::unique_ptr<Scheduler> scheduler;
  restart(dir, options, clock, &store, &scheduler);  // replays `first` again
  std::vector<std::string> expected, ended;
  std::set<std::string> queues = {"default"}, names;
  std::set<std::string> taken;
  for (const JournaledTask& t : first.live) {
    if (!taken.insert(t.task.id()).second) continue;  // a known id is skipped
    bool ends = t.result.has_value() || unrunnable(t.task);
    (ends ? ended : expected).push_back(restored_form(t, options));
    if (!ends) {
      queues.insert(t.task.queue().empty() ? "default" : t.task.queue());
      names.insert(t.task.name());
    }
  }
  expected.insert(expected.end(), ended.begin(), ended.end());
  shoal::v1::Stats st = scheduler->stats();
  trace("restored ", st.queued(), " queued and ", st.results_retained(), " ended");
  SHOAL_HARNESS_CHECK(st.queued() + st.results_retained() == expected.size() &&
                          st.running() == 0,
                      "the scheduler did not restore every task it could");
  JournalReplay second = restart(dir, options, clock, &store, &scheduler);
  SHOAL_HARNESS_CHECK(second.dropped_bytes == 0, "a rewritten journal has a bad tail");
  std::vector<std::string> got;
  for (const JournaledTask& t : second.live) got.push_back(restored_form(t, options));
  SHOAL_HARNESS_CHECK(got == expected, "the rewritten journal differs from what was restored");

  // Every restored task can run: a worker serving its queue and name gets it.
  WorkerMessage hello;
  hello.set_version(1);
  for (const std::string& q : queues) hello.mutable_hello()->add_queues(q);
  for (const std::string& n : names) hello.mutable_hello()->add_tasks(n);
  hello.mutable_hello()->set_slots(1u << 20);
  hello.mutable_hello()->set_credit(1u << 20);
  SHOAL_HARNESS_CHECK(gateway_drops(hello).empty(),
                      "restored tasks that no worker can register for");
  // Restored tasks wait out the registration grace for a worker that may still run them
  // to claim them; then any worker may.
  Actions out;
  clock.advance_ms(options.registration_grace_ms + 1);
  scheduler->tick(out);
  scheduler->worker_message("sweeper", &hello, out);
  SHOAL_HARNESS_CHECK(scheduler->stats().queued() == 0, "a restored task that never runs");

  // A second restart replays to the same.
  JournalReplay third = restart(dir, options, clock, &store, &scheduler);
  SHOAL_HARNESS_CHECK(forms(third) == forms(second), "a second restart changed the journal");
  scheduler.reset();
  store.reset();  // releases the lock for the next input
}
