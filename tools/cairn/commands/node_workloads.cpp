// SPDX-License-Identifier: Apache-2.0
// The built-in workloads of `cairn node`: the crash test's chains and the
// delivery demo's order producer.
#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include <boost/json.hpp>

#include "cairn/actors/chain.hpp"
#include "cairn/actors/delivery.hpp"
#include "cairn/runtime.hpp"
#include "cairn/workflow/engine.hpp"
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

namespace {

/// The demo agent's n-th plan: a delivery like the `deliver_order` workflow.
/// Every 5th charges 750.00 (the demo policy wants an operator for that);
/// every 7th goes to a region no driver serves (so it is compensated).
boost::json::value demo_plan(uint64_t n) {
  namespace json = boost::json;
  auto order = "d" + std::to_string(n);
  int64_t amount = n % 5 == 4 ? 75'000 : 1'000 + static_cast<int64_t>(n % 40) * 250;
  std::string region =
    n % 7 == 6 ? "islands" : std::vector<std::string>{"north", "south", "east", "west"}[n % 4];
  auto ref = [](const char* from, const char* pointer) {
    return json::object{{"$from", from}, {"pointer", pointer}};
  };
  json::array steps{
    json::object{{"id", "check"},
                 {"tool", "check_inventory"},
                 {"arguments", json::object{{"sku", "A-1"}, {"qty", 2}}}},
    json::object{{"id", "reserve"},
                 {"tool", "reserve_stock"},
                 {"after", json::array{"check"}},
                 {"arguments", json::object{{"order_id", order}, {"sku", "A-1"}, {"qty", 2}}}},
    json::object{
      {"id", "charge"},
      {"tool", "charge_payment"},
      {"after", json::array{"reserve"}},
      {"arguments", json::object{{"order_id", order},
                                 {"amount_cents", amount},
                                 {"reservation_id", ref("reserve", "/reservation_id")}}}},
    json::object{{"id", "dispatch"},
                 {"tool", "dispatch_driver"},
                 {"after", json::array{"reserve"}},
                 {"arguments", json::object{{"order_id", order}, {"region", region}}}},
    json::object{{"id", "notify"},
                 {"tool", "notify_customer"},
                 {"after", json::array{"charge", "dispatch"}},
                 {"arguments", json::object{{"order_id", order}, {"message", "on its way"}}}}};
  return json::object{{"steps", std::move(steps)}, {"idempotency_key", "demo-" + order}};
}

} // namespace

demo_planner::demo_planner(workflow::engine& orchestrator, std::FILE* out,
                           std::chrono::milliseconds period) {
  thread_ = std::thread{[this, &orchestrator, out, period] {
    namespace json = boost::json;
    // Continue numbering after the plans of earlier runs on this data.
    uint64_t n = static_cast<uint64_t>(now_ms() / 1000) * 10;
    std::map<std::string, std::string> watching; // plan id -> what was said of it
    workflow::caller agent;
    agent.name = "demo-agent";
    auto next = std::chrono::steady_clock::now();
    while (running_.load()) {
      if (std::chrono::steady_clock::now() >= next) {
        auto s = orchestrator.submit(demo_plan(n++), agent);
        if (s && s->report.ok())
          watching.emplace(s->id, "");
        next += period;
      }
      for (auto it = watching.begin(); it != watching.end();) {
        auto p = orchestrator.plan(it->first);
        auto state = p ? std::string{p->at("state").as_string()} : std::string{};
        std::string said = state;
        std::string line;
        if (p && workflow::final_state(state)) {
          line = "plan " + it->first + ": " + state;
          if (auto c = p->if_contains("cause"))
            line += " (" + std::string{c->as_string()} + ")";
        } else if (p && p->contains("steps")) {
          for (const auto& [id, sv] : p->at("steps").as_object())
            if (auto a = sv.as_object().if_contains("approval");
                a && a->as_object().at("state") == "pending") {
              said = "waiting";
              line = "plan " + it->first + ": " + std::string{id} + " waits for an operator ("
                     + json::serialize(sv.as_object().at("resolved_arguments"))
                     + "). Approve: cairn approvals approve " + it->first + "/" + std::string{id}
                     + " --sha256 "
                     + std::string{a->as_object().at("arguments_sha256").as_string()};
            }
        }
        if (!line.empty() && said != it->second) {
          std::fprintf(out, "%s\n", line.c_str());
          std::fflush(out);
        }
        it->second = said;
        if (p && workflow::final_state(state))
          it = watching.erase(it);
        else
          ++it;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
  }};
}

demo_planner::~demo_planner() {
  stop();
}

void demo_planner::stop() {
  running_.store(false);
  if (thread_.joinable())
    thread_.join();
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
