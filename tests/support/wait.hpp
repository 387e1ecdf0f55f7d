// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace cairn::test {

/// Polls `cond` until it holds or `limit` passes; returns whether it held.
/// The limit is a liveness bound (a hung test fails instead of hanging), not
/// a timing assertion: it is set far above the expected time.
inline bool eventually(const std::function<bool()>& cond,
                       std::chrono::milliseconds limit = std::chrono::seconds{60}) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
  return true;
}

} // namespace cairn::test
