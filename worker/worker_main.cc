#include "shoal/worker_main.hpp"

#include <dlfcn.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdio>
#include <random>

#include "absl/strings/str_join.h"
#include "shoal/internal/backend.h"
#include "shoal/internal/malloc_tuning.h"
#include "shoal/internal/name_limits.h"
#include "shoal/internal/utf8.h"
#include "shoal/process.hpp"
#include "shoal/task.hpp"
#include "shared/curve_keys.h"
#include "shared/zmq_term.h"
#include "worker/session.h"
#include "worker/worker_config.h"
#include "worker/worker_run.h"

namespace shoal {
namespace worker {
namespace {

int g_stop_fd = -1;

void on_stop_signal(int) {
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(g_stop_fd, &one, sizeof(one));  // async-signal-safe
}

// WorkerHello.instance: tells this process from another one using the same --name.
std::string random_instance() {
  std::random_device random;
  char text[17];
  std::snprintf(text, sizeof(text), "%08x%08x", random(), random());
  return text;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

int fail(const std::string& message, int code) {
  std::fprintf(stderr, "shoal-worker: %s\n", message.c_str());
  return code;
}

}  // namespace

int run_worker(int argc, char** argv, bool allow_load) {
  auto parsed = parse_worker_flags(argc, argv, allow_load);
  std::string program = argc > 0 ? argv[0] : "shoal-worker";
  if (!parsed.ok()) return fail(std::string(parsed.status().message()), 2);
  WorkerConfig config = *std::move(parsed);
  if (config.help) {
    std::fputs(worker_usage(program, allow_load).c_str(), stdout);
    return 0;
  }
  auto level = parse_log_level(config.log_level);
  if (!level.ok()) return fail(std::string(level.status().message()), 2);
  for (const auto& lib : config.load) {
    if (dlopen(lib.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
      return fail("--load=" + lib + ": " + dlerror(), 2);
    }
  }
  int slots = config.processes > 0 ? config.processes : shoal::cpu_count();
  std::string host = host_name();
  std::string name = config.name.empty() ? host + "-" + std::to_string(getpid()) : config.name;
  Log log(name, *level);
  Transport::Curve curve;
  if (!config.broker_public_key.empty()) {
    auto pair = config.curve_secret_key_file.empty()
                    ? internal::new_curve_key_pair()
                    : internal::read_curve_key_pair(config.curve_secret_key_file);
    if (!pair.ok()) return fail("CURVE: " + std::string(pair.status().message()), 2);
    curve = {config.broker_public_key, pair->public_key, pair->secret_key};
  }

  // Task arguments and results of many MiB pass through this process; the session gives
  // freed memory back when it holds no task.
  internal::retain_payload_memory_until_idle();

  // The engine forks its zygote now, while this process has no other thread; detached,
  // so that a Ctrl-C or SIGTERM to our process group drains the tasks, not kills them.
  std::shared_ptr<internal::Backend> engine;
  try {
    engine = internal::make_local_backend(PoolOptions{slots, {}, 0}, /*detached=*/true);
  } catch (const std::exception& e) {
    return fail(std::string("could not start the worker processes: ") + e.what(), 1);
  }

  // A log reader that went away (a pipe to `tee` or a log shipper) must not kill the
  // worker at its next line: a write to stderr fails instead. After the fork above, so
  // that the task processes keep the default.
  signal(SIGPIPE, SIG_IGN);

  g_stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  auto done = CompletionQueue::create();
  if (!done.ok()) return fail(std::string(done.status().message()), 1);
  absl::Status status;
  zmq::context_t context(1);
  {
    TaskRunner runner(engine, name, done->get());
    SessionConfig session_config;
    session_config.broker = config.broker;
    session_config.curve = curve;
    session_config.name = name;
    session_config.instance = random_instance();
    session_config.host = host;
    session_config.pid = static_cast<std::uint64_t>(getpid());
    session_config.queues = config.queues;
    for (std::string& task : internal::task_names()) {
      // A hello naming it could not be sent: protobuf strings are UTF-8, and the broker
      // drops a hello with a name over its limit (the worker would never be welcomed).
      if (!internal::is_utf8(task)) {
        log.warning("task '" + internal::utf8_or_escaped(task) +
                    "' is not served: a task name must be UTF-8");
      } else if (task.size() > internal::kMaxTaskNameBytes) {
        log.warning("task '" + internal::utf8_or_escaped(task.substr(0, 64)) +
                    "...' is not served: its name is " + std::to_string(task.size()) +
                    " bytes, more than " + std::to_string(internal::kMaxTaskNameBytes));
      } else {
        session_config.tasks.push_back(std::move(task));
      }
    }
    if (session_config.tasks.empty()) {
      log.warning("no task is registered: every task sent here fails with NotRegisteredError "
                  "(does --load name the library that registers them?)");
    }
    session_config.slots = slots;
    session_config.prefetch = config.prefetch;
    session_config.drain_timeout = config.drain_timeout;
    WorkerSession session(session_config, context, runner, **done, log);
    status = session.run(g_stop_fd, [&] {
      std::printf("shoal-worker ready name=%s slots=%d queues=%s\n", name.c_str(), slots,
                  absl::StrJoin(config.queues, ",").c_str());
      std::fflush(stdout);
    });
    const SessionStats& stats = session.stats();
    log.info("stopped: " + std::to_string(stats.tasks) + " tasks, " +
             std::to_string(stats.results) + " results sent, " +
             std::to_string(stats.reconnects) + " reconnects, " +
             std::to_string(stats.bad_frames) + " bad frames");
    if (runner.running() > 0) {
      engine->terminate();
    } else {
      engine->close();
    }
    engine->join();
  }  // the session has closed its sockets
  if (!internal::terminate_within(std::move(context), std::chrono::seconds(5))) {
    log.warning("ZeroMQ did not end in 5 s after every socket was closed; exiting anyway");
  }
  if (!status.ok()) {
    // A taken name is not worth restarting for (deploy/shoal-worker@.service).
    return fail(std::string(status.message()), absl::IsAlreadyExists(status) ? 3 : 1);
  }
  return 0;
}

}  // namespace worker

int worker_main(int argc, char** argv) { return worker::run_worker(argc, argv, false); }

}  // namespace shoal
