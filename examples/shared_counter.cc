// Two processes add to one shared Value under its Lock: one adds 1 five times, the
// other 4 five times. Holding the lock for the whole loop keeps each process's
// additions together; the final value is 5*1 + 5*4 = 25.
#include <iostream>
#include <mutex>
#include <shoal/shoal.hpp>

int main() {
  shoal::Value<int> total(0);
  shoal::Array<int> log(10);  // what was added, in order
  shoal::Value<int> entries(0);

  auto add = [&](int amount) {
    std::lock_guard guard(total.get_lock());  // a process-shared lock
    for (int i = 0; i < 5; ++i) {
      total.value() += amount;
      log[static_cast<std::size_t>(entries.value()++)] = amount;
    }
  };
  shoal::Process one(add, 1);
  shoal::Process four(add, 4);
  one.start();
  four.start();
  one.join();
  four.join();

  std::cout << "additions:";
  for (int x : log.to_vector()) std::cout << " " << x;
  std::cout << "\nfinal " << total.load() << std::endl;
}
