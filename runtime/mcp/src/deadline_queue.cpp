// SPDX-License-Identifier: Apache-2.0
// One thread for the MCP server's delayed work.
#include "internal/deadline_queue.hpp"

namespace cairn::mcp {

deadline_queue::deadline_queue(size_t max) : max_(max), thread_([this] { run(); }) {}

deadline_queue::~deadline_queue() {
  stop();
}

bool deadline_queue::schedule(clock::time_point when, std::function<void()> fn) {
  {
    std::lock_guard lock{mu_};
    if (stopping_ || queue_.size() >= max_)
      return false;
    queue_.emplace(when, std::move(fn));
  }
  cv_.notify_one();
  return true;
}

void deadline_queue::stop() {
  {
    std::lock_guard lock{mu_};
    if (stopping_)
      return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id())
    thread_.join();
  std::multimap<clock::time_point, std::function<void()>> dropped;
  {
    std::lock_guard lock{mu_};
    dropped.swap(queue_);
  }
  // Destroyed outside the lock: a function may own what schedules more.
}

size_t deadline_queue::size() const {
  std::lock_guard lock{mu_};
  return queue_.size();
}

void deadline_queue::run() {
  std::unique_lock lock{mu_};
  while (!stopping_) {
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto due = queue_.begin()->first;
    if (clock::now() < due) {
      cv_.wait_until(lock, due);
      continue;
    }
    auto fn = std::move(queue_.begin()->second);
    queue_.erase(queue_.begin());
    lock.unlock();
    fn();
    fn = nullptr; // release what it holds before waiting again
    lock.lock();
  }
}

} // namespace cairn::mcp
