// SPDX-License-Identifier: Apache-2.0
#include "cairn/retry_policy.hpp"

#include <algorithm>
#include <cmath>

namespace cairn {

std::chrono::milliseconds retry_policy::cap(uint32_t failures) const {
  double ms = static_cast<double>(initial_backoff.count())
              * std::pow(multiplier, failures > 0 ? failures - 1 : 0);
  ms = std::min(ms, static_cast<double>(max_backoff.count()));
  return std::chrono::milliseconds{static_cast<int64_t>(ms)};
}

std::chrono::milliseconds retry_policy::delay(uint32_t failures, double unit) const {
  auto c = cap(failures);
  if (!full_jitter)
    return c;
  return std::chrono::milliseconds{static_cast<int64_t>(static_cast<double>(c.count()) * unit)};
}

} // namespace cairn
