// status, workers, queues, result, cancel: unary calls to the broker.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_join.h"
#include "client/cli/commands.h"
#include "client/cli/json_msgpack.h"
#include "client/remote_channel.h"
#include "client/remote_status.h"
#include "client/remote_wire.h"
#include "shoal/internal/utf8.h"
#include "shoal/v1/service.grpc.pb.h"

namespace shoal::cli {
namespace {

using Stub = v1::TaskService::Stub;

// A connected stub, or an error line (returned as nullptr).
std::unique_ptr<Stub> connect(const CliConfig& config) {
  auto channel = internal::make_channel(config.broker, config.connect);
  absl::Status status = internal::wait_connected(*channel, config.broker, config.connect,
                                                 internal::cli_tls_setting_names());
  if (!status.ok()) {
    fail(std::string(status.message()));
    return nullptr;
  }
  return v1::TaskService::NewStub(channel);
}

std::unique_ptr<grpc::ClientContext> context(const CliConfig& config,
                                             std::chrono::milliseconds extra = {}) {
  return internal::make_context(config.connect, config.connect.connect_timeout + extra);
}

int call_failed(const grpc::Status& status, const std::string& what) {
  return fail(std::string(internal::from_grpc(status, what).message()));
}

// Prints rows as left-aligned columns.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

void print_workers(const v1::ListWorkersResponse& response) {
  std::vector<std::vector<std::string>> rows{
      {"WORKER", "HOST", "PID", "QUEUES", "SLOTS", "RUNNING", "CREDIT", "LAST-SEEN-MS"}};
  for (const auto& w : response.workers()) {
    rows.push_back({w.name(), w.host(), std::to_string(w.pid()), absl::StrJoin(w.queues(), ","),
                    std::to_string(w.slots()), std::to_string(w.running()),
                    std::to_string(w.credit()), std::to_string(w.last_seen_ms())});
  }
  print_table(rows);
}

void print_queues(const v1::ListQueuesResponse& response) {
  std::vector<std::vector<std::string>> rows{{"QUEUE", "DEPTH", "IN-FLIGHT", "WORKERS"}};
  for (const auto& q : response.queues()) {
    rows.push_back({q.name(), std::to_string(q.depth()), std::to_string(q.in_flight()),
                    std::to_string(q.workers())});
  }
  print_table(rows);
}

// A finished task's outcome as JSON on stdout; 1 if it failed.
int print_result(const v1::TaskResult& result) {
  if (result.has_failure()) {
    const auto& f = result.failure();
    return fail("task " + result.id() + " failed: " + v1::ErrorKind_Name(f.kind()) + ": " +
                f.message());
  }
  if (result.items_size() == 1 && result.items(0).has_error()) {
    const auto& e = result.items(0).error();
    return fail("task " + result.id() + " raised " +
                (e.type_name().empty() ? v1::ErrorKind_Name(e.kind()) : e.type_name()) + ": " +
                e.message());
  }
  auto bodies = internal::result_values(result);
  if (!bodies.ok()) {
    return fail("task " + result.id() + ": " + std::string(bodies.status().message()));
  }
  std::vector<std::string> values;
  int failed = 0;
  for (int i = 0; i < static_cast<int>(bodies->size()); ++i) {
    if (result.values().empty() && result.items(i).has_error()) {
      const auto& item = result.items(i);
      ++failed;
      values.push_back(
          "{\"error\":{\"kind\":" + json_string(v1::ErrorKind_Name(item.error().kind())) +
          ",\"type\":" + json_string(item.error().type_name()) + "}}");
      fail("task " + result.id() + " raised " + item.error().type_name() + ": " +
           item.error().message());
      continue;
    }
    auto json = msgpack_to_json((*bodies)[static_cast<std::size_t>(i)]);
    if (!json.ok()) {
      return fail("task " + result.id() + ": " + std::string(json.status().message()));
    }
    values.push_back(*json);
  }
  if (values.size() == 1) {
    std::printf("%s\n", values[0].c_str());
  } else {
    std::printf("[%s]\n", absl::StrJoin(values, ",").c_str());
  }
  return failed ? 1 : 0;
}

}  // namespace

int fail(const std::string& message, int code) {
  std::fprintf(stderr, "shoal: %s\n", message.c_str());
  return code;
}

bool flush_output() {
  errno = 0;
  bool flushed = std::fflush(stdout) == 0;
  int error = errno;
  if (flushed && !std::ferror(stdout)) return true;
  // glibc drops the buffer of a failed write; an earlier failure left only ferror().
  fail(std::string("writing results failed: ") +
       (!flushed && error != 0 ? std::strerror(error) : "write error"));
  std::clearerr(stdout);  // reported once
  return false;
}

absl::Status check_task_id(const std::string& id) {
  if (id.size() > kMaxTaskIdBytes) {
    return absl::InvalidArgumentError("a task id is at most " + std::to_string(kMaxTaskIdBytes) +
                                      " bytes, not " + std::to_string(id.size()));
  }
  if (!internal::is_utf8(id)) {
    return absl::InvalidArgumentError("a task id is UTF-8 text; '" +
                                      internal::utf8_or_escaped(id) + "' is not");
  }
  return absl::OkStatus();
}

int run_workers(const CliConfig& config) {
  auto stub = connect(config);
  if (!stub) return 1;
  v1::ListWorkersResponse response;
  auto status = stub->ListWorkers(context(config).get(), {}, &response);
  if (!status.ok()) return call_failed(status, "ListWorkers");
  print_workers(response);
  return 0;
}

int run_queues(const CliConfig& config) {
  auto stub = connect(config);
  if (!stub) return 1;
  v1::ListQueuesResponse response;
  auto status = stub->ListQueues(context(config).get(), {}, &response);
  if (!status.ok()) return call_failed(status, "ListQueues");
  print_queues(response);
  return 0;
}

int run_status(const CliConfig& config) {
  auto stub = connect(config);
  if (!stub) return 1;
  v1::Stats stats;
  v1::ListQueuesResponse queues;
  v1::ListWorkersResponse workers;
  if (auto s = stub->GetStats(context(config).get(), {}, &stats); !s.ok()) {
    return call_failed(s, "GetStats");
  }
  if (auto s = stub->ListQueues(context(config).get(), {}, &queues); !s.ok()) {
    return call_failed(s, "ListQueues");
  }
  if (auto s = stub->ListWorkers(context(config).get(), {}, &workers); !s.ok()) {
    return call_failed(s, "ListWorkers");
  }
  std::uint64_t slots = 0;
  for (const auto& w : workers.workers()) slots += w.slots();
  std::printf("broker %s: up %.1f s, %u workers (%llu slots), %u client session%s, "
              "%.1f tasks/s, cpu %.2f s\n",
              config.broker.c_str(), static_cast<double>(stats.uptime_ms()) / 1000.0,
              stats.workers(), static_cast<unsigned long long>(slots), stats.sessions(),
              stats.sessions() == 1 ? "" : "s",
              stats.tasks_per_second(), stats.cpu_seconds());
  // The limit from a broker that says it (--max-queued): " (at most 1000000)".
  std::string limit = stats.max_queued() > 0
                          ? " (at most " + std::to_string(stats.max_queued()) + ")"
                          : std::string();
  std::printf("tasks: %llu submitted, %llu completed, %llu failed, %llu retried, "
              "%llu queued%s, %llu running, %llu results retained\n",
              static_cast<unsigned long long>(stats.submitted()),
              static_cast<unsigned long long>(stats.completed()),
              static_cast<unsigned long long>(stats.failed()),
              static_cast<unsigned long long>(stats.retried()),
              static_cast<unsigned long long>(stats.queued()), limit.c_str(),
              static_cast<unsigned long long>(stats.running()),
              static_cast<unsigned long long>(stats.results_retained()));
  // From a broker that says its bound (--task-memory-mb).
  if (stats.max_task_bytes() > 0) {
    std::printf("arguments held: %.1f MiB of the tasks not done (at most %llu MiB)\n",
                static_cast<double>(stats.task_bytes()) / (1 << 20),
                static_cast<unsigned long long>(stats.max_task_bytes() >> 20));
  }
  if (stats.journal_bytes() > 0) {
    std::printf("store: journal of %.1f MB (a restart keeps acknowledged tasks)\n",
                static_cast<double>(stats.journal_bytes()) / 1e6);
  } else {
    std::printf("store: memory only (a restart loses queued tasks)\n");
  }
  std::printf("bad input: %llu worker frames, %llu client messages, %llu refused workers\n\n",
              static_cast<unsigned long long>(stats.bad_worker_frames()),
              static_cast<unsigned long long>(stats.bad_client_messages()),
              static_cast<unsigned long long>(stats.refused_workers()));
  print_queues(queues);
  std::printf("\n");
  print_workers(workers);
  return 0;
}

int run_result(const CliConfig& config, const std::string& id) {
  auto stub = connect(config);
  if (!stub) return 1;
  v1::GetResultRequest request;
  request.set_id(id);
  v1::GetResultResponse response;
  // The broker waits at most 10 minutes per call: a longer --wait-ms asks again, each
  // call for at most a minute, until the task ends or the wait is over.
  const auto deadline = std::chrono::steady_clock::now() + config.wait;
  for (;;) {
    const auto left = std::max(std::chrono::milliseconds(0),
                               std::chrono::duration_cast<std::chrono::milliseconds>(
                                   deadline - std::chrono::steady_clock::now()));
    const auto wait = std::min(left, std::chrono::milliseconds(60'000));
    request.set_wait_ms(static_cast<std::uint32_t>(wait.count()));
    auto status = stub->GetResult(context(config, wait).get(), request, &response);
    if (!status.ok()) return call_failed(status, "GetResult");
    const bool pending = response.state() == v1::TASK_STATE_QUEUED ||
                         response.state() == v1::TASK_STATE_RUNNING;
    if (!pending || wait == left) break;
  }
  if (response.state() == v1::TASK_STATE_UNKNOWN) {
    return fail("task " + id + " is TASK_STATE_UNKNOWN (never seen, or expired)",
                kExitUnknownTask);
  }
  if (response.state() != v1::TASK_STATE_DONE) {
    return fail("task " + id + " is " + v1::TaskState_Name(response.state()) +
                    " (not finished yet; --wait-ms=N waits for it)",
                kExitNotFinished);
  }
  return print_result(response.result());
}

int run_cancel(const CliConfig& config, const std::string& id) {
  auto stub = connect(config);
  if (!stub) return 1;
  v1::CancelRequest request;
  request.set_id(id);
  v1::CancelResponse response;
  auto status = stub->Cancel(context(config).get(), request, &response);
  if (!status.ok()) return call_failed(status, "Cancel");
  // The broker answers an id it does not know with state UNKNOWN (cancelled false), as
  // GetResult does: `result`'s exit status for it.
  if (!response.cancelled() && response.state() == v1::TASK_STATE_UNKNOWN) {
    return fail("task " + id + " is TASK_STATE_UNKNOWN (never seen, or expired): nothing to cancel",
                kExitUnknownTask);
  }
  if (!response.cancelled()) {
    return fail("task " + id + " was not cancelled: it is " +
                v1::TaskState_Name(response.state()));
  }
  std::printf("cancelled %s\n", id.c_str());
  return 0;
}

int print_task_result(const v1::TaskResult& result) { return print_result(result); }

}  // namespace shoal::cli
