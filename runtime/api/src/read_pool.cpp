// SPDX-License-Identifier: Apache-2.0
// The node API's bounded pool for heavy reads.
#include "internal/read_pool.hpp"

#include <algorithm>

namespace cairn::api {

read_pool::read_pool(size_t threads, size_t max_queued)
  : max_pending_(std::max<size_t>(1, threads) + max_queued) {
  for (size_t i = 0; i < std::max<size_t>(1, threads); ++i)
    threads_.emplace_back([this] { run(); });
}

read_pool::~read_pool() {
  {
    std::lock_guard lock{mu_};
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    t.join();
}

bool read_pool::submit(std::function<void()> fn) {
  {
    std::lock_guard lock{mu_};
    if (stopping_ || pending_ >= max_pending_)
      return false;
    ++pending_;
    queue_.push_back(std::move(fn));
  }
  cv_.notify_one();
  return true;
}

void read_pool::run() {
  std::unique_lock lock{mu_};
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_)
      return;
    auto fn = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    fn();
    fn = nullptr; // release what it holds before waiting again
    lock.lock();
    --pending_;
  }
}

} // namespace cairn::api
