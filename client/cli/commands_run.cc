// submit and map: tasks go through the remote backend (batched, reconnecting), the
// same one Pool::connect uses, with JSON arguments converted to MessagePack.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <sstream>
#include <vector>

#include "client/cli/broker_link.h"
#include "client/cli/collect_sink.h"
#include "client/cli/commands.h"
#include "client/cli/interrupt.h"
#include "client/cli/json_msgpack.h"
#include "client/remote_backend.h"
#include "client/remote_channel.h"
#include "client/remote_wire.h"
#include "shared/command_line.h"
#include "shoal/errors.hpp"
#include "shoal/pool.hpp"

namespace shoal::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::shared_ptr<internal::RemoteBackend> connect(const CliConfig& config) {
  // A lost broker is waited for --reconnect-timeout-ms: then its tasks fail.
  internal::RemoteBackend::Limits limits;
  limits.reconnect_window = config.reconnect_timeout;
  limits.tls_names = internal::cli_tls_setting_names();
  try {
    return internal::RemoteBackend::connect(config.broker, config.connect, limits);
  } catch (const Error& e) {
    fail(e.what());
    return nullptr;
  }
}

// The task ids (seq) of `batch`, by index: submit() empties it.
std::vector<std::uint64_t> seqs_of(const std::vector<internal::Submission>& batch) {
  std::vector<std::uint64_t> seqs;
  for (const internal::Submission& s : batch) seqs.push_back(s.seq);
  return seqs;
}

using CancelOutcome = internal::RemoteBackend::CancelOutcome;

// "3 tasks", "1 item".
std::string count_of(std::size_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

// True when `msgpack` starts with an array header (fixarray, array16, array32).
bool is_array(const std::string& msgpack) {
  std::size_t offset = 0;
  std::uint32_t count = 0;
  return internal::msgpack_read_array_header(msgpack, offset, count);
}

std::string describe(const internal::ErrorInfo& e) {
  std::string kind = v1::ErrorKind_Name(static_cast<v1::ErrorKind>(e.kind));
  return kind + (e.type_name.empty() ? "" : " " + e.type_name) + ": " + e.message;
}

// How full the broker says it is now: " (3 tasks queued, its --max-queued limit is 3)"
// (without the limit from a broker that does not say it), or, when its bound on the
// arguments held is what it reached, " (3 tasks queued, 2048.0 MiB of arguments held by
// tasks not done, its --task-memory-mb limit is 2048 MiB)"; "" when it does not answer.
std::string fullness(const internal::RemoteBackend& backend) {
  std::optional<v1::Stats> stats = backend.stats();
  if (!stats) return "";
  std::string text = " (" + std::to_string(stats->queued()) +
                     (stats->queued() == 1 ? " task" : " tasks") + " queued";
  // No task is larger than max_message_bytes: the bound on arguments refuses one only
  // when they are within that of it.
  const bool by_count = stats->max_queued() > 0 && stats->queued() >= stats->max_queued();
  const uint64_t room =
      stats->max_task_bytes() - std::min(stats->task_bytes(), stats->max_task_bytes());
  if (!by_count && stats->max_task_bytes() > 0 && room < stats->max_message_bytes()) {
    char held[64];
    std::snprintf(held, sizeof held, ", %.1f MiB of arguments held by tasks not done",
                  static_cast<double>(stats->task_bytes()) / (1 << 20));
    return text + held + ", its --task-memory-mb limit is " +
           std::to_string(stats->max_task_bytes() >> 20) + " MiB)";
  }
  if (stats->max_queued() > 0) {
    text += ", its --max-queued limit is " + std::to_string(stats->max_queued());
  }
  return text + ")";
}

// A task waiting on a full broker, on a queue no worker serves, or on a broker that went
// away, waits without a word otherwise. `progress` as for BrokerLinkNotices::report.
void warn_if_unserved(const internal::RemoteBackend& backend, const std::string& queue,
                      BrokerLinkNotices& link, const std::string& progress) {
  if (backend.waiting_for_room()) {
    std::fprintf(stderr, "shoal: the broker is full%s; waiting for room (Ctrl-C to stop)\n",
                 fullness(backend).c_str());
  }
  std::optional<int> slots = backend.slots_serving(queue);
  if (!slots) {
    link.report_silent(progress, /*newline_first=*/false);
  } else if (*slots == 0) {
    std::fprintf(stderr,
                 "shoal: no worker serves queue '%s' yet; waiting for one (Ctrl-C to stop)\n",
                 queue.empty() ? "default" : queue.c_str());
  }
}

// The bar fills with the items ended either way; the count and the rate are of those done.
void draw_progress(std::size_t ended, std::size_t failed, std::size_t total, double seconds) {
  constexpr int kWidth = 30;
  int filled = total ? static_cast<int>(kWidth * ended / total) : kWidth;
  const std::size_t done = ended - failed;
  std::string failures = failed ? ", " + std::to_string(failed) + " failed" : "";
  std::fprintf(stderr, "\r[%s%s] %zu/%zu items, %.0f items/s%s ",
               std::string(filled, '#').c_str(), std::string(kWidth - filled, ' ').c_str(),
               done, total, seconds > 0 ? static_cast<double>(done) / seconds : 0.0,
               failures.c_str());
}

// submit's task's result as JSON on stdout, or its failure on stderr; the exit status.
int print_outcome(const std::string& id, const CollectSink::Outcome& outcome) {
  if (outcome.error) return fail("task " + id + " failed: " + describe(*outcome.error));
  v1::TaskResult result;
  result.set_id(id);
  if (!internal::reply_to_items(outcome.reply, 1, &result).ok()) {
    return fail("task " + id + ": malformed result");
  }
  return print_task_result(result);
}

// submit after SIGINT or SIGTERM: cancels its task `id` at the broker, or prints its
// result if it ended (before, or while the cancel was on its way: waited for up to
// `wait`), and says which on stderr. Returns 128 + the signal's number.
int interrupt_submit(internal::RemoteBackend& backend, const std::string& id,
                     const std::vector<std::uint64_t>& seqs, CollectSink& sink,
                     std::chrono::milliseconds wait) {
  const CancelOutcome outcome = cancel_unended(backend, seqs, sink, wait)[0];
  const std::string tells = "shoal result " + id + " tells";
  if (outcome == CancelOutcome::kCancelled) {
    fail("interrupted: cancelled 1 task at the broker (it will not run)");
  } else if (sink.done(0)) {
    print_outcome(id, sink.outcome(0));
    if (!flush_output()) return interrupted_status();
    fail("interrupted: task " + id + " had ended; its outcome is above");
  } else if (outcome == CancelOutcome::kRunning) {
    fail("interrupted: task " + id + " is running, not cancelled (a running task is not " +
         "interrupted; " + tells + ")");
  } else if (outcome == CancelOutcome::kEnded) {
    fail("interrupted: task " + id + " had ended, but its result did not come (" + tells + ")");
  } else {
    fail("interrupted: the broker did not answer the cancel of task " + id + "; it may run (" +
         tells + ")");
  }
  return interrupted_status();
}

}  // namespace

