// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>

namespace cairn {

/// How a failing message is retried before it becomes a dead letter. Data,
/// not code: one policy per actor kind, overridable in configuration.
struct retry_policy {
  uint32_t max_attempts = 5;                      ///< total attempts, the first included
  std::chrono::milliseconds initial_backoff{100}; ///< backoff cap after the first failure
  double multiplier = 2.0;                        ///< growth of the backoff cap per failure
  std::chrono::milliseconds max_backoff{30'000};  ///< upper bound of the backoff cap
  bool full_jitter = true;                        ///< draw the delay uniformly in [0, cap]

  /// The backoff cap after `failures` failed attempts (>= 1):
  /// `min(max_backoff, initial_backoff * multiplier^(failures-1))`.
  std::chrono::milliseconds cap(uint32_t failures) const;

  /// The delay before the next attempt. With full jitter, `unit` in [0, 1)
  /// picks the point in [0, cap]; without, the delay is the cap itself.
  std::chrono::milliseconds delay(uint32_t failures, double unit) const;
};

} // namespace cairn
