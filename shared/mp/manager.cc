// Manager: starts, finds and stops the server process.
#include "shoal/manager.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <exception>
#include <iostream>
#include <random>

#include "shared/endpoint.h"
#include "shared/mp/manager_auth.h"
#include "shared/mp/manager_client.h"
#include "shared/mp/manager_server.h"

namespace shoal {
namespace {

constexpr int kStartTimeoutMs = 10000;
constexpr int kExitTimeoutMs = 2000;

// A name unique on this host for a private server.
std::string private_name() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  return "shoal-manager-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + "-" +
         std::to_string(rd());
}

// Reads one line from `fd`, waiting at most `timeout_ms` in total.
std::string read_line(int fd, int timeout_ms) {
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return line;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      if (errno == EINTR) continue;
      return line;
    }
    char c;
    ssize_t n = ::read(fd, &c, 1);
    if (n <= 0 || c == '\n') return line;
    line.push_back(c);
  }
}

// Waits up to `timeout_ms` for child `pid` to exit, then kills it; always reaps it.
void reap_server(pid_t pid, int timeout_ms) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd >= 0) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) ::kill(pid, SIGKILL);
    ::close(fd);
  } else if (errno == ESRCH) {
    return;  // reaped already (SIGCHLD ignored, or the program's own waitpid): the pid may
             // be another process's by now
  } else {
    ::kill(pid, SIGKILL);  // no pidfds (Linux < 5.3)
  }
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// Does nothing: stands in for the owner's handler of a signal in the server.
void ignore_signal(int) {}

// The owner's signal handlers belong to its program and none may run in the server (one
// that calls exit() would run the owner's atexit code there); a signal the owner catches
// is caught and dropped instead, so the server survives what its owner survives (a
// SIGWINCH or SIGTERM sent to the process group) and ends with it. Handlers of faults
// (a sanitizer's, a crash reporter's) are kept.
void quiet_owner_handlers() {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE ||
        sig == SIGILL || sig == SIGTRAP || sig == SIGABRT || sig == SIGSYS) {
      continue;
    }
    struct sigaction old{};
    if (::sigaction(sig, nullptr, &old) != 0) continue;
    if (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN) continue;
    struct sigaction quiet{};
    quiet.sa_handler = ignore_signal;
    sigemptyset(&quiet.sa_mask);
    quiet.sa_flags = SA_RESTART;
    ::sigaction(sig, &quiet, nullptr);
  }
}

}  // namespace

// The private server listens only on the direct socket (same host, no ZeroMQ threads in
// the way), where it admits only processes of its own user.
Manager::Manager() : Manager(spawn("", private_name(), "")) {}

Manager Manager::serve(const std::string& endpoint) { return serve(endpoint, ManagerOptions{}); }

Manager Manager::serve(const std::string& endpoint, const ManagerOptions& options) {
  // libzmq would quietly bind port 99999 as 34463 (it keeps the low 16 bits).
  if (endpoint.rfind("tcp://", 0) == 0) {
    if (absl::Status ok = internal::check_tcp_endpoint(endpoint, internal::EndpointUse::kBind);
        !ok.ok()) {
      throw Error("shoal::Manager::serve: " + std::string(ok.message()));
    }
  }
  const std::string authkey = internal::manager_authkey(options);
  Manager m = spawn(endpoint, "", authkey);
  internal::remember_manager_authkey(m.endpoint_, authkey);
  return m;
}