int run_submit(const CliConfig& config, const std::string& task) {
  if (config.args_json.empty()) {  // --args='': a mistake, not "no arguments"
    return fail(
        "--args is empty: give the task's arguments as a JSON array, e.g. "
        "--args='[7]' (--args='[]' for none)",
        2);
  }
  auto args = json_to_msgpack(config.args_json);
  if (!args.ok()) return fail("--args: " + std::string(args.status().message()), 2);
  if (!is_array(*args)) {
    return fail("--args must be a JSON array of the task's arguments, e.g. --args='[7]'", 2);
  }
  auto backend = connect(config);
  if (!backend) return 1;
  auto sink = std::make_shared<CollectSink>(std::vector<std::size_t>{1});
  std::vector<internal::Submission> batch(1);
  batch[0].seq = internal::next_task_seq();
  batch[0].name = task;
  batch[0].args = *std::move(args);
  batch[0].options = config.task;
  batch[0].sink = sink;
  std::string id = internal::task_id_string(batch[0].seq);
  const std::vector<std::uint64_t> seqs = seqs_of(batch);
  if (!config.no_wait) catch_stop_signals();
  backend->submit(batch);
  if (config.no_wait) {
    // A full broker (--max-queued) holds the task back as it would a blocking submission
    // (the backend resends it until there is room), here up to the connect timeout.
    const auto limit = config.connect.connect_timeout;
    const auto deadline = Clock::now() + limit;
    bool said_full = false;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (backend->wait_accepted(
              std::clamp(left, std::chrono::milliseconds(0), std::chrono::milliseconds(100)))) {
        break;
      }
      bool full = backend->waiting_for_room();
      if (full && !said_full) {
        said_full = true;
        std::fprintf(stderr, "shoal: the broker is full%s; waiting up to %s for room\n",
                     fullness(*backend).c_str(), seconds_text(limit).c_str());
      }
      if (Clock::now() < deadline) continue;
      std::string how = full ? fullness(*backend) : "";
      // Taken while the broker was asked how full it is (up to 2 s): submitted after all.
      if (backend->wait_accepted(std::chrono::milliseconds(0))) break;
      // Withdrawn: dropped here if it is waiting to be resent, else cancelled at the
      // broker, which refuses it should a resend still on its way arrive after the cancel
      // (the two are not ordered). Not withdrawn: the broker took it meanwhile (it is
      // running or done, or its Accepted came since), or did not answer the cancel.
      if (!backend->cancel(seqs[0])) {  // (submit() emptied batch)
        if (backend->wait_accepted(std::chrono::milliseconds(0)) || sink->all_done()) break;
        const std::string result_command = "shoal result " + id;
        return fail("task " + id + " could not be withdrawn after " + seconds_text(limit) +
                    ": the broker took it meanwhile or did not answer; it may run (" +
                    result_command + " tells)");
      }
      if (full) {
        return fail("task " + id + " was not submitted: the broker stayed full for " +
                    seconds_text(limit) + how +
                    "; try again later, wait longer (--connect-timeout-ms) or add workers");
      }
      return fail("the broker did not accept task " + id + " within " + seconds_text(limit) +
                  " (--connect-timeout-ms)");
    }
    if (sink->all_done() && sink->outcome(0).error) {  // e.g. rejected as invalid
      return fail("task " + id + " was refused: " + describe(*sink->outcome(0).error));
    }
    std::printf("%s\n", id.c_str());
    return 0;
  }
  BrokerLinkNotices link(*backend, config.broker, config.reconnect_timeout);
  const auto start = Clock::now();
  for (bool checked = false; !sink->all_done();) {
    sink->wait(std::chrono::milliseconds(100));
    if (stop_signal() != 0) {
      return interrupt_submit(*backend, id, seqs, *sink, config.connect.connect_timeout);
    }
    link.report("", /*newline_first=*/false);
    if (!checked && !sink->all_done() && Clock::now() - start >= std::chrono::seconds(2)) {
      checked = true;  // nothing back yet: anyone there?
      warn_if_unserved(*backend, config.task.queue, link, "");
    }
  }
  return print_outcome(id, sink->outcome(0));
}

