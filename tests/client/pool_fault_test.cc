// Faults on the local engine: workers that die, hang or run too long, terminate(),
// and the death of the pool's own process.

#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "shoal/pool.hpp"
#include "shoal/process.hpp"
#include "shoal/sync.hpp"
#include "tests/client/pool_test_util.h"
#include "tests/mp/child_test_util.h"

namespace shoal {
namespace {

using ::testing::HasSubstr;
using testing::SharedCell;
using testing::TestPipe;
using testing::wait_for_exit;

using Clock = std::chrono::steady_clock;

int square(int x) { return x * x; }

// Tells the test (through the pipe `fd`) its pid and its parent's (the zygote), then
// waits to be killed.
int report_and_hang(int fd) {
  int ids[2] = {static_cast<int>(getpid()), static_cast<int>(getppid())};
  if (write(fd, ids, sizeof(ids)) != sizeof(ids)) return -1;
  for (;;) pause();
}

// As report_and_hang, but spins on the CPU (terminate must still stop it).
int report_and_spin(int fd) {
  int ids[2] = {static_cast<int>(getpid()), static_cast<int>(getppid())};
  if (write(fd, ids, sizeof(ids)) != sizeof(ids)) return -1;
  volatile unsigned long n = 0;
  for (;;) n = n + 1;
}

// First attempt: report and hang (the test kills it); later attempts return 42.
int hang_first_time(int fd, std::uintptr_t attempts_address) {
  auto* attempts = reinterpret_cast<std::atomic<int>*>(attempts_address);
  if (attempts->fetch_add(1) == 0) return report_and_hang(fd);
  return 42;
}

int crash_abort(int) { std::abort(); }
int crash_segv(int) {
  signal(SIGSEGV, SIG_DFL);  // a real crash even where a sanitizer handles SIGSEGV
  raise(SIGSEGV);
  return 0;
}
int crash_exit(int code) { std::exit(code); }
int sleep_forever(int) {
  for (;;) pause();
}
// Counts its runs in shared memory, then sleeps until killed.
int count_and_sleep(std::uintptr_t runs_address) {
  reinterpret_cast<std::atomic<int>*>(runs_address)->fetch_add(1);
  return sleep_forever(0);
}

// A lock made by the test before its pool, so the workers share it.
Lock& pool_lock() {
  static Lock lock;
  return lock;
}

// Takes pool_lock() and dies holding it.
int die_holding_the_lock(int) {
  pool_lock().acquire();
  std::abort();
}

std::string lost_message(Future<int>& f) {
  try {
    f.get();
  } catch (const WorkerLostError& e) {
    return e.what();
  }
  return "no WorkerLostError";
}

TEST(PoolFaultTest, KilledWorkerFailsItsTaskAndThePoolGoesOn) {
  TestPipe pids;
  Pool pool(2);
  Future<int> f = pool.apply_async(report_and_hang, pids.write_fd());
  int pid = pids.read_int();
  pids.read_int();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  std::string message = lost_message(f);
  EXPECT_THAT(message, HasSubstr("SIGKILL"));
  EXPECT_THAT(message, HasSubstr(std::to_string(pid)));
  EXPECT_THAT(message, HasSubstr(f.id()));
  EXPECT_EQ(pool.map(square, std::vector<int>{1, 2, 3}, 1), (std::vector<int>{1, 4, 9}));
  EXPECT_TRUE(wait_for_exit(pid, std::chrono::seconds(10)));
}

TEST(PoolFaultTest, KilledWorkerIsRetriedWhenMaxRetriesAllows) {
  TestPipe pids;
  SharedCell<std::atomic<int>> attempts;
  Pool pool(1);
  Pool retrying = pool.with(TaskOptions{"", 0, std::chrono::milliseconds(0), 1});
  Future<int> f = retrying.apply_async(hang_first_time, pids.write_fd(),
                                       reinterpret_cast<std::uintptr_t>(attempts.get()));
  int pid = pids.read_int();
  pids.read_int();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  EXPECT_EQ(f.get(), 42);  // re-run on the replacement process
  EXPECT_EQ(attempts->load(), 2);
  EXPECT_EQ(pool.apply(square, 4), 16);
}

TEST(PoolFaultTest, NoRetriesLeftGivesWorkerLostError) {
  TestPipe pids;
  SharedCell<std::atomic<int>> attempts;
  Pool pool(1);
  Future<int> f = pool.apply_async(hang_first_time, pids.write_fd(),
                                   reinterpret_cast<std::uintptr_t>(attempts.get()));
  ASSERT_EQ(kill(pids.read_int(), SIGKILL), 0);
  EXPECT_THAT(lost_message(f), HasSubstr("SIGKILL"));
  EXPECT_EQ(attempts->load(), 1);  // the local default is no re-run
}

TEST(PoolFaultTest, AbortSegfaultAndExitAreReportedWithTheirCause) {
  Pool pool(2);
  Future<int> aborted = pool.apply_async(crash_abort, 0);
  Future<int> segv = pool.apply_async(crash_segv, 0);
  Future<int> exited = pool.apply_async(crash_exit, 3);
  EXPECT_THAT(lost_message(aborted), HasSubstr("SIGABRT"));
  EXPECT_THAT(lost_message(segv), HasSubstr("SIGSEGV"));
  EXPECT_THAT(lost_message(exited), HasSubstr("exited with code 3"));
  EXPECT_EQ(pool.apply(square, 9), 81);
}

// A worker comes from the zygote by _Fork, which runs no atfork handler: the lock must
// record the worker's own pid (not the zygote's, which lives on), or no one ever takes
// over the lock of a worker that died holding it.
TEST(PoolFaultTest, ALockHeldByAWorkerThatDiedIsTakenOver) {
  Lock& lock = pool_lock();
  lock.acquire();  // this process's pid is known (and cached) before the pool forks
  lock.release();
  Pool pool(1);
  Future<int> f = pool.apply_async(die_holding_the_lock, 0);
  EXPECT_THAT(lost_message(f), HasSubstr("SIGABRT"));
  ASSERT_TRUE(lock.acquire(std::chrono::seconds(10)));
  lock.release();
}

TEST(PoolFaultTest, TimeLimitKillsTheTaskAndThePoolGoesOn) {
  SharedCell<std::atomic<int>> runs;
  Pool pool(1);
  Pool limited = pool.with(TaskOptions{"", 0, std::chrono::milliseconds(100), 3});
  Future<int> f =
      limited.apply_async(count_and_sleep, reinterpret_cast<std::uintptr_t>(runs.get()));
  auto start = Clock::now();
  try {
    f.get();
    FAIL() << "no exception";
  } catch (const TaskTimeLimitError& e) {
    EXPECT_THAT(e.what(), HasSubstr("time limit of 100 ms"));
    EXPECT_THAT(e.what(), HasSubstr("SIGKILL"));
  }
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(100));
  EXPECT_EQ(runs->load(), 1);  // not retried despite max_retries
  // The pool goes on, and a task within its limit is unaffected.
  Pool roomy = pool.with(TaskOptions{"", 0, std::chrono::seconds(30), 0});
  EXPECT_EQ(roomy.apply(square, 5), 25);
  EXPECT_EQ(pool.apply(square, 6), 36);
}

int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

// Keeps a CPU busy for `ms` milliseconds.
int spin_ms(int ms) {
  const auto end = Clock::now() + std::chrono::milliseconds(ms);
  while (Clock::now() < end) {
  }
  return ms;
}

TEST(PoolFaultTest, TheTimeLimitAppliesToEachItemOfAMap) {
  Pool pool(1);
  Pool limited = pool.with(TaskOptions{"", 0, std::chrono::milliseconds(1000), 0});
  // One chunk of 5 items of 300 ms: 1.5 s in all, over the limit, each well within it.
  EXPECT_EQ(limited.map(sleep_ms, std::vector<int>(5, 300), 5), std::vector<int>(5, 300));
  // One item over the limit in a chunk fails it, however short the others.
  try {
    limited.map(sleep_ms, std::vector<int>{10, 10, 60'000}, 3);
    FAIL() << "no exception";
  } catch (const TaskTimeLimitError& e) {
    EXPECT_THAT(e.what(), HasSubstr("time limit of 1000 ms"));
  }
}

int parent_pid(int) { return static_cast<int>(getppid()); }

// Tells the test (through the pipe `fd`) its pid, then sleeps `ms` milliseconds.
int report_and_sleep(int fd, int ms) {
  const int pid = static_cast<int>(getpid());
  if (write(fd, &pid, sizeof(pid)) != sizeof(pid)) return -1;
  return sleep_ms(ms);
}

// Waits (up to 30 s) until `condition()` holds; false if it never did.
template <class F>
bool eventually(F condition) {
  const auto give_up = Clock::now() + std::chrono::seconds(30);
  while (!condition()) {
    if (Clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

// Whether something waits to be read on `fd`.
bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

// Whether process `pid` sleeps in pause() (as a worker waiting for its kill does).
bool sleeps_in_pause(pid_t pid) {
#ifdef SYS_pause
  const long pause_call = SYS_pause;
#else
  const long pause_call = SYS_ppoll;  // glibc's pause() where there is no pause call
#endif
  std::ifstream in("/proc/" + std::to_string(pid) + "/syscall");
  long call = -1;
  in >> call;
  return call == pause_call && testing::process_state(pid) == 'S';
}

// A task that ends after the pool decided to kill it for its limit, but before the kill
// landed, must not take the next task down with it: the kill hit task B, run by the same
// process meanwhile (WorkerLostError for a task with no limit; seen about one round in
// 60 with a task ending just at its limit). Stopping the zygote, which carries out kills,
// holds that window open.
TEST(PoolFaultTest, ATimeLimitKillNeverHitsTheNextTask) {
  TestPipe a_started, b_started;
  Pool pool(1);
  const pid_t zygote = pool.apply(parent_pid, 0);
  ASSERT_GT(zygote, 1);
  Pool limited = pool.with(TaskOptions{"", 0, std::chrono::milliseconds(50), 0});
  ASSERT_EQ(kill(zygote, SIGSTOP), 0);
  // Over its limit, ends unkilled.
  Future<int> a = limited.apply_async(report_and_sleep, a_started.write_fd(), 150);
  // No limit: must succeed. Long enough to be running still when the kill lands.
  Future<int> b = pool.apply_async(report_and_sleep, b_started.write_fd(), 2000);
  // A has ended (its result is in), and its process then either waits for the kill (the
  // fix), or runs B. Waited for up to 30 s each.
  bool a_ended = false;
  try {
    const pid_t worker = a_started.read_int(std::chrono::seconds(30));
    a_ended = a.wait_for(std::chrono::seconds(30)) && eventually([&] {
                return readable(b_started.read_fd()) || sleeps_in_pause(worker);
              });
  } catch (const std::exception&) {
  }
  ASSERT_EQ(kill(zygote, SIGCONT), 0);
  ASSERT_TRUE(a_ended) << "task A did not end, or its process neither ran B nor paused";
  try {
    EXPECT_EQ(a.get(), 150);  // its result was sent before the kill: it counts
  } catch (const TaskTimeLimitError&) {
    // or the kill came first
  }
  EXPECT_EQ(b.get(), 2000);
  EXPECT_EQ(pool.apply(square, 7), 49);
}

// A worker freshly forked to replace a killed one may take a task before the zygote has
// stored its pid in the slot: a time-limit kill then named pid 0, the zygote ignored it,
// the task ended as a success and its worker paused for ever waiting for the kill (and
// join() with it). A queue never empty makes each replacement take a task at once, and
// busy tasks keep the zygote waiting for a CPU after its fork. The race is timing-dependent:
// this test failed before the fix in some runs only (2 in 6: a task over its limit
// succeeded). Each task is killed ~1 ms in, so its length costs nothing unless a kill is
// lost; it is long so that a supervisor starved of CPU on a loaded machine still kills it
// in time (with 20 ms tasks, 1 run in 8 failed so under a load of 4-7 on 2 cores).
TEST(PoolFaultTest, AReplacementWorkerIsKilledForItsFirstTasksLimit) {
  Pool pool(2);
  Pool limited = pool.with(TaskOptions{"", 0, std::chrono::milliseconds(1), 0});
  std::vector<Future<int>> futures;
  for (int i = 0; i < 300; ++i) futures.push_back(limited.apply_async(spin_ms, 500));
  int succeeded = 0;
  int hung = 0;
  for (Future<int>& f : futures) {
    try {
      f.get(std::chrono::seconds(60));
      ++succeeded;
    } catch (const TaskTimeLimitError&) {
    } catch (const TimeoutError&) {
      ++hung;
      break;
    }
  }
  EXPECT_EQ(succeeded, 0) << "tasks over their limit were not killed";
  EXPECT_EQ(hung, 0) << "the workers wait for kills that never come";
  pool.terminate();  // a paused worker would never let join() return
}

// The limit is watched from the task's start: a pool idle for a while (its supervisor
// asleep for its 200 ms tick) let a 10 ms limit on a 150 ms task pass unnoticed.
TEST(PoolFaultTest, AShortTimeLimitIsEnforcedOnAnIdlePool) {
  Pool pool(1);
  Pool limited = pool.with(TaskOptions{"", 0, std::chrono::milliseconds(10), 0});
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));  // idle: supervisor asleep
    EXPECT_THROW(limited.apply(sleep_ms, 150), TaskTimeLimitError) << "try " << i;
  }
}

// ...and on a busy one: a limited task placed while the supervisor still spun after its
// last collection went unwatched for its idle tick (200 ms), so a 120 ms task ran past
// its 30 ms limit to the end (most rounds). The task stays shorter than that tick (so
// the bug lets it end), its limit as short as can be: 155 ms for the kill to land.
TEST(PoolFaultTest, ATimeLimitIsEnforcedRightAfterOtherWork) {
  Pool pool(1);
  Pool limited = pool.with(TaskOptions{"", 0, std::chrono::milliseconds(5), 0});
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(pool.apply(square, i), i * i);  // the supervisor collects, then spins
    EXPECT_THROW(limited.apply(sleep_ms, 160), TaskTimeLimitError) << "try " << i;
  }
}

// A limit too long to matter is no limit: milliseconds::max() (or anything past about
// 292 years in ns) overflowed and killed the task at once.
TEST(PoolFaultTest, AnEnormousTimeLimitIsNoLimit) {
  Pool pool(1);
  for (auto limit :
       {std::chrono::milliseconds::max(), std::chrono::milliseconds(9'300'000'000'000)}) {
    Pool limited = pool.with(TaskOptions{"", 0, limit, 0});
    EXPECT_EQ(limited.apply(sleep_ms, 200), 200) << limit.count();
  }
}

TEST(PoolFaultTest, TerminateStopsInfiniteLoopsAndLeavesNoProcess) {
  TestPipe pids;
  Pool pool(2);
  Future<int> a = pool.apply_async(report_and_spin, pids.write_fd());
  Future<int> b = pool.apply_async(report_and_spin, pids.write_fd());
  Future<int> queued = pool.apply_async(square, 3);
  std::vector<int> workers;
  int zygote = 0;
  for (int i = 0; i < 2; ++i) {
    workers.push_back(pids.read_int());
    zygote = pids.read_int();
  }
  auto start = Clock::now();
  pool.terminate();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(30));  // a hang guard
  EXPECT_THROW(a.get(), CancelledError);
  EXPECT_THROW(b.get(), CancelledError);
  EXPECT_THROW(queued.get(), CancelledError);
  pool.join();
  for (int pid : workers) EXPECT_FALSE(testing::process_exists(pid)) << pid;
  EXPECT_FALSE(testing::process_exists(zygote)) << zygote;
  EXPECT_THROW(pool.apply_async(square, 1), PoolClosedError);
}

TEST(PoolFaultTest, TerminatedPoolFutureOutlivesThePool) {
  TestPipe pids;
  Future<int> f = [&] {
    Pool pool(1);
    Future<int> hung = pool.apply_async(report_and_hang, pids.write_fd());
    pids.read_int();
    pids.read_int();
    pool.terminate();
    return hung;
  }();
  EXPECT_THROW(f.get(), CancelledError);
}

TEST(PoolFaultTest, JoinLeavesNoProcess) {
  TestPipe pids;
  std::vector<int> processes;
  {
    Pool pool(2);
    Future<int> a = pool.apply_async(report_and_hang, pids.write_fd());
    processes.push_back(pids.read_int());
    processes.push_back(pids.read_int());  // the zygote
    kill(processes[0], SIGKILL);
    EXPECT_THROW(a.get(), WorkerLostError);
    processes.push_back(pool.apply([] { return static_cast<int>(getpid()); }));
    pool.close();
    pool.join();
    for (int pid : processes) EXPECT_FALSE(testing::process_exists(pid)) << pid;
  }
}

// The pids of process `pid`'s children (those its main thread forked).
std::vector<pid_t> children_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) +
                   "/children");
  std::vector<pid_t> out;
  for (pid_t child; in >> child;) out.push_back(child);
  return out;
}

