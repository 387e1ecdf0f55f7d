// SPDX-License-Identifier: Apache-2.0
// What the plan tests share (plan_test.cpp, plan_approval_test.cpp,
// plan_exec_test.cpp): a real `cairn node` with the demo's plan tools, a
// marker `exec` tool and the policies a test gives it, driven over HTTP;
// and the plans they submit.
#pragma once

#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "http_client.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

namespace cairn::test::plans {

namespace json = boost::json;

inline bool final_state(const std::string& s) {
  return s == "rejected" || s == "succeeded" || s == "failed" || s == "compensated"
         || s == "compensation_failed" || s == "cancelled";
}

inline std::string str(const json::value& v, const char* k) {
  auto* o = v.if_object();
  auto* f = o ? o->if_contains(k) : nullptr;
  return f && f->is_string() ? std::string{f->as_string()} : std::string{};
}

/// A node with the demo's plan tools, a marker `exec` tool and `policies`.
struct plan_node {
  test::temp_dir dir;
  std::unique_ptr<test::node_process> proc;
  uint16_t port = 0;
  std::string marker;

  explicit plan_node(const std::string& policies = "null", const std::string& log_level = "error",
                     const std::string& workflows = "null") {
    marker = dir.sub("marker");
    // `touch_marker` appends a line to the marker file: any call of it shows.
    json::array tools{json::object{
      {"name", "touch_marker"},
      {"description", "Appends to a marker file (proves whether a tool ran)"},
      {"type", "exec"},
      {"command",
       json::array{"/bin/sh", "-c",
                   "cat >/dev/null; echo ran >> " + marker + "; echo '{\"touched\":true}'"}},
      {"input_schema", json::object{{"type", "object"}}},
      {"cost", 1}}};
    std::ofstream cfg{dir.sub("config.json")};
    cfg << "{\"policies\": " << policies << ", \"workflows\": " << workflows
        << ", \"mcp_tools\": " << json::serialize(tools) << "}";
    cfg.close();
    std::vector<std::string> args{
      "node",          "--data",      dir.sub("data"), "--http",   "127.0.0.1:0",
      "--no-progress", "--log-level", log_level,       "--config", dir.sub("config.json")};
    proc = std::make_unique<test::node_process>(args);
    REQUIRE(proc->wait_for_output("cairn node ready"));
    port = test::port_from_banner(proc->output());
    REQUIRE(port != 0);
  }

  test::http_reply call(const std::string& method, const std::string& target,
                        const std::string& body = {}) {
    return test::http_call(port, method, target, body);
  }

  json::value body_of(const test::http_reply& r) {
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    INFO(r.body);
    REQUIRE(!ec);
    return v;
  }

  /// Submits; the answer's status and body.
  std::pair<int, json::value> submit(const json::value& plan) {
    auto r = call("POST", "/api/v1/plans", json::serialize(plan));
    INFO(r.body);
    REQUIRE(r.status != 0);
    return {r.status, body_of(r)};
  }

  json::value plan(const std::string& id) {
    auto r = call("GET", "/api/v1/plans/" + id);
    INFO(r.body);
    REQUIRE(r.status == 200);
    return body_of(r);
  }

  /// Waits for the plan to reach a state for which `pred` holds.
  json::value wait_plan(const std::string& id,
                        const std::function<bool(const std::string&)>& pred = final_state) {
    json::value last;
    bool ok = test::eventually([&] {
      last = plan(id);
      return pred(str(last, "state"));
    });
    INFO(json::serialize(last));
    REQUIRE(ok);
    return last;
  }

  /// A step's state; "" while the plan is only `submitted` (no steps shown yet).
  std::string step_state(const json::value& p, const std::string& step) {
    auto* steps = p.as_object().if_contains("steps");
    auto* s = steps && steps->is_object() ? steps->as_object().if_contains(step) : nullptr;
    return s ? str(*s, "state") : std::string{};
  }

  /// The state of a ledger actor (`ledger/stock` ...): effects counted by op.
  json::object ledger(const std::string& domain) {
    auto r = call("GET", "/api/v1/actors/ledger%2F" + domain);
    if (r.status == 404)
      return {};
    INFO(r.body);
    REQUIRE(r.status == 200);
    auto v = body_of(r);
    auto state = v.as_object().if_contains("state");
    return state && state->is_object() ? state->as_object() : json::object{};
  }

