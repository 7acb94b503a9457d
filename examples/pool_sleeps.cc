// A Pool of 4 runs 5 tasks that sleep a random while and report when they started and
// ended: the fifth task can only start once one of the first four has ended.
#include <chrono>
#include <iostream>
#include <random>
#include <shoal/shoal.hpp>
#include <thread>
#include <tuple>
#include <vector>

// Microseconds on the system-wide monotonic clock, comparable across processes.
long long now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::tuple<int, long long, long long> nap(int task, int millis) {
  long long start = now_us();
  std::this_thread::sleep_for(std::chrono::milliseconds(millis));
  return {task, start, now_us()};
}

int main() {
  shoal::Pool pool(4);
  std::mt19937 rng(std::random_device{}());
  std::vector<shoal::Future<std::tuple<int, long long, long long>>> futures;
  for (int task = 0; task < 5; ++task)
    futures.push_back(pool.apply_async(nap, task, 50 + rng() % 200));
  for (auto& f : futures) {
    auto [task, start, end] = f.get();
    std::cout << "task " << task << " start " << start << " end " << end << std::endl;
  }
}
