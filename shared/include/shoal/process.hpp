#pragma once
// Process (API.md §5): run a callable in a forked child, like multiprocessing.Process.
//
//   shoal::Process p([](int i) { std::cout << "hello " << i << "\n"; }, 7);
//   p.start();
//   p.join();                 // p.exitcode() == 0
//
//   struct Worker : shoal::Process { void run() override { ... } };
//
// The target and its arguments are copied (moved, for rvalues) into the Process when it
// is constructed; start() forks, and the child calls target(args...) with the stored
// arguments as lvalues, so a target taking `shoal::Queue<int>&` works on the child's
// copy of the handle. stdout/stderr (C and C++ streams) are flushed before the fork.
// In the child: run() returning ends the process with exit code 0; run() throwing
// prints "Process <name>: <type>: <what>" to stderr and ends it with exit code 1;
// std::exit(n) gives n; pthread_exit() ends it with exit code 0 (its other threads too,
// and the stack is unwound only as far as run()). The child leaves with _exit, so no
// static destructors or atexit handlers of the parent run twice (std::exit inside run()
// does run them).
//
// A Process is used from the process that created it (join/is_alive elsewhere throw
// std::logic_error). Members are not thread-safe: one thread drives a Process.
// Daemon children get SIGKILL when the thread that started them ends (the parent's
// exit included, even by SIGKILL; Linux PR_SET_PDEATHSIG), so start daemons from a
// thread that lives as long as they should; one whose starting thread had already ended
// by the time it was set up exits at once with status 1.

#include <sys/types.h>

#include <chrono>
#include <concepts>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "shoal/internal/deadline.h"

namespace shoal {
namespace internal {

// A type-erased target call; may hold move-only arguments.
class ProcessTarget {
 public:
  virtual ~ProcessTarget() = default;
  virtual void call() = 0;
};

template <class F, class... A>
class BoundTarget final : public ProcessTarget {
 public:
  template <class G, class... B>
  explicit BoundTarget(G&& f, B&&... args)
      : f_(std::forward<G>(f)), args_(std::forward<B>(args)...) {}
  void call() override {
    std::apply([this](auto&... a) { std::invoke(f_, a...); }, args_);
  }

 private:
  F f_;
  std::tuple<A...> args_;
};

}  // namespace internal

class Process {
 public:
  // For subclasses that override run(). Name "Process-N" (N counts constructions).
  Process();
  // Runs target(args...) in the child. The callable and arguments are decay-copied.
  template <class F, class... A>
  requires std::invocable < std::decay_t<F>
  &, std::decay_t<A>&... > explicit Process(F&& target, A&&... args) : Process() {
    target_ = std::make_unique<internal::BoundTarget<std::decay_t<F>, std::decay_t<A>...>>(
        std::forward<F>(target), std::forward<A>(args)...);
  }
  // A moved-from Process may be destroyed or assigned to; anything else throws
  // std::logic_error.
  Process(Process&&) noexcept;
  Process& operator=(Process&&) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // A started non-daemon process is joined (blocks); a daemon one gets SIGTERM, then
  // SIGKILL if it has not exited within 1 s, and is reaped (blocks up to about 1 s).
  virtual ~Process();

  // What the child runs; by default the target given to the constructor.
  virtual void run();

  // Forks; the child runs run() and exits. std::logic_error if already started.
  // Throws shoal::Error if fork fails.
  void start();
  // Blocks until the child exits and reaps it. std::logic_error before start().
  void join();
  // As join(), at most `timeout`; true if the child has exited.
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return join_until(internal::deadline_after(timeout));
  }
  // True between start() and the child's exit; reaps an exited child (exitcode() is
  // then known). Never blocks.
  bool is_alive() const;
  // nullopt while the child runs (it reaps an exited child itself, as is_alive does);
  // then its exit status, or -N if it was killed by signal N.
  std::optional<int> exitcode() const;
  // nullopt before start().
  std::optional<pid_t> pid() const;

  const std::string& name() const;
  void set_name(std::string name);
  bool daemon() const;
  // std::logic_error after start().
  void set_daemon(bool daemon);

  // Sends SIGTERM / SIGKILL to a running child (no-op once it has been reaped).
  void terminate();
  void kill();

 private:
  struct State;
  State& state() const;  // std::logic_error on a moved-from Process
  bool join_until(std::chrono::steady_clock::time_point deadline);
  void finish() noexcept;
  std::unique_ptr<State> state_;
  std::unique_ptr<internal::ProcessTarget> target_;
};

// The number of CPUs this process may use (at least 1): the online CPUs, fewer when its
// affinity mask or its cgroup's CPU quota (a container's CPU limit, rounded up) allows
// fewer. Unlike Python's os.cpu_count(), which counts all of them.
int cpu_count();
// "MainProcess" in the main process; a child's Process name inside that child.
std::string current_process_name();

}  // namespace shoal