  /// Waits until the node holds no pending message: a tool sends its ledger
  /// entry with its result, and the ledger handles it beside the plan's next
  /// steps, so a plan can be final before its last entry is counted. Gives
  /// up after 10 s (a test's tool may hang on purpose) and reads anyway.
  void settle() {
    test::eventually(
      [&] {
        auto r = call("GET", "/api/v1/status");
        boost::system::error_code ec;
        auto v = json::parse(r.body, ec);
        auto* totals = !ec && v.is_object() ? v.as_object().if_contains("totals") : nullptr;
        auto* pending =
          totals && totals->is_object() ? totals->as_object().if_contains("pending") : nullptr;
        return r.status == 200 && pending && pending->to_number<int64_t>() == 0;
      },
      std::chrono::seconds{10});
  }

  int64_t ops(const std::string& domain, const std::string& op) {
    settle();
    auto l = ledger(domain);
    auto* o = l.if_contains("ops");
    auto* n = o && o->is_object() ? o->as_object().if_contains(op) : nullptr;
    return n && n->is_int64() ? n->as_int64() : 0;
  }

  /// The plan's journal event types in order.
  std::vector<std::string> journal(const std::string& id) {
    auto r = call("GET", "/api/v1/actors/" + id + "/journal?limit=1000");
    INFO(r.body);
    REQUIRE(r.status == 200);
    std::vector<std::string> out;
    auto body = body_of(r);
    for (const auto& e : body.at("events").as_array())
      out.push_back(str(e, "type"));
    return out;
  }

  json::array journal_events(const std::string& id) {
    auto r = call("GET", "/api/v1/actors/" + id + "/journal?limit=1000");
    REQUIRE(r.status == 200);
    return body_of(r).at("events").as_array();
  }

  bool marker_exists() const { return access(marker.c_str(), F_OK) == 0; }
};

inline json::value step(const std::string& id, const std::string& tool, json::object args,
                        std::vector<std::string> after = {}) {
  json::array a;
  for (auto& x : after)
    a.emplace_back(x);
  return json::object{{"id", id}, {"tool", tool}, {"arguments", std::move(args)}, {"after", a}};
}

inline json::value ref(const std::string& from, const std::string& pointer) {
  return json::object{{"$from", from}, {"pointer", pointer}};
}

/// The demo's delivery as a plan: reserve -> charge -> dispatch -> notify,
/// in a line so completion order (and so compensation order) is fixed.
inline json::value delivery(const std::string& order, int64_t amount, const std::string& region) {
  return json::object{
    {"steps",
     json::array{
       step("reserve", "reserve_stock", {{"order_id", order}, {"sku", "A-1"}, {"qty", 2}}),
       step("charge", "charge_payment",
            {{"order_id", order},
             {"amount_cents", amount},
             {"reservation_id", ref("reserve", "/reservation_id")}},
            {"reserve"}),
       step("dispatch", "dispatch_driver", {{"order_id", order}, {"region", region}}, {"charge"}),
       step("notify", "notify_customer", {{"order_id", order}, {"message", "on its way"}},
            {"dispatch"})}}};
}

inline constexpr const char* big_charges = R"([{"name": "big-charges", "tools": ["charge_payment"],
  "when": {"type": "object", "properties": {"amount_cents": {"minimum": 50000}},
           "required": ["amount_cents"]},
  "verdict": "approve", "approver": "operator", "expires": "PT24H", "risk": "high",
  "reason": "charges of 500.00 or more need an operator"}])";

/// Waits for the charge step of `id` to wait for approval; its approval.
inline json::value pending_approval(plan_node& n, const std::string& id) {
  n.wait_plan(id, [&](const std::string&) {
    return n.step_state(n.plan(id), "charge") == "awaiting_approval";
  });
  auto r = n.call("GET", "/api/v1/approvals/" + id + "%2Fcharge");
  INFO(r.body);
  REQUIRE(r.status == 200);
  return n.body_of(r);
}

} // namespace cairn::test::plans
