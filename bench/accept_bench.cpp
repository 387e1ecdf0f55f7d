// SPDX-License-Identifier: Apache-2.0
// In-process acceptance: N threads call runtime::accept (blocking, one
// message in flight each) for D seconds with nothing processing
// (max_active = 0), so only acceptance is measured: validation, the commit
// coordinator and RocksDB. The baseline for the HTTP benchmark: spans on, as
// in a node. Prints the process's CPU per message (getrusage) beside it.
//
//   cairn_accept_bench DIR THREADS SECONDS os|fsync
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <spdlog/spdlog.h>

#include "cairn/runtime.hpp"

namespace {

class inert : public cairn::durable_actor {
public:
  caf::error handle(cairn::context&, const cairn::envelope&) override { return {}; }
  caf::error apply(std::string_view, std::string_view) override { return {}; }
};

} // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s DIR THREADS SECONDS os|fsync\n", argv[0]);
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  std::string dir = argv[1];
  auto threads = static_cast<size_t>(std::stoul(argv[2]));
  auto seconds = std::stod(argv[3]);
  std::filesystem::remove_all(dir);
  cairn::runtime_options o;
  o.data_dir = dir;
  auto mode = cairn::durability_named(argv[4]);
  if (!mode) {
    std::fprintf(stderr, "%s: durability must be os or fsync, not '%s'\n", argv[0], argv[4]);
    return 2;
  }
  o.mode = *mode;
  o.max_active = 0;
  o.max_pending = 100'000'000;
  auto rt = cairn::runtime::open(o);
  if (!rt)
    return 1;
  (*rt)->register_kind("sink", [](std::string_view) { return std::make_unique<inert>(); });
  if ((*rt)->start())
    return 1;
  // The same message the HTTP benchmark posts: a small JSON object.
  std::string payload = R"({"customer":"c1","sku":"sku-milk","region":"north","quantity":2})";
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> lat(threads);
  std::vector<std::thread> ts;
  auto cpu_s = [] {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
           + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  };
  auto cpu0 = cpu_s();
  auto start = std::chrono::steady_clock::now();
  for (size_t t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      uint64_t i = t;
      while (!stop.load(std::memory_order_relaxed)) {
        cairn::envelope env;
        env.to = "sink/" + std::to_string(i++ % 256);
        env.type = "bench.json/v1";
        env.format = static_cast<uint8_t>(cairn::payload_format::json);
        env.payload = payload;
        auto t0 = std::chrono::steady_clock::now();
        auto r = (*rt)->accept(std::move(env));
        lat[t].push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        if (!r)
          return;
      }
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : ts)
    th.join();
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto cpu = cpu_s() - cpu0;
  std::vector<double> all;
  for (auto& v : lat)
    all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0 : all[static_cast<size_t>(p * (all.size() - 1))];
  };
  std::printf("in-process accept: %zu threads, %.0f msgs/s, p50 %.3f ms, p99 %.3f ms, CPU %.1f us "
              "per message (%.2f cores)\n",
              threads, static_cast<double>(all.size()) / elapsed, pct(0.5), pct(0.99),
              all.empty() ? 0.0 : cpu * 1e6 / static_cast<double>(all.size()), cpu / elapsed);
  (*rt).reset();
  std::filesystem::remove_all(dir);
  return 0;
}
