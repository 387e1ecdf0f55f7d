// SPDX-License-Identifier: Apache-2.0
// One thread for the MCP server's delayed work.
#include "internal/deadline_queue.hpp"

namespace cairn::mcp {

deadline_queue::deadline_queue(size_t max) : max_(max), thread_([this] { run(); }) {}

deadline_queue::~deadline_queue() {
  stop();
}

deadline_queue::ticket deadline_queue::schedule(clock::time_point when, std::function<void()> fn) {
  ticket t = 0;
  bool earliest = false;
  {
    std::lock_guard lock{mu_};
    if (stopping_ || queue_.size() >= max_)
      return 0;
    t = next_++;
    auto it = queue_.emplace(when, std::make_pair(t, std::move(fn)));
    by_ticket_[t] = it;
    earliest = it == queue_.begin();
  }
  // The thread waits for the earliest deadline: only a new earliest one
  // changes when it must wake (every MCP call schedules its timeout, later
  // than those before it: no wake per call).
  if (earliest)
    cv_.notify_one();
  return t;
}

bool deadline_queue::cancel(ticket t) {
  std::function<void()> dropped;
  std::lock_guard lock{mu_};
  auto it = by_ticket_.find(t);
  if (it == by_ticket_.end())
    return false;
  dropped = std::move(it->second->second.second);
  queue_.erase(it->second);
  by_ticket_.erase(it);
  // `dropped` dies after the lock is released (declared before it): a
  // function may own what schedules more.
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
  entries dropped;
  {
    std::lock_guard lock{mu_};
    dropped.swap(queue_);
    by_ticket_.clear();
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
    auto fn = std::move(queue_.begin()->second.second);
    by_ticket_.erase(queue_.begin()->second.first);
    queue_.erase(queue_.begin());
    lock.unlock();
    fn();
    fn = nullptr; // release what it holds before waiting again
    lock.lock();
  }
}

} // namespace cairn::mcp
