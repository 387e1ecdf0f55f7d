// SPDX-License-Identifier: Apache-2.0
// Orchestration overhead (docs/orchestration.md): 5-step plans of no-op tools
// (a chain: each step after the one before), submitted by concurrent clients
// in closed loops, from submission to the plan's final state; and, in the
// same run on the same node, the same five tool calls made one after the
// other through MCP (`tools/call`, one JSON-RPC request each, in process), so
// the overhead of a plan is a ratio. Not a test: nothing here asserts a time.
//
//   cairn_plan_bench [--plans N] [--clients 1,16,64] [--durability os|fsync] [--dir DIR]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "cairn/mcp/server.hpp"
#include "cairn/runtime.hpp"
#include "cairn/workflow/engine.hpp"

namespace json = boost::json;
using namespace cairn;
using clock_type = std::chrono::steady_clock;

namespace {

struct result {
  double per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  size_t failed = 0;
};

result summarize(std::vector<double>& ms, double seconds, size_t failed) {
  std::sort(ms.begin(), ms.end());
  result r;
  r.failed = failed;
  if (ms.empty())
    return r;
  r.per_second = static_cast<double>(ms.size()) / seconds;
  r.p50_ms = ms[ms.size() / 2];
  r.p99_ms = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  return r;
}

/// Runs `total` jobs over `clients` threads, each job timed; `job(i)` is
/// false when it failed.
template <class Job>
result closed_loop(size_t total, size_t clients, Job job) {
  std::atomic<size_t> next{0}, failed{0};
  std::mutex mu;
  std::vector<double> ms;
  ms.reserve(total);
  auto start = clock_type::now();
  std::vector<std::thread> threads;
  for (size_t c = 0; c < clients; ++c)
    threads.emplace_back([&] {
      std::vector<double> mine;
      for (size_t i; (i = next.fetch_add(1)) < total;) {
        auto t0 = clock_type::now();
        if (!job(i)) {
          failed.fetch_add(1);
          continue;
        }
        mine.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
      }
      std::lock_guard lock{mu};
      ms.insert(ms.end(), mine.begin(), mine.end());
    });
  for (auto& t : threads)
    t.join();
  double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  return summarize(ms, seconds, failed.load());
}

std::vector<size_t> parse_list(const std::string& text) {
  std::vector<size_t> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    auto comma = text.find(',', pos);
    out.push_back(std::stoul(text.substr(pos, comma - pos)));
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  size_t plans = 2000;
  std::vector<size_t> clients{1, 16, 64};
  std::string mode = "os";
  std::string dir = "/tmp/cairn-plan-bench";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--plans")
      plans = std::stoul(value());
    else if (a == "--clients")
      clients = parse_list(value());
    else if (a == "--durability")
      mode = value();
    else if (a == "--dir")
      dir = value();
    else {
      std::printf("usage: cairn_plan_bench [--plans N] [--clients 1,16,64] "
                  "[--durability os|fsync] [--dir DIR]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  std::filesystem::remove_all(dir);
  runtime_options opts;
  opts.data_dir = dir;
  auto named = durability_named(mode);
  if (!named) {
    std::fprintf(stderr, "cairn_plan_bench: --durability must be os or fsync, not '%s'\n",
                 mode.c_str());
    return 2;
  }
  opts.mode = *named;
  opts.threads = std::max(4u, std::thread::hardware_concurrency());
  auto rt = runtime::open(opts);
  if (!rt) {
    std::fprintf(stderr, "cannot open %s: %s\n", dir.c_str(), render(rt.error()).c_str());
    return 1;
  }
  mcp::server_options mo;
  mcp::server srv{**rt, mo};
  for (int t = 1; t <= 5; ++t) {
    mcp::tool_spec s;
    s.name = "noop_" + std::to_string(t);
    s.description = "does nothing";
    s.runs_inline = true;
    s.tasks = mcp::task_support::forbidden;
    s.handler = [](mcp::call&) -> caf::expected<mcp::tool_result> {
      mcp::tool_result r;
      r.structured = json::object{{"ok", true}};
      return r;
    };
    srv.add_tool(std::move(s));
  }
  workflow::engine_options eo;
  workflow::engine orchestrator{**rt, srv, eo};
  orchestrator.attach();
  srv.attach();
  if (auto err = (*rt)->start()) {
    std::fprintf(stderr, "cannot start: %s\n", render(err).c_str());
    return 1;
  }
  json::array steps;
  for (int t = 1; t <= 5; ++t) {
    json::object s{{"id", "s" + std::to_string(t)}, {"tool", "noop_" + std::to_string(t)}};
    if (t > 1)
      s["after"] = json::array{"s" + std::to_string(t - 1)};
    steps.push_back(std::move(s));
  }
  json::value plan = json::object{{"steps", steps}};
  workflow::caller who;
  who.name = "bench";

  auto five_calls = [&](size_t i) {
    for (int t = 1; t <= 5; ++t) {
      json::object req{
        {"jsonrpc", "2.0"},
        {"id", static_cast<int64_t>(i * 10 + t)},
        {"method", "tools/call"},
        {"params",
         json::object{
           {"name", "noop_" + std::to_string(t)},
           {"arguments", json::object{}},
           {"_meta",
            json::object{{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                         {"io.modelcontextprotocol/clientInfo",
                          json::object{{"name", "bench"}, {"version", "1"}}},
                         {"io.modelcontextprotocol/clientCapabilities", json::object{}}}}}}};
      auto done = std::make_shared<std::promise<std::string>>();
      auto answered = std::make_shared<std::atomic<bool>>(false);
      srv.handle_message(json::serialize(req), [done, answered](std::string msg) {
        if (msg.find("\"result\"") == std::string::npos
            && msg.find("\"error\"") == std::string::npos)
          return; // a notification
        if (!answered->exchange(true))
          done->set_value(std::move(msg));
      });
      auto answer = done->get_future().get();
      if (answer.find("\"error\"") != std::string::npos
          || answer.find("\"isError\":true") != std::string::npos) {
        std::fprintf(stderr, "tools/call failed: %s\n", answer.c_str());
        return false;
      }
    }
    return true;
  };
  auto one_plan = [&](size_t) {
    auto s = orchestrator.submit(plan, who);
    if (!s || !s->report.ok())
      return false;
    auto p = orchestrator.wait(s->id, std::chrono::seconds{60});
    return p && p->at("state") == "succeeded";
  };

  std::printf("5-step plans of no-op tools vs the same 5 calls one by one through MCP, %s\n",
              mode.c_str());
  std::printf("%8s %10s %10s %10s | %12s %10s %10s | %12s %12s\n", "clients", "plans/s", "p50 ms",
              "p99 ms", "5-calls/s", "p50 ms", "p99 ms", "rate ratio", "p50 ratio");
  // Warm up: activations, tool kinds, caches.
  closed_loop(std::min<size_t>(plans, 200), 8, one_plan);
  closed_loop(std::min<size_t>(plans, 200), 8, five_calls);
  for (auto c : clients) {
    auto p = closed_loop(plans, c, one_plan);
    auto m = closed_loop(plans, c, five_calls);
    std::printf("%8zu %10.0f %10.2f %10.2f | %12.0f %10.2f %10.2f | %11.2fx %11.2fx%s\n", c,
                p.per_second, p.p50_ms, p.p99_ms, m.per_second, m.p50_ms, m.p99_ms,
                m.per_second > 0 ? p.per_second / m.per_second : 0,
                m.p50_ms > 0 ? p.p50_ms / m.p50_ms : 0, p.failed + m.failed ? "  (failures!)" : "");
    std::fflush(stdout);
  }
  orchestrator.shutdown();
  srv.shutdown();
  (*rt)->stop();
  std::filesystem::remove_all(dir);
  return 0;
}
