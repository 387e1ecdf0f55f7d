// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cairn::internal {

/// A bounded pool of threads for work that waits: tool handlers, child
/// processes, network calls, questions to a client. CAF scheduler threads
/// never run such work (they must never block); an actor hands it here and
/// hears back by message.
///
/// Why not `spawn<detached>` per call: a detached actor is an OS thread per
/// call with no bound; this pool caps both threads and queued jobs, so a
/// flood of slow calls pushes back (`submit` returns false) instead of
/// growing without limit.
///
/// Thread contract: `submit` may be called from any thread; `stop` from one
/// thread, once, after which `submit` refuses everything. Jobs must watch
/// their own cancellation flag: `stop` waits for running jobs to return and
/// drops queued ones (each dropped job's `on_drop` runs instead).
class blocking_pool {
public:
  struct job {
    std::function<void()> run;
    std::function<void()> on_drop; ///< runs instead of `run` if the pool stops first
  };

  blocking_pool(size_t threads, size_t max_queued, std::string name);
  ~blocking_pool();
  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;

  /// Queues `j`; false (and `j` untouched) when the queue is full or the
  /// pool has stopped.
  bool submit(job& j);

  /// Refuses new jobs, drops queued ones, waits for running ones. Idempotent.
  void stop();

  size_t threads() const noexcept { return threads_.size(); }
  size_t running() const;
  size_t queued() const;

private:
  void loop();

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<job> queue_;
  std::vector<std::thread> threads_;
  size_t max_queued_;
  size_t running_ = 0;
  bool stopped_ = false;
  std::string name_;
};

} // namespace cairn::internal