// Waits (up to 30 s) until the `n` workers of the pool whose zygote is `zygote` (its
// children) all sleep in a futex wait; false if they never did.
bool wait_workers_asleep(pid_t zygote, std::size_t n) {
  const auto give_up = Clock::now() + std::chrono::seconds(30);
  std::vector<pid_t> workers;
  while ((workers = children_of(zygote)).size() < n) {
    if (Clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (pid_t worker : workers) {
    if (!testing::wait_for_futex_sleep(worker)) return false;
  }
  return true;
}

// Two tasks submitted back to back to a pool whose two workers sleep: each goes to its
// own worker. (A worker woken but not yet running used to count as asleep, so the
// second wake-up went to it again and the quick task waited behind the hung one.)
TEST(PoolFaultTest, AQueuedTaskNeverWaitsForABusyWorkerWhileAnotherSleeps) {
  TestPipe pids;
  for (int i = 0; i < 40; ++i) {
    Pool pool(2);
    const pid_t zygote = pool.apply(parent_pid, 0);
    ASSERT_GT(zygote, 1);
    ASSERT_TRUE(wait_workers_asleep(zygote, 2)) << "round " << i;
    Future<int> hung = pool.apply_async(report_and_hang, pids.write_fd());
    Future<int> quick = pool.apply_async(square, 3);
    EXPECT_EQ(quick.get(std::chrono::seconds(30)), 9) << "round " << i;
    pids.read_int();
    pids.read_int();
    pool.terminate();
    EXPECT_THROW(hung.get(), CancelledError);
  }
}

// The zygote is killed: the pool stops, its outstanding futures fail with
// WorkerLostError and new submissions are refused; also where the pool's process ignores
// SIGCHLD, so that nobody can reap the zygote (its futures waited for ever).
TEST(PoolFaultTest, ADeadZygoteFailsWhatIsOutstanding) {
  for (bool ignore_sigchld : {false, true}) {
    SCOPED_TRACE(ignore_sigchld ? "SIGCHLD ignored" : "SIGCHLD default");
    struct sigaction old_action {};
    if (ignore_sigchld) {
      struct sigaction ignore {};
      ignore.sa_handler = SIG_IGN;
      ASSERT_EQ(sigaction(SIGCHLD, &ignore, &old_action), 0);
    }
    {
      Pool pool(1);
      const pid_t zygote = pool.apply(parent_pid, 0);
      ASSERT_GT(zygote, 1);
      Future<int> running = pool.apply_async(sleep_ms, 60'000);
      Future<int> queued = pool.apply_async(square, 3);
      ASSERT_EQ(kill(zygote, SIGKILL), 0);
      for (Future<int>* f : {&running, &queued}) {
        try {
          f->get(std::chrono::seconds(20));
          ADD_FAILURE() << "no exception";
        } catch (const WorkerLostError& e) {
          EXPECT_THAT(e.what(), HasSubstr("zygote"));
        }
      }
      EXPECT_THROW(pool.apply_async(square, 4), PoolClosedError);
    }
    if (ignore_sigchld) sigaction(SIGCHLD, &old_action, nullptr);
  }
}

// The pool's owner is SIGKILLed: its zygote and workers must exit by themselves.
TEST(PoolFaultTest, ChildrenExitWhenTheOwnerIsKilled) {
  TestPipe pids;
  pid_t owner = fork();
  ASSERT_GE(owner, 0);
  if (owner == 0) {
    try {
      Pool pool(2);
      pool.apply_async(report_and_hang, pids.write_fd());
      pool.apply_async(report_and_hang, pids.write_fd());
      for (;;) pause();
    } catch (...) {
      _exit(1);  // the test then fails on its handshake timeout
    }
  }
  std::vector<int> children;
  // Whatever happens below, leave no process behind.
  struct Cleanup {
    pid_t owner;
    std::vector<int>* children;
    ~Cleanup() {
      if (owner > 0) {
        kill(owner, SIGKILL);
        waitpid(owner, nullptr, 0);
      }
      for (int pid : *children) kill(pid, SIGKILL);
    }
  } cleanup{owner, &children};
  for (int i = 0; i < 2; ++i) {
    children.push_back(pids.read_int());
    children.push_back(pids.read_int());
  }
  ASSERT_EQ(kill(owner, SIGKILL), 0);
  ASSERT_EQ(waitpid(owner, nullptr, 0), owner);
  cleanup.owner = 0;
  std::vector<int> survivors;
  for (int pid : children) {
    if (!wait_for_exit(pid, std::chrono::seconds(10))) survivors.push_back(pid);
  }
  EXPECT_TRUE(survivors.empty()) << survivors.size() << " processes survived their owner";
  children = survivors;  // only those are killed on the way out (pids of exited ones may be reused)
}

// A program-wide pool, destroyed by exit() (in a forked child too).
std::optional<Pool>& static_pool() {
  static std::optional<Pool> pool;
  return pool;
}

// Forks a child that runs `body` and leaves with _exit(its result); its exit code.
template <class Body>
int exit_code_of_child(Body body) {
  pid_t child = fork();
  if (child < 0) return -1;
  if (child == 0) {
    int code = 99;
    try {
      code = body();
    } catch (...) {
    }
    _exit(code);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A pool belongs to the process that made it (as Python's Finalize): a forked child's copy
// is not the child's to end. A child that destroyed its copy (by exit(), a return from main,
// or as here) told the parent's zygote to quit and set the shared shutdown flag, and the
// parent's pool stopped ("the pool stopped: its zygote process ... exited with code 0").
TEST(PoolFaultTest, AForkedChildThatDestroysItsCopyLeavesThePoolWorking) {
  std::optional<Pool>& pool = static_pool();
  pool.emplace(2);
  ASSERT_EQ(pool->apply(square, 3), 9);

  EXPECT_EQ(exit_code_of_child([&] {
              pool.reset();  // ~Pool, as leaving main or exit() runs it
              return 0;
            }),
            0);
  EXPECT_EQ(pool->apply_async(square, 4).get(std::chrono::seconds(30)), 16);

  // exit() in a shoal::Process runs the static destructors, this pool's among them.
  Process exiting([] { std::exit(0); });
  exiting.start();
  exiting.join();
  EXPECT_EQ(exiting.exitcode().value_or(-1), 0);
  EXPECT_EQ(pool->apply_async(square, 5).get(std::chrono::seconds(30)), 25);

  // Nothing the child does with its copy reaches the parent's pool: a submission would
  // take the parent's shared records.
  EXPECT_EQ(exit_code_of_child([&] {
              try {
                pool->apply_async(square, 2);
                return 1;
              } catch (const PoolClosedError&) {
              }
              pool->close();
              pool->terminate();
              pool->join();
              pool.reset();
              return 0;
            }),
            0);
  EXPECT_EQ(pool->map(square, std::vector<int>{1, 2, 3}), (std::vector<int>{1, 4, 9}));
  pool->close();
  pool->join();
  pool.reset();
}

// Tells the test its parent (the zygote) through `report_fd`, then returns once a byte can
// be read from `go_fd`.
int report_zygote_then_wait(int report_fd, int go_fd) {
  const int zygote = static_cast<int>(getppid());
  if (write(report_fd, &zygote, sizeof(zygote)) != sizeof(zygote)) return -1;
  char c;
  while (read(go_fd, &c, 1) < 0 && errno == EINTR) {
  }
  return 0;
}

// The zygote cannot fork a worker any more (RLIMIT_NPROC of 0, which binds users other
// than root) and none is left: the pool stops after a while, failing what waits with
// WorkerLostError naming fork's error, and refuses new work. The zygote retried every 50 ms
// for ever and the futures waited silently.
TEST(PoolFaultTest, WorkersThatCannotBeForkedFailThePool) {
  TestPipe report;
  TestPipe go;
  ::testing::internal::CaptureStdout();
  const int code = exit_code_of_child([&] {
    if (geteuid() == 0 &&
        (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0)) {
      return 10;
    }
    PoolOptions options;
    options.processes = 1;
    options.max_tasks_per_child = 1;  // the worker exits after its task: a fork must replace it
    Pool pool(options);
    Future<int> first = pool.apply_async(report_zygote_then_wait, report.write_fd(), go.read_fd());
    const pid_t zygote = report.read_int();
    const rlimit none{0, 0};
    if (prlimit(zygote, RLIMIT_NPROC, &none, nullptr) != 0) return 11;
    go.write_int(1);
    if (first.get(std::chrono::seconds(30)) != 0) return 12;
    Future<int> waiting = pool.apply_async(square, 3);
    try {
      waiting.get(std::chrono::seconds(40));
      return 13;
    } catch (const TimeoutError&) {
      std::printf("still waiting after 40 s\n");
      std::fflush(stdout);
      pool.terminate();  // ~Pool would wait for it
      return 14;
    } catch (const WorkerLostError& e) {
      std::printf("%s\n", e.what());
      std::fflush(stdout);
      if (!std::strstr(e.what(), "fork") || !std::strstr(e.what(), std::strerror(EAGAIN))) {
        return 15;
      }
    }
    try {
      pool.apply_async(square, 4);
      return 16;
    } catch (const PoolClosedError&) {
    }
    return 0;
  });
  const std::string printed = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(code, 0) << printed;
}

// A string of `mib` MiB.
std::string big_reply(int mib) { return std::string(static_cast<std::size_t>(mib) << 20, 'r'); }

// This process's address space in bytes (VmSize), or 0 if unknown.
std::size_t vm_size() {
  std::FILE* status = std::fopen("/proc/self/status", "r");
  if (!status) return 0;
  char line[256];
  std::size_t kib = 0;
  while (std::fgets(line, sizeof(line), status)) {
    if (std::sscanf(line, "VmSize: %zu kB", &kib) == 1) break;
  }
  std::fclose(status);
  return kib << 10;
}

// A reply too big for the pool's process to hold fails its task, and only it: its other
// fragments are skipped and the pool goes on. (The std::bad_alloc escaped the supervisor
// thread: std::terminate, SIGABRT.) The pool's address space is limited in a child once
// the pool's processes exist, so the worker still makes the reply.
TEST(PoolFaultTest, AReplyTooBigForThePoolsMemoryFailsItsTaskOnly) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Their allocators abort on an allocation that fails (allocator_may_return_null=0)
  // instead of throwing std::bad_alloc, which is what this test is about.
  GTEST_SKIP() << "a sanitizer's allocator aborts where glibc's throws std::bad_alloc";
#endif
  const int code = exit_code_of_child([] {
    Pool pool(1);
    if (pool.apply(square, 2) != 4) return 1;
    const std::size_t vm = vm_size();
    if (vm == 0) return 2;
    const rlimit limit{vm + (std::size_t{128} << 20), vm + (std::size_t{128} << 20)};
    if (setrlimit(RLIMIT_AS, &limit) != 0) return 3;
    try {
      pool.apply(big_reply, 320);  // more than the headroom, and than recycled buffers
      return 4;
    } catch (const Error& e) {
      if (std::string(e.what()).find("could not be allocated") == std::string::npos) return 5;
    }
    if (pool.apply(big_reply, 1).size() != std::size_t{1} << 20) return 6;
    if (pool.apply(square, 3) != 9) return 7;
    pool.close();
    pool.join();
    return 0;
  });
  EXPECT_EQ(code, 0) << "128 + n: the child died of signal n";
}

TEST(PoolFaultTest, PoolMadeWhileOtherThreadsRun) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (int t = 0; t < 3; ++t) {
    busy.emplace_back([&] {
      // Allocation and stdio from other threads while the pool forks.
      while (!stop.load()) {
        std::vector<std::string> v(64, std::string(100, 'x'));
        std::string s = std::to_string(v.size());
      }
    });
  }
  for (int round = 0; round < 5; ++round) {
    Pool pool(2);
    EXPECT_EQ(pool.map(square, std::vector<int>{1, 2, 3, 4}, 1), (std::vector<int>{1, 4, 9, 16}));
  }
  stop = true;
  for (auto& t : busy) t.join();
}

}  // namespace
}  // namespace shoal
