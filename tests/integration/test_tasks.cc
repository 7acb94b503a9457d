#include "tests/integration/test_tasks.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "shoal/task.hpp"

namespace shoal::itest {

long long square(long long x) { return x * x; }

int slow_square(int x) {
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return x * x;
}

std::string echo(std::string s) { return s; }

std::string whoami(int) {
  const char* name = std::getenv("SHOAL_TEST_WORKER_NAME");
  return name ? name : "";
}

int crash(int) {
  raise(SIGKILL);
  return 0;
}

int nap(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

int started_nap(std::string path, int ms) {
  std::ofstream(path) << "started\n";  // the test learns that the task really runs
  return nap(ms);
}

int record(std::string path, std::string tag) {
  std::ofstream(path, std::ios::app) << tag << "\n";
  return 0;
}

int gate(std::string path) {
  // The test opens the gate by creating the file; a task has no better signal.
  while (access(path.c_str(), F_OK) != 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return 1;
}

int logged_gate(std::string log, std::string gate_path) {
  std::ofstream(log, std::ios::app) << whoami(0) << "\n";  // each run, and where
  return gate(std::move(gate_path));
}

int fail(int) { throw std::invalid_argument("bad input"); }

std::string blob(int n) { return std::string(static_cast<std::size_t>(n), 'x'); }

int throw_message(std::string message) { throw std::runtime_error(message); }

std::string byte(int b) { return std::string(1, static_cast<char>(b)); }

}  // namespace shoal::itest

SHOAL_TASK_AS(shoal::itest::square, "test.square");
SHOAL_TASK_AS(shoal::itest::slow_square, "test.slow_square");
SHOAL_TASK_AS(shoal::itest::echo, "test.echo");
SHOAL_TASK_AS(shoal::itest::whoami, "test.whoami");
SHOAL_TASK_AS(shoal::itest::crash, "test.crash");
SHOAL_TASK_AS(shoal::itest::nap, "test.nap");
SHOAL_TASK_AS(shoal::itest::started_nap, "test.started_nap");
SHOAL_TASK_AS(shoal::itest::record, "test.record");
SHOAL_TASK_AS(shoal::itest::gate, "test.gate");
SHOAL_TASK_AS(shoal::itest::logged_gate, "test.logged_gate");
SHOAL_TASK_AS(shoal::itest::fail, "test.fail");
SHOAL_TASK_AS(shoal::itest::blob, "test.blob");
SHOAL_TASK_AS(shoal::itest::throw_message, "test.throw_message");
SHOAL_TASK_AS(shoal::itest::byte, "test.byte");
