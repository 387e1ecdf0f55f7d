// SPDX-License-Identifier: Apache-2.0
// The commit coordinator's histograms (batch sizes, write latencies) and
// queue length, read by the node's status and metrics.
#include "internal/commit_coordinator.hpp"

namespace cairn::internal {

commit_coordinator::buckets::buckets(std::vector<double> b)
  : bounds(std::move(b)), counts(new std::atomic<uint64_t>[bounds.size()]) {
  for (size_t i = 0; i < bounds.size(); ++i)
    counts[i].store(0);
}

void commit_coordinator::buckets::observe(double v) {
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (v <= bounds[i]) {
      counts[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  count.fetch_add(1, std::memory_order_relaxed);
  sum.store(sum.load(std::memory_order_relaxed) + v, std::memory_order_relaxed); // one writer
}

histogram commit_coordinator::buckets::snapshot() const {
  histogram h;
  h.bounds = bounds;
  uint64_t running = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    running += counts[i].load(std::memory_order_relaxed);
    h.counts.push_back(running);
  }
  h.count = count.load(std::memory_order_relaxed);
  h.sum = sum.load(std::memory_order_relaxed);
  return h;
}

commit_histograms commit_coordinator::histograms() const {
  return commit_histograms{batch_sizes_.snapshot(), latencies_.snapshot()};
}

size_t commit_coordinator::queued() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return queue_.size();
}

} // namespace cairn::internal
