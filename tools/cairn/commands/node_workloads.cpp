// SPDX-License-Identifier: Apache-2.0
// The built-in workloads of `cairn node`: the crash test's chains and the
// delivery demo's order producer.
#include <algorithm>
#include <chrono>
#include <thread>

#include "cairn/actors/chain.hpp"
#include "cairn/actors/delivery.hpp"
#include "cairn/runtime.hpp"
#include "commands/node_run.hpp"

namespace cairn::cli {

std::string start_chain_workload(runtime& rt, const node_settings& ns) {
  for (uint32_t c = 0; c < ns.chains; ++c) {
    auto r = actors::start_chain(rt, c, ns.messages / ns.chains, 64);
    if (!r)
      return "cannot start chain " + std::to_string(c) + ": " + render(r.error());
  }
  return {};
}

demo_producer::demo_producer(runtime& rt, double rate) {
  thread_ = std::thread{[this, &rt, rate] {
    auto interval = std::chrono::duration<double>(1.0 / std::max(1.0, rate));
    auto next = std::chrono::steady_clock::now();
    // Continue numbering after the orders of earlier runs on this data.
    uint64_t n = static_cast<uint64_t>(now_ms()) * 1000;
    while (producing_.load()) {
      auto r = rt.tell("order/o" + std::to_string(n), actors::make_demo_order(n));
      if (!r && code_of(r.error()) == errc::busy) {
        std::this_thread::sleep_for(std::chrono::milliseconds{100});
        continue;
      }
      ++n;
      next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval);
      std::this_thread::sleep_until(next);
    }
  }};
}

demo_producer::~demo_producer() {
  stop();
}

void demo_producer::stop() {
  producing_.store(false);
  if (thread_.joinable())
    thread_.join();
}

} // namespace cairn::cli