Manager Manager::spawn(const std::string& bind_endpoint, const std::string& direct_name,
                       const std::string& authkey) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw Error("shoal::Manager: pipe failed");
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw Error("shoal::Manager: fork failed");
  }
  if (pid == 0) {
    // The server ends with its owner process (even a SIGKILLed one), watched through a
    // pidfd: PR_SET_PDEATHSIG would follow the forking thread, and a Manager made on a
    // thread that ends would lose its server. It keeps none of the owner's descriptors
    // open (pipes the owner waits on for EOF, say).
    if (fds[1] != 3) ::dup2(fds[1], 3);
    int owner = static_cast<int>(::syscall(SYS_pidfd_open, parent, 0));
    if (owner < 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // no pidfds (Linux < 5.3): the thread's life
    } else if (owner != 4) {
      ::dup2(owner, 4);
      ::close(owner);
      owner = 4;
    }
    if (::getppid() != parent) ::_exit(1);  // the owner died before the watch began
    ::signal(SIGINT, SIG_IGN);
    quiet_owner_handlers();
    ::close_range(owner < 0 ? 4 : 5, ~0u, 0);
    // Nothing may leave this branch but _exit: an exception escaping the server would
    // unwind into the owner's code, and the child would go on running the owner's program.
    try {
      ::_exit(internal::run_manager_server(bind_endpoint, direct_name, authkey, 3, owner));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shoal::Manager server %d failed: %s\n", ::getpid(), e.what());
    } catch (...) {
      std::fprintf(stderr, "shoal::Manager server %d failed\n", ::getpid());
    }
    ::_exit(70);
  }
  ::close(fds[1]);
  std::string line = read_line(fds[0], kStartTimeoutMs);
  ::close(fds[0]);
  if (line.rfind("ok ", 0) != 0) {
    reap_server(pid, 0);
    throw Error("shoal::Manager: the server did not start" +
                (line.empty() ? std::string() : ": " + line.substr(line.find(' ') + 1)));
  }
  return Manager(line.substr(3), pid, true);
}

Manager Manager::connect(const std::string& endpoint) {
  return connect(endpoint, ManagerOptions{});
}

Manager Manager::connect(const std::string& endpoint, const ManagerOptions& options) {
  // The key is remembered only once the server took it: a refused one must not replace
  // the key that works for this process's other proxies.
  const std::string authkey = options.authkey.empty()
                                  ? internal::manager_authkey_for(endpoint)
                                  : options.authkey;
  internal::ManagerRequest ping;
  ping.op = "ping";
  internal::manager_call_with_key(endpoint, authkey, ping, std::chrono::milliseconds(1500));
  if (!options.authkey.empty()) internal::remember_manager_authkey(endpoint, options.authkey);
  return Manager(endpoint, 0, false);
}

Manager::Manager(Manager&& other) noexcept
    : endpoint_(std::move(other.endpoint_)),
      server_(other.server_),
      owner_(other.owner_),
      creator_(other.creator_) {
  other.owner_ = false;
  other.server_ = 0;
}

Manager& Manager::operator=(Manager&& other) noexcept {
  if (this != &other) {
    shutdown();
    endpoint_ = std::move(other.endpoint_);
    server_ = other.server_;
    owner_ = other.owner_;
    creator_ = other.creator_;
    other.owner_ = false;
    other.server_ = 0;
  }
  return *this;
}

Manager::~Manager() { shutdown(); }

void Manager::shutdown() {
  if (!owner_) return;
  owner_ = false;
  // Only the process that started the server stops it: not a forked child whose exit
  // runs the destructors of the copy it inherited (Python's finalizers do the same).
  if (server_ == 0 || ::getpid() != creator_) return;
  try {
    internal::ManagerRequest stop;
    stop.op = "shutdown";
    internal::manager_call(endpoint_, stop);
  } catch (const std::exception&) {
    // Already gone or wedged: reap_server kills it.
  }
  reap_server(server_, kExitTimeoutMs);
  server_ = 0;
  internal::forget_manager_endpoint(endpoint_);
}

std::optional<pid_t> Manager::server_pid() const {
  if (!owner_ || server_ == 0) return std::nullopt;
  return server_;
}

internal::ProxyRef Manager::create(const char* kind, std::string name,
                                   std::vector<std::string> values, int64_t n) {
  internal::ManagerRequest req;
  req.kind = kind;
  req.values = std::move(values);
  req.n = n;
  internal::ProxyRef ref{endpoint_, std::move(name), kind};
  auto reply = internal::proxy_call(ref, "create", std::move(req));
  ref.name = reply.value;
  return ref;
}

}  // namespace shoal
