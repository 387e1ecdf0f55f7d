// SPDX-License-Identifier: Apache-2.0
#include "internal/blocking_pool.hpp"

#include <pthread.h>

namespace cairn::internal {

blocking_pool::blocking_pool(size_t threads, size_t max_queued, std::string name)
  : max_queued_(max_queued), name_(std::move(name)) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i)
    threads_.emplace_back([this] { loop(); });
}

blocking_pool::~blocking_pool() {
  stop();
}

bool blocking_pool::submit(job& j) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopped_ || queue_.size() >= max_queued_)
      return false;
    queue_.push_back(std::move(j));
  }
  cv_.notify_one();
  return true;
}

void blocking_pool::stop() {
  std::deque<job> dropped;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopped_ && threads_.empty())
      return;
    stopped_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  for (auto& j : dropped)
    if (j.on_drop)
      j.on_drop();
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
  threads_.clear();
}

size_t blocking_pool::running() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return running_;
}

size_t blocking_pool::queued() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return queue_.size();
}

void blocking_pool::loop() {
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  std::unique_lock<std::mutex> lock{mtx_};
  for (;;) {
    cv_.wait(lock, [this] { return stopped_ || !queue_.empty(); });
    if (queue_.empty())
      return; // stopped
    auto j = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    j.run();
    j = job{}; // release captures outside the lock
    lock.lock();
    --running_;
  }
}

} // namespace cairn::internal
