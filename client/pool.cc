#include "shoal/pool.hpp"

#include <unistd.h>

#include <stdexcept>
#include <string>

#include "shoal/internal/name_limits.h"
#include "shoal/internal/utf8.h"

namespace shoal {

Pool::Pool() : Pool(PoolOptions{}) {}

Pool::Pool(int processes) : Pool(PoolOptions{processes, {}, 0}) {}

Pool::Pool(PoolOptions options)
    : Pool(internal::make_local_backend(options), TaskOptions{}, true) {}

Pool::Pool(std::shared_ptr<internal::Backend> backend, TaskOptions options, bool owner)
    : backend_(std::move(backend)),
      progress_(backend_->progress()),
      local_(backend_->local()),
      options_(std::move(options)),
      owner_(owner) {}

Pool Pool::connect(const std::string& address, ConnectOptions options) {
  return Pool(internal::make_remote_backend(address, options), TaskOptions{}, true);
}

Pool::Pool(Pool&& other) noexcept
    : backend_(std::move(other.backend_)),
      progress_(std::move(other.progress_)),
      local_(other.local_),
      options_(std::move(other.options_)),
      owner_(other.owner_) {
  other.owner_ = false;
}

Pool& Pool::operator=(Pool&& other) noexcept {
  if (this != &other) {
    Pool old(std::move(*this));  // closes and joins what this pool owned
    backend_ = std::move(other.backend_);
    progress_ = std::move(other.progress_);
    local_ = other.local_;
    options_ = std::move(other.options_);
    owner_ = other.owner_;
    other.owner_ = false;
  }
  return *this;
}

Pool::~Pool() {
  if (!owner_ || !backend_) return;
  try {
    backend_->close();
    backend_->join();
  } catch (...) {
    // A destructor must not throw; join after close cannot fail by misuse.
  }
}

Pool Pool::with(TaskOptions options) const {
  backend();  // a moved-from pool has no backend
  if (options.priority < 0 || options.priority > 9) {
    throw std::invalid_argument("shoal::TaskOptions: priority " +
                                std::to_string(options.priority) + " is outside 0..9");
  }
  if (options.time_limit.count() < 0) {
    throw std::invalid_argument("shoal::TaskOptions: time_limit is negative (0: no limit)");
  }
  if (options.queue.size() > internal::kMaxNameBytes) {
    throw std::invalid_argument("shoal::TaskOptions: a queue name has at most " +
                                std::to_string(internal::kMaxNameBytes) + " bytes");
  }
  if (!internal::is_utf8(options.queue)) {
    throw std::invalid_argument("shoal::TaskOptions: queue '" +
                                internal::utf8_or_escaped(options.queue) + "' is not UTF-8");
  }
  if (options.max_retries < -1) {
    throw std::invalid_argument("shoal::TaskOptions: max_retries " +
                                std::to_string(options.max_retries) +
                                " is below -1 (-1: the pool's default)");
  }
  return Pool(backend_, std::move(options), false);
}

internal::Backend& Pool::backend() const {
  if (!backend_) throw std::logic_error("shoal::Pool used after it was moved from");
  return *backend_;
}

void Pool::close() { backend().close(); }

void Pool::terminate() { backend().terminate(); }

void Pool::join() { backend().join(); }

int Pool::processes() const { return backend().processes(); }

std::size_t Pool::auto_chunksize(std::size_t n) const {
  // Python: divmod(len, 4 * processes), rounded up; processes of the queue it goes to.
  const int processes = backend().processes_hint(options_.queue);
  std::size_t parts = static_cast<std::size_t>(std::max(1, processes)) * 4;
  std::size_t size = std::max<std::size_t>(1, n / parts + (n % parts ? 1 : 0));
  // None serve the queue yet (a remote pool started before its workers): how many will
  // come is not known, so the chunks stay small enough for all of them to share the work.
  if (processes <= 0) size = std::min(size, internal::kChunkItemsWithoutWorkers);
  return size;
}

std::size_t internal::auto_chunk_bytes(const Backend& backend) {
  std::uint64_t limit = backend.max_task_bytes();
  if (limit == 0) return kAutoChunkBytes;
  return static_cast<std::size_t>(std::min<std::uint64_t>(kAutoChunkBytes, limit / 4));
}

}  // namespace shoal
