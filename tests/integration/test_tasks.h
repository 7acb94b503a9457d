#pragma once
// Tasks of the integration tests, registered (test_tasks.cc) in both the test worker
// binary and the client test binary, as a user's shared task library would be.

#include <string>

namespace shoal::itest {

long long square(long long x);
int slow_square(int x);                              // 5 ms, then x * x
std::string echo(std::string s);
std::string whoami(int);                             // $SHOAL_TEST_WORKER_NAME
int crash(int);                                      // SIGKILLs its own process
int nap(int ms);                                     // sleeps ms, returns ms
int started_nap(std::string path, int ms);           // creates path, sleeps ms, returns ms
int record(std::string path, std::string tag);       // appends "tag\n" to path
int gate(std::string path);                          // waits until path exists
int logged_gate(std::string log, std::string gate);  // appends whoami() to log, then gate()
int fail(int);                                       // throws std::invalid_argument
std::string blob(int n);                             // n bytes of 'x'
int throw_message(std::string message);              // throws std::runtime_error(message)
std::string byte(int b);                             // the byte b (from 128: not UTF-8)

}  // namespace shoal::itest
