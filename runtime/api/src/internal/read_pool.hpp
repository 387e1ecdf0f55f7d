// SPDX-License-Identifier: Apache-2.0
// The node API's pool for reads that may take long. Not a public header.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cairn::api {

/// A small bounded pool that runs the node API's heavy reads: actor lists
/// and summaries (each rebuilds an actor's state from its snapshot and
/// journal) and dead-letter pages (a scan). The HTTP I/O threads hand such a
/// request over and return at once, so a slow read never holds one. Why not
/// the runtime's blocking pool: that one runs tool calls and deferred steps,
/// and an operator's reads must neither wait behind them nor crowd them out.
/// Bounded: `threads` workers, at most `max_queued` waiting besides the
/// running ones; `submit` refuses past that (the caller answers 503). Thread-safe: `submit` from
/// any thread; the destructor joins the workers and drops work not started.
class read_pool {
public:
  read_pool(size_t threads, size_t max_queued);
  ~read_pool();
  read_pool(const read_pool&) = delete;
  read_pool& operator=(const read_pool&) = delete;

  /// Queues `fn`; false if every worker is busy and `max_queued` wait already.
  bool submit(std::function<void()> fn);

private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  size_t max_pending_; ///< workers + max_queued
  size_t pending_ = 0; ///< queued or running
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

} // namespace cairn::api
