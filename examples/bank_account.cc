// A deposit process and a withdraw process share one account balance under a lock.
// Each reports its own total; the final balance is start + deposits - withdrawals.
#include <iostream>
#include <mutex>
#include <random>
#include <shoal/shoal.hpp>

int main() {
  const long start = 1000;
  shoal::Value<long> balance(start);

  auto deposit = [&] {
    std::mt19937 rng(1);
    long sum = 0;
    for (int i = 0; i < 100; ++i) {
      long amount = rng() % 50 + 1;
      std::lock_guard guard(balance.get_lock());  // read-modify-write under the lock
      balance.value() += amount;
      sum += amount;
    }
    std::cout << "deposited " << sum << std::endl;
  };
  auto withdraw = [&] {
    std::mt19937 rng(2);
    long sum = 0;
    for (int i = 0; i < 100; ++i) {
      long amount = rng() % 30 + 1;
      std::lock_guard guard(balance.get_lock());
      balance.value() -= amount;
      sum += amount;
    }
    std::cout << "withdrew " << sum << std::endl;
  };

  shoal::Process d(deposit);
  shoal::Process w(withdraw);
  d.start();
  w.start();
  d.join();
  w.join();
  std::cout << "start " << start << "\nfinal " << balance.load() << std::endl;
}