int run_map(const CliConfig& config, const std::string& task) {
  // Read whole first: an ifstream opens a directory and then reads it as empty.
  std::string text;
  if (!internal::read_whole_file(config.input, &text)) {
    return fail("--input: cannot read '" + config.input + "': " + std::strerror(errno), 2);
  }
  std::istringstream in(text);
  std::vector<std::string> items;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto args = json_to_msgpack(line);
    if (!args.ok() || !is_array(*args)) {
      return fail(config.input + ":" + std::to_string(number) +
                      ": each line must be a JSON array of arguments" +
                      (args.ok() ? "" : " (" + std::string(args.status().message()) + ")"),
                  2);
    }
    items.push_back(*std::move(args));
  }
  auto backend = connect(config);
  if (!backend) return 1;
  std::size_t chunk = config.chunksize;
  if (chunk == 0) {  // as Pool::map, but small enough for a live progress bar
    std::size_t parts =
        static_cast<std::size_t>(std::max(1, backend->processes_hint(config.task.queue))) * 4;
    chunk = std::clamp<std::size_t>((items.size() + parts - 1) / parts, 1, 1000);
    if (!items.empty()) {
      chunk = internal::cap_chunk_by_bytes(chunk, items[0].size(),
                                           internal::auto_chunk_bytes(*backend));
    }
  }
  std::vector<std::size_t> sizes;
  for (std::size_t at = 0; at < items.size(); at += chunk) {
    sizes.push_back(std::min(chunk, items.size() - at));
  }
  auto sink = std::make_shared<CollectSink>(sizes);
  auto start = Clock::now();
  std::vector<internal::Submission> batch;
  for (std::size_t c = 0, at = 0; c < sizes.size(); ++c) {
    internal::Submission s;
    s.seq = internal::next_task_seq();
    s.name = task;
    s.items = sizes[c];
    s.options = config.task;
    s.sink = sink;
    s.index = c;
    for (std::size_t i = 0; i < sizes[c]; ++i) s.args += items[at++];
    batch.push_back(std::move(s));
  }
  const std::vector<std::uint64_t> seqs = seqs_of(batch);
  catch_stop_signals();
  // Never blocks, however full the broker: submit() waits only while the backend's
  // window of unaccepted tasks is full when called, and this first call finds it empty.
  // What the broker has no room for is held in the backend (resent until it has), where
  // a signal's cancel_all() drops it; the loop below looks for a signal at every turn.
  backend->submit(batch);
  bool bar = config.progress && isatty(STDERR_FILENO);
  bool checked_workers = false;
  BrokerLinkNotices link(*backend, config.broker, config.reconnect_timeout);
  // After SIGINT or SIGTERM: each chunk's outcome (kEnded: its result is in).
  std::optional<std::vector<CancelOutcome>> interrupted;
  for (;;) {
    const CollectSink::Progress now = sink->wait(std::chrono::milliseconds(100));
    if (stop_signal() != 0) {
      interrupted = cancel_unended(*backend, seqs, *sink, config.connect.connect_timeout);
      break;
    }
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::string progress = " with " + std::to_string(now.ended - now.failed) + "/" +
                           std::to_string(items.size()) + " items done";
    if (now.failed) progress += " (" + std::to_string(now.failed) + " failed)";
    link.report(progress, bar);
    if (!checked_workers && now.ended == 0 && seconds >= 2) {  // nothing back yet: anyone there?
      checked_workers = true;
      if (bar) std::fprintf(stderr, "\n");
      warn_if_unserved(*backend, config.task.queue, link, progress);
    }
    if (bar) draw_progress(now.ended, now.failed, items.size(), seconds);
    if (sink->all_done()) break;
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (bar) std::fprintf(stderr, "\n");
  std::size_t failed = 0;
  std::size_t unreachable = 0;  // items whose chunk failed because the broker was gone
  std::size_t cancelled = 0;    // interrupted: items cancelled, and items not waited for
  std::size_t not_waited = 0;
  for (std::size_t c = 0; c < sizes.size(); ++c) {
    // Interrupted, every input line still has its line: a finished item's result, or an
    // error saying that it was cancelled, or not waited for.
    if (interrupted && (*interrupted)[c] == CancelOutcome::kCancelled) {
      cancelled += sizes[c];
      for (std::size_t i = 0; i < sizes[c]; ++i) {
        std::printf("{\"error\":\"ERROR_KIND_CANCELLED: interrupted: cancelled before it ran\"}\n");
      }
      continue;
    }
    if (interrupted && !sink->done(c)) {
      not_waited += sizes[c];
      const std::string id = internal::task_id_string(seqs[c]);
      const std::string line =
          "{\"error\":" +
          json_string("interrupted: not waited for (task " + id +
                      ": running, or the broker did not answer its cancel; shoal result " + id +
                      " tells)") +
          "}\n";
      for (std::size_t i = 0; i < sizes[c]; ++i) std::fputs(line.c_str(), stdout);
      continue;
    }
    auto& outcome = sink->outcome(c);
    if (outcome.error && outcome.error->kind == internal::ErrorKind::kConnection) {
      unreachable += sizes[c];
    }
    v1::TaskResult result;
    bool ok = !outcome.error && internal::reply_to_items(outcome.reply, sizes[c], &result).ok();
    for (std::size_t i = 0; i < sizes[c]; ++i) {
      std::optional<std::string> json;
      std::string error;
      if (!ok) {
        error = outcome.error ? describe(*outcome.error) : "malformed result";
      } else if (result.items(static_cast<int>(i)).has_error()) {
        error = describe(internal::to_error_info(result.items(static_cast<int>(i)).error()));
      } else if (auto j = msgpack_to_json(result.items(static_cast<int>(i)).value()); j.ok()) {
        json = *j;
      } else {
        error = std::string(j.status().message());
      }
      if (json) {
        std::printf("%s\n", json->c_str());
      } else {
        ++failed;
        std::printf("{\"error\":%s}\n", json_string(error).c_str());
      }
    }
  }
  // The summary would hide the one line that matters.
  if (!flush_output()) return interrupted ? interrupted_status() : 1;
  if (interrupted) {
    const std::size_t ended = items.size() - cancelled - not_waited;
    std::string text = "interrupted: " + count_of(items.size(), "item") + ": " +
                       std::to_string(ended) + " ended" +
                       (failed ? " (" + std::to_string(failed) + " failed)" : "") + ", " +
                       std::to_string(cancelled) + " cancelled at the broker (" +
                       (cancelled == 1 ? "it" : "they") + " will not run)";
    if (not_waited > 0) {
      text += ", " + std::to_string(not_waited) +
              " not cancelled (running, or the broker did not answer; see their lines)";
    }
    fail(text);
    return interrupted_status();
  }
  if (link.lost() && unreachable > 0) {
    fail("gave up on the broker at " + config.broker + ": not back within " +
         seconds_text(config.reconnect_timeout) + " (--reconnect-timeout-ms); " +
         std::to_string(unreachable) + " item" + (unreachable == 1 ? "" : "s") + " not done");
  }
  // The rate is of completed items only: failed ones (often refused at once) say nothing
  // about throughput.
  std::size_t completed = items.size() - failed;
  std::fprintf(stderr, "shoal: %zu items in %.3f s: %zu done (%.0f/s), %zu failed\n", items.size(),
               seconds, completed, seconds > 0 ? static_cast<double>(completed) / seconds : 0.0,
               failed);
  return failed ? 1 : 0;
}

}  // namespace shoal::cli
