// SPDX-License-Identifier: Apache-2.0
// Plans against a real `cairn node` over HTTP (docs/orchestration.md):
// whole-plan rejection with nothing run, approvals bound to the argument
// hash, compensation in reverse order exactly once, cancellation, policy
// reload. The demo's tools record each effect in a durable ledger
// (`ledger/<domain>`), which is what these tests count; an `exec` tool that
// leaves a marker file proves when nothing ran at all.
#include <algorithm>
#include <csignal>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "cairn/actors/demo_tools.hpp"
#include "http_client.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
namespace json = boost::json;

namespace {

bool final_state(const std::string& s) {
  return s == "rejected" || s == "succeeded" || s == "failed" || s == "compensated"
         || s == "compensation_failed" || s == "cancelled";
}

std::string str(const json::value& v, const char* k) {
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

json::value step(const std::string& id, const std::string& tool, json::object args,
                 std::vector<std::string> after = {}) {
  json::array a;
  for (auto& x : after)
    a.emplace_back(x);
  return json::object{{"id", id}, {"tool", tool}, {"arguments", std::move(args)}, {"after", a}};
}

json::value ref(const std::string& from, const std::string& pointer) {
  return json::object{{"$from", from}, {"pointer", pointer}};
}

/// The demo's delivery as a plan: reserve -> charge -> dispatch -> notify,
/// in a line so completion order (and so compensation order) is fixed.
json::value delivery(const std::string& order, int64_t amount, const std::string& region) {
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

} // namespace

TEST_CASE("a plan runs its steps with references resolved and succeeds", "[plan]") {
  plan_node n;
  auto [status, body] = n.submit(delivery("o1", 4990, "north"));
  INFO(json::serialize(body));
  REQUIRE((status == 201 || status == 202));
  auto id = str(body, "id");
  REQUIRE(id.rfind("plan/", 0) == 0);
  auto p = n.wait_plan(id);
  INFO(json::serialize(p));
  CHECK(str(p, "state") == "succeeded");
  // The charge got the reservation the reserve step returned.
  auto reservation = p.at("steps").at("reserve").at("output").at("reservation_id");
  CHECK(p.at("steps").at("charge").at("resolved_arguments").at("reservation_id") == reservation);
  // Each effect once.
  CHECK(n.ops("stock", "reserve") == 1);
  CHECK(n.ops("payments", "charge") == 1);
  CHECK(n.ops("dispatch", "dispatch") == 1);
  CHECK(n.ops("notify", "notify") == 1);
  CHECK(n.ops("stock", "release") == 0);
  // The external idempotency key of a step is `<plan id>/<step id>`.
  auto keys = n.ledger("payments").at("keys").as_object();
  CHECK(keys.contains(id + "/charge"));
}

TEST_CASE("a plan submitted with a traceparent is one trace: its validation, a verdict per "
          "step and every step's tool call below",
          "[plan][trace]") {
  plan_node n;
  const std::string trace = "2bd7651916cd43dd8448eb211c80319f";
  auto r = test::http_call(
    n.port, "POST", "/api/v1/plans", json::serialize(delivery("t1", 4990, "north")),
    {"Content-Type: application/json", "traceparent: 00-" + trace + "-c1c2c3c4c5c6c7c8-01"});
  INFO(r.body);
  REQUIRE((r.status == 201 || r.status == 202));
  auto id = str(n.body_of(r), "id");
  CHECK(str(n.wait_plan(id), "state") == "succeeded");
  json::value tree;
  REQUIRE(test::eventually([&] {
    auto t = test::http_call(n.port, "GET", "/api/v1/traces/" + trace);
    if (t.status != 200)
      return false;
    tree = json::parse(t.body);
    return tree.at("roots").as_array().size() == 1
           && tree.at("roots").as_array()[0].at("name") == "plan validate";
  }));
  INFO(json::serialize(tree));
  auto& root = tree.at("roots").as_array()[0].as_object();
  CHECK(root.at("parent_span_id") == "c1c2c3c4c5c6c7c8");
  CHECK(root.at("status") == "ok");
  CHECK(root.at("attributes").at("cairn.plan.id") == json::value(id));
  // One verdict per step, and the plan actor's first step, under it.
  size_t verdicts = 0;
  bool plan_step = false;
  for (auto& c : root.at("children").as_array()) {
    auto name = std::string{c.at("name").as_string()};
    verdicts += name.rfind("policy ", 0) == 0 ? 1 : 0;
    plan_step = plan_step || (c.as_object().contains("actor") && c.at("actor") == json::value(id));
  }
  CHECK(verdicts == n.plan(id).at("order").as_array().size());
  CHECK(plan_step);
  // Every step's tool ran in the same trace.
  std::set<std::string> tools;
  std::function<void(const json::value&)> walk = [&](const json::value& s) {
    if (auto* a = s.as_object().if_contains("actor"))
      if (a->as_string().starts_with("tool."))
        tools.insert(std::string{a->as_string()}.substr(5, a->as_string().find('/') - 5));
    for (auto& c : s.at("children").as_array())
      walk(c);
  };
  walk(root);
  auto done = n.plan(id);
  for (auto& step : done.at("steps").as_object())
    CHECK(tools.count(std::string{step.value().at("tool").as_string()}) == 1);
}

TEST_CASE("a rejected plan lists every problem with its path and runs nothing", "[plan]") {
  plan_node n;
  // The fourth step has a bad argument; the marker tool is the first step.
  json::value bad = json::object{
    {"steps",
     json::array{
       step("mark", "touch_marker", {}),
       step("reserve", "reserve_stock", {{"order_id", "o2"}, {"sku", "A-1"}, {"qty", 2}}, {"mark"}),
       step("charge", "charge_payment", {{"order_id", "o2"}, {"amount_cents", 100}}, {"reserve"}),
       step("notify", "notify_customer", {{"order_id", "o2"}, {"message", 42}}, {"charge"})}}};
  auto [status, body] = n.submit(bad);
  INFO(json::serialize(body));
  CHECK(status == 422);
  CHECK(str(body, "code") == "plan_invalid");
  auto problems = body.at("problems").as_array();
  REQUIRE(problems.size() == 1);
  CHECK(str(problems[0], "step") == "notify");
  CHECK(str(problems[0], "path") == "$.steps[3].arguments.message");
  CHECK(str(problems[0], "code") == "invalid_arguments");

  // Several problems at once: a cycle, an unknown tool, a reference to a
  // step that is not earlier, and a budget overrun.
  json::value many = json::object{
    {"budget", json::object{{"cost_units", 3}}},
    {"steps",
     json::array{
       step("a", "touch_marker", {}, {"b"}), step("b", "touch_marker", {}, {"a"}),
       step("c", "no_such_tool", {}),
       step("d", "notify_customer", {{"order_id", ref("e", "/notification_id")}, {"message", "x"}}),
       step("e", "notify_customer", {{"order_id", "o3"}, {"message", "x"}}, {"d"})}}};
  auto [status2, body2] = n.submit(many);
  INFO(json::serialize(body2));
  CHECK(status2 == 422);
  std::set<std::string> codes;
  for (const auto& p : body2.at("problems").as_array())
    codes.insert(str(p, "code"));
  CHECK(codes.count("cycle") == 1);
  CHECK(codes.count("unknown_tool") == 1);
  CHECK(codes.count("bad_reference") == 1);
  CHECK(codes.count("over_budget") == 1);

  // The rejection is journaled (the 422 comes once it is accepted, durably;
  // the plan actor journals it a moment later), and nothing else happened.
  auto plan_id = str(body2, "plan");
  REQUIRE(!plan_id.empty());
  CHECK(test::eventually(
    [&] { return n.journal(plan_id) == std::vector<std::string>{"plan.rejected/v1"}; },
    std::chrono::seconds{30}));
  CHECK(n.journal(plan_id) == std::vector<std::string>{"plan.rejected/v1"});
  CHECK(str(n.plan(plan_id), "state") == "rejected");
  CHECK_FALSE(n.marker_exists());
  CHECK(n.ops("stock", "reserve") == 0);
}

TEST_CASE("a step that fails is compensated in reverse order, each undo once", "[plan]") {
  plan_node n;
  // Nobody drives to "islands": dispatch fails after reserve and charge.
  auto [status, body] = n.submit(delivery("o4", 2500, "islands"));
  REQUIRE((status == 201 || status == 202));
  auto id = str(body, "id");
  auto p = n.wait_plan(id);
  INFO(json::serialize(p));
  CHECK(str(p, "state") == "compensated");
  CHECK(n.step_state(p, "dispatch") == "failed");
  CHECK(n.step_state(p, "notify") == "skipped");
  CHECK(n.step_state(p, "charge") == "compensated");
  CHECK(n.step_state(p, "reserve") == "compensated");
  // The refund undoes the later step first, then the release.
  std::vector<std::string> undo;
  auto events = n.journal_events(id);
  for (const auto& e : events)
    if (str(e, "type") == "plan.compensation_started/v1")
      undo.push_back(str(e.at("payload"), "step"));
  CHECK(undo == std::vector<std::string>{"charge", "reserve"});
  CHECK(n.ops("payments", "refund") == 1);
  CHECK(n.ops("stock", "release") == 1);
  CHECK(n.ops("dispatch", "dispatch") == 0);
  // The refund got the payment id and amount of the charge it undoes.
  auto undo_args = p.at("steps").at("charge").at("compensation_call").at("arguments");
  CHECK(undo_args.at("payment_id") == p.at("steps").at("charge").at("output").at("payment_id"));
  CHECK(undo_args.at("amount_cents") == json::value(2500));
}

namespace {

const char* big_charges = R"([{"name": "big-charges", "tools": ["charge_payment"],
  "when": {"type": "object", "properties": {"amount_cents": {"minimum": 50000}},
           "required": ["amount_cents"]},
  "verdict": "approve", "approver": "operator", "expires": "PT24H", "risk": "high",
  "reason": "charges of 500.00 or more need an operator"}])";

/// Waits for the charge step of `id` to wait for approval; its approval.
json::value pending_approval(plan_node& n, const std::string& id) {
  n.wait_plan(id, [&](const std::string&) {
    return n.step_state(n.plan(id), "charge") == "awaiting_approval";
  });
  auto r = n.call("GET", "/api/v1/approvals/" + id + "%2Fcharge");
  INFO(r.body);
  REQUIRE(r.status == 200);
  return n.body_of(r);
}

} // namespace

TEST_CASE("an approval decided in another trace lets the plan go on in its own, with the wait "
          "as a span",
          "[plan][trace]") {
  plan_node n{big_charges};
  const std::string trace = "7cd7651916cd43dd8448eb211c8031a0";
  auto r = test::http_call(
    n.port, "POST", "/api/v1/plans", json::serialize(delivery("t5", 75000, "south")),
    {"Content-Type: application/json", "traceparent: 00-" + trace + "-d1d2d3d4d5d6d7d8-01"});
  REQUIRE(r.status == 202);
  auto id = str(n.body_of(r), "id");
  auto a = pending_approval(n, id);
  const std::string decider_trace = "8cd7651916cd43dd8448eb211c8031a1";
  auto decided =
    test::http_call(n.port, "POST", "/api/v1/approvals/" + id + "%2Fcharge",
                    json::serialize(json::object{{"decision", "approve"},
                                                 {"arguments_sha256", str(a, "arguments_sha256")}}),
                    {"Content-Type: application/json",
                     "traceparent: 00-" + decider_trace + "-e1e2e3e4e5e6e7e8-01"});
  REQUIRE(decided.status == 202);
  CHECK(str(n.wait_plan(id), "state") == "succeeded");
  // The plan's trace holds the wait and the tools that ran after it.
  json::value tree;
  std::vector<json::object> spans;
  REQUIRE(test::eventually([&] {
    auto t = test::http_call(n.port, "GET", "/api/v1/traces/" + trace);
    if (t.status != 200)
      return false;
    tree = json::parse(t.body);
    spans.clear();
    std::function<void(const json::value&)> walk = [&](const json::value& s) {
      spans.push_back(s.as_object());
      for (auto& c : s.at("children").as_array())
        walk(c);
    };
    for (auto& root : tree.at("roots").as_array())
      walk(root);
    return std::any_of(spans.begin(), spans.end(),
                       [](auto& s) { return s.at("name") == "approval wait"; });
  }));
  INFO(json::serialize(tree));
  CHECK(tree.at("roots").as_array().size() == 1);
  auto wait = *std::find_if(spans.begin(), spans.end(),
                            [](auto& s) { return s.at("name") == "approval wait"; });
  CHECK(wait.at("status") == "ok");
  CHECK(wait.at("attributes").at("cairn.approval.decision") == "approve");
  CHECK(wait.at("attributes").at("cairn.step.id") == "charge");
  REQUIRE(wait.at("links").as_array().size() == 1);
  CHECK(wait.at("links").as_array()[0].at("type") == "decided_by");
  CHECK(wait.at("links").as_array()[0].at("trace_id") == json::value(decider_trace));
  CHECK(wait.at("links").as_array()[0].at("local") == false);
  // The steps after the approval ran in the plan's trace.
  for (std::string tool :
       {"tool.charge_payment/", "tool.dispatch_driver/", "tool.notify_customer/"})
    CHECK(std::any_of(spans.begin(), spans.end(), [&](auto& s) {
      auto* actor = s.if_contains("actor");
      return actor && actor->as_string().starts_with(tool);
    }));
}

TEST_CASE("an approval must quote the hash of the arguments that will run", "[plan]") {
  plan_node n{big_charges};
  auto [status, body] = n.submit(delivery("o5", 75000, "south"));
  REQUIRE(status == 202);
  auto id = str(body, "id");
  CHECK(str(body.at("steps").at("charge"), "verdict") == "approve");
  CHECK(str(body.at("steps").at("charge"), "rule") == "big-charges");
  CHECK(str(body, "risk") == "high");
  auto a = pending_approval(n, id);
  INFO(json::serialize(a));
  CHECK(str(a, "state") == "pending");
  auto sha = str(a, "arguments_sha256");
  REQUIRE(sha.size() == 64);
  // The arguments shown are the resolved ones (the reservation filled in).
  CHECK(a.at("arguments").at("reservation_id").is_string());
  // Listed, pending first.
  auto list = n.body_of(n.call("GET", "/api/v1/approvals"));
  REQUIRE(!list.at("approvals").as_array().empty());
  CHECK(str(list.at("approvals").as_array()[0], "id") == id + "/charge");

  // The hash of other arguments: refused, and the step still waits.
  std::string other(64, '0');
  auto wrong =
    n.call("POST", "/api/v1/approvals/" + id + "%2Fcharge",
           json::serialize(json::object{{"decision", "approve"}, {"arguments_sha256", other}}));
  INFO(wrong.body);
  CHECK(wrong.status == 409);
  CHECK(n.ops("payments", "charge") == 0);
  CHECK(n.step_state(n.plan(id), "charge") == "awaiting_approval");

  auto right =
    n.call("POST", "/api/v1/approvals/" + id + "%2Fcharge",
           json::serialize(json::object{
             {"decision", "approve"}, {"arguments_sha256", sha}, {"comment", "known customer"}}));
  INFO(right.body);
  CHECK(right.status == 202);
  auto p = n.wait_plan(id);
  CHECK(str(p, "state") == "succeeded");
  CHECK(n.ops("payments", "charge") == 1);
  // A second decision on a decided approval is a conflict.
  auto again =
    n.call("POST", "/api/v1/approvals/" + id + "%2Fcharge",
           json::serialize(json::object{{"decision", "deny"}, {"arguments_sha256", sha}}));
  CHECK(again.status == 409);
  // The journal names who decided, and the comment.
  bool found = false;
  auto events = n.journal_events(id);
  for (const auto& e : events)
    if (str(e, "type") == "plan.approval_decided/v1") {
      found = true;
      CHECK(str(e.at("payload"), "by") == "anonymous");
      CHECK(str(e.at("payload"), "decision") == "approve");
      CHECK(str(e.at("payload"), "comment") == "known customer");
    }
  CHECK(found);
}

TEST_CASE("a denied approval compensates what ran before it", "[plan]") {
  plan_node n{big_charges};
  auto [status, body] = n.submit(delivery("o6", 90000, "east"));
  REQUIRE(status == 202);
  auto id = str(body, "id");
  auto a = pending_approval(n, id);
  auto r = n.call("POST", "/api/v1/approvals/" + id + "%2Fcharge",
                  json::serialize(json::object{{"decision", "deny"},
                                               {"arguments_sha256", str(a, "arguments_sha256")}}));
  CHECK(r.status == 202);
  auto p = n.wait_plan(id);
  INFO(json::serialize(p));
  CHECK(str(p, "state") == "compensated");
  CHECK(n.step_state(p, "charge") == "denied");
  CHECK(n.step_state(p, "reserve") == "compensated");
  CHECK(n.ops("stock", "release") == 1);
  CHECK(n.ops("payments", "charge") == 0);
}

TEST_CASE("an approval that expires counts as a denial", "[plan]") {
  plan_node n{R"([{"name": "quick", "tools": ["charge_payment"], "verdict": "approve",
                   "expires": "PT1S", "reason": "needs a quick yes"}])"};
  auto [status, body] = n.submit(delivery("o7", 100, "west"));
  REQUIRE(status == 202);
  auto id = str(body, "id");
  auto p = n.wait_plan(id);
  INFO(json::serialize(p));
  CHECK(str(p, "state") == "compensated");
  CHECK(n.step_state(p, "charge") == "expired");
  CHECK(str(p.at("steps").at("charge").at("approval"), "decided_by") == "expiry");
  CHECK(n.ops("stock", "release") == 1);
}

TEST_CASE("a policy rule that denies rejects the plan before anything runs", "[plan]") {
  plan_node n{R"([{"name": "no-marks", "tools": ["touch_*"], "verdict": "deny",
                   "reason": "not from a plan"}])"};
  auto [status, body] =
    n.submit(json::object{{"steps", json::array{step("m", "touch_marker", {})}}});
  INFO(json::serialize(body));
  CHECK(status == 422);
  auto problems = body.at("problems").as_array();
  REQUIRE(problems.size() == 1);
  CHECK(str(problems[0], "code") == "denied");
  CHECK(str(problems[0], "message").find("no-marks") != std::string::npos);
  CHECK_FALSE(n.marker_exists());
}

TEST_CASE("cancelling a waiting plan skips what is pending and undoes what ran", "[plan]") {
  plan_node n{big_charges};
  auto [status, body] = n.submit(delivery("o8", 60000, "north"));
  REQUIRE(status == 202);
  auto id = str(body, "id");
  pending_approval(n, id);
  auto r = n.call("POST", "/api/v1/plans/" + id + "/cancel", R"({"reason": "customer called"})");
  INFO(r.body);
  CHECK(r.status == 202);
  auto p = n.wait_plan(id);
  INFO(json::serialize(p));
  CHECK(str(p, "state") == "cancelled");
  CHECK(n.step_state(p, "charge") == "skipped");
  CHECK(n.step_state(p, "reserve") == "compensated");
  CHECK(n.ops("stock", "release") == 1);
  // Cancelling an ended plan is a conflict.
  CHECK(n.call("POST", "/api/v1/plans/" + id + "/cancel").status == 409);
}

TEST_CASE("the same idempotency key from the same caller is the same plan", "[plan]") {
  plan_node n;
  auto plan = delivery("o9", 100, "north");
  plan.as_object()["idempotency_key"] = "order-o9";
  auto [s1, b1] = n.submit(plan);
  auto [s2, b2] = n.submit(plan);
  CHECK(str(b1, "id") == str(b2, "id"));
  n.wait_plan(str(b1, "id"));
  CHECK(n.ops("payments", "charge") == 1);
}

TEST_CASE("reloaded policies apply to new plans, a waiting plan keeps its verdict", "[plan]") {
  plan_node n{big_charges, "info"};
  auto [s1, waiting] = n.submit(delivery("o10", 80000, "north"));
  REQUIRE(s1 == 202);
  auto waiting_id = str(waiting, "id");
  pending_approval(n, waiting_id);
  // The new rules let every charge through.
  {
    std::ofstream cfg{n.dir.sub("config.json")};
    cfg << R"({"policies": [{"name": "all-charges", "tools": ["charge_payment"],
                              "verdict": "allow", "reason": "trusted"}]})";
  }
  n.proc->signal(SIGHUP);
  REQUIRE(n.proc->wait_for_output("policies reloaded"));
  auto [s2, fresh] = n.submit(delivery("o11", 80000, "north"));
  INFO(json::serialize(fresh));
  CHECK(str(fresh.at("steps").at("charge"), "verdict") == "allow");
  CHECK(str(fresh.at("steps").at("charge"), "rule") == "all-charges");
  CHECK(str(n.wait_plan(str(fresh, "id")), "state") == "succeeded");
  // The plan submitted before the reload still waits for its approval.
  auto p = n.plan(waiting_id);
  CHECK(n.step_state(p, "charge") == "awaiting_approval");
  CHECK(str(p.at("steps").at("charge"), "rule") == "big-charges");
}

namespace {

/// The body of a chunked HTTP/1.1 answer without its chunk framing.
std::string dechunk(const test::http_reply& r) {
  if (r.header("transfer-encoding").find("chunked") == std::string::npos)
    return r.body;
  std::string out;
  size_t pos = 0;
  while (pos < r.body.size()) {
    auto eol = r.body.find("\r\n", pos);
    if (eol == std::string::npos)
      break;
    auto size = std::stoul(r.body.substr(pos, eol - pos), nullptr, 16);
    if (size == 0)
      break;
    out += r.body.substr(eol + 2, size);
    pos = eol + 2 + size + 2;
  }
  return out;
}

} // namespace

TEST_CASE("a plan's events stream as SSE from its journal while it runs, and resume", "[plan]") {
  plan_node n{big_charges};
  auto [status, body] = n.submit(delivery("o12", 70000, "west"));
  REQUIRE(status == 202);
  auto id = str(body, "id");
  auto a = pending_approval(n, id);
  // The stream stays open while the plan waits; the approval and the end arrive on it.
  test::http_reply live;
  std::thread reader{
    [&] { live = test::http_call(n.port, "GET", "/api/v1/plans/" + id + "/events"); }};
  auto r = n.call("POST", "/api/v1/approvals/" + id + "%2Fcharge",
                  json::serialize(json::object{{"decision", "approve"},
                                               {"arguments_sha256", str(a, "arguments_sha256")}}));
  CHECK(r.status == 202);
  reader.join();
  live.body = dechunk(live);
  INFO(live.body);
  CHECK(live.status == 200);
  CHECK(live.header("content-type").find("text/event-stream") == 0);
  auto at = [&](const std::string& what) { return live.body.find(what); };
  CHECK(at("id: 1\nevent: plan.accepted/v1\ndata: {") == 0);
  CHECK(at("event: plan.approval_requested/v1") < at("event: plan.approval_decided/v1"));
  CHECK(at("event: plan.approval_decided/v1") < at("event: plan.finished/v1"));
  CHECK(at("event: plan.finished/v1") != std::string::npos);
  CHECK(at("\"state\":\"succeeded\"") != std::string::npos);
  // Last-Event-ID resumes after that event.
  auto resumed =
    test::http_call(n.port, "GET", "/api/v1/plans/" + id + "/events", {}, {"Last-Event-ID: 2"});
  resumed.body = dechunk(resumed);
  INFO(resumed.body);
  CHECK(resumed.body.rfind("id: 3\n", 0) == 0);
  CHECK(resumed.body.find("event: plan.finished/v1") != std::string::npos);
  // A plan that does not exist: 404, not an empty stream.
  CHECK(n.call("GET", "/api/v1/plans/plan%2Fnope/events").status == 404);
}

TEST_CASE("cairn plan and cairn approvals drive a plan from the command line", "[plan][cli]") {
  plan_node n{big_charges};
  auto url = "http://127.0.0.1:" + std::to_string(n.port);
  auto cli = [&](std::vector<std::string> args, int& code) {
    args.insert(args.begin(), {"--node", url});
    test::node_process p{args};
    code = p.wait();
    return p.output();
  };
  {
    std::ofstream f{n.dir.sub("plan.json")};
    f << json::serialize(delivery("o13", 1200, "north"));
  }
  int code = -1;
  auto out = cli({"plan", "submit", n.dir.sub("plan.json"), "--watch"}, code);
  INFO(out);
  CHECK(code == 0);
  CHECK(out.find(": succeeded") != std::string::npos);
  // A rejected plan: exit 1 and every problem, with its path.
  {
    std::ofstream f{n.dir.sub("bad.json")};
    f << R"({"steps": [{"id": "x", "tool": "reserve_stock", "arguments": {"qty": "two"}}]})";
  }
  out = cli({"plan", "submit", n.dir.sub("bad.json")}, code);
  INFO(out);
  CHECK(code == 1);
  CHECK(out.find("plan_invalid") != std::string::npos);
  CHECK(out.find("$.steps[0].arguments.qty [x]: invalid_arguments") != std::string::npos);
  // An approval, decided from the command line: the wrong hash first.
  auto [status, body] = n.submit(delivery("o14", 99000, "north"));
  REQUIRE(status == 202);
  auto id = str(body, "id");
  auto a = pending_approval(n, id);
  out = cli({"approvals", "list"}, code);
  CHECK(code == 0);
  CHECK(out.find(id + "/charge") != std::string::npos);
  CHECK(out.find("pending") != std::string::npos);
  out = cli({"approvals", "show", id + "/charge"}, code);
  CHECK(out.find(str(a, "arguments_sha256")) != std::string::npos);
  out = cli({"approvals", "approve", id + "/charge", "--sha256", std::string(64, 'f')}, code);
  INFO(out);
  CHECK(code == 1);
  CHECK(out.find("conflict") != std::string::npos);
  out = cli({"approvals", "approve", id + "/charge", "--sha256", str(a, "arguments_sha256"),
             "--comment", "ok by phone"},
            code);
  CHECK(code == 0);
  out = cli({"plan", "watch", id}, code);
  INFO(out);
  CHECK(code == 0);
  CHECK(out.find("plan " + id + ": succeeded") != std::string::npos);
  out = cli({"plan", "show", id, "--json"}, code);
  CHECK(code == 0);
  CHECK(out.find("\"ok by phone\"") != std::string::npos);
  out = cli({"plan", "list", "--status", "succeeded"}, code);
  CHECK(out.find(id) != std::string::npos);
}

TEST_CASE("a workflow from config is one MCP tool that runs its plan", "[plan][mcp]") {
  plan_node n{"null", "error", actors::demo_workflows_json()};
  int next_id = 1;
  auto mcp = [&](const std::string& method, json::object params, const std::string& name) {
    params["_meta"] = json::object{{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                                   {"io.modelcontextprotocol/clientInfo",
                                    json::object{{"name", "plan-test"}, {"version", "1.0.0"}}},
                                   {"io.modelcontextprotocol/clientCapabilities", json::object{}}};
    json::object req{
      {"jsonrpc", "2.0"}, {"id", next_id++}, {"method", method}, {"params", std::move(params)}};
    std::vector<std::string> headers{"Content-Type: application/json",
                                     "Accept: application/json, text/event-stream",
                                     "MCP-Protocol-Version: 2026-07-28", "Mcp-Method: " + method};
    if (!name.empty())
      headers.push_back("Mcp-Name: " + name);
    auto r = test::http_call(n.port, "POST", "/mcp", json::serialize(req), headers);
    INFO(r.body);
    auto text = r.body;
    if (auto data = text.rfind("data: ");
        r.header("content-type").find("event-stream") == 0 && data != std::string::npos)
      text = text.substr(data + 6, text.find('\n', data) - data - 6);
    return n.body_of(test::http_reply{r.status, r.headers, text}).as_object();
  };
  auto list = mcp("tools/list", {}, "");
  json::object deliver;
  for (const auto& t : list.at("result").at("tools").as_array())
    if (t.at("name") == "deliver_order")
      deliver = t.as_object();
  REQUIRE(!deliver.empty());
  CHECK(deliver.at("inputSchema").at("required").as_array().size() == 5);
  auto res = mcp("tools/call",
                 json::object{{"name", "deliver_order"},
                              {"arguments", json::object{{"order_id", "w1"},
                                                         {"sku", "A-1"},
                                                         {"qty", 1},
                                                         {"amount_cents", 1500},
                                                         {"region", "south"}}}},
                 "deliver_order");
  INFO(json::serialize(res));
  auto sc = res.at("result").at("structuredContent");
  CHECK(str(sc, "state") == "succeeded");
  CHECK(n.ops("payments", "charge") == 1);
  // The plan ran with the parameters in place.
  auto p = n.plan(str(sc, "id"));
  CHECK(p.at("steps").at("dispatch").at("resolved_arguments").at("region") == "south");
  // Parameters outside the workflow's schema never reach a plan.
  auto bad =
    mcp("tools/call",
        json::object{{"name", "deliver_order"}, {"arguments", json::object{{"order_id", "w2"}}}},
        "deliver_order");
  CHECK(bad.contains("error"));
}

namespace {

/// A node whose `mcp_tools` are `tools` (exec tools for the test at hand).
struct exec_node {
  test::temp_dir dir;
  std::unique_ptr<test::node_process> proc;
  uint16_t port = 0;

  explicit exec_node(const json::array& tools, std::vector<std::string> extra = {}) {
    {
      std::ofstream cfg{dir.sub("config.json")};
      cfg << json::serialize(json::object{{"mcp_tools", tools}});
    }
    std::vector<std::string> args{
      "node",          "--data",      dir.sub("data"), "--http",   "127.0.0.1:0",
      "--no-progress", "--log-level", "error",         "--config", dir.sub("config.json")};
    args.insert(args.end(), extra.begin(), extra.end());
    proc = std::make_unique<test::node_process>(args);
    REQUIRE(proc->wait_for_output("cairn node ready"));
    port = test::port_from_banner(proc->output());
  }

  json::value get(const std::string& target) {
    auto r = test::http_call(port, "GET", target);
    INFO(target << ": " << r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }

  json::value wait_state(const std::string& id, const std::string& state) {
    json::value p;
    bool ok = test::eventually([&] {
      p = get("/api/v1/plans/" + id);
      return str(p, "state") == state;
    });
    INFO(json::serialize(p));
    REQUIRE(ok);
    return p;
  }
};

json::object exec_tool(const std::string& name, const std::string& script,
                       json::object extra = {}) {
  json::object t{{"name", name},
                 {"description", "a step of a plan test"},
                 {"type", "exec"},
                 {"command", json::array{"/bin/sh", "-c", script}},
                 {"input_schema", json::object{{"type", "object"}}}};
  for (auto& [k, v] : extra)
    t[k] = v;
  return t;
}

} // namespace

TEST_CASE("a compensation that fails for good is a dead letter, redriven, the plan ends "
          "compensated",
          "[plan]") {
  test::temp_dir gate_dir;
  auto gate = gate_dir.sub("gate");
  // `undo` dies by a signal (a failure to retry) until the gate exists.
  json::array tools{exec_tool("work", "/bin/cat >/dev/null; echo '{}'",
                              {{"compensation", json::object{{"tool", "undo"}}}}),
                    exec_tool("fail", "/bin/cat >/dev/null; exit 4"),
                    exec_tool("undo",
                              "/bin/cat >/dev/null; [ -e " + gate + " ] || kill -9 $$; echo '{}'",
                              {{"max_attempts", 1}})};
  exec_node n{tools};
  json::object plan{
    {"steps", json::array{json::object{{"id", "w"}, {"tool", "work"}},
                          json::object{{"id", "f"}, {"tool", "fail"}, {"after", {"w"}}}}}};
  auto r = test::http_call(n.port, "POST", "/api/v1/plans", json::serialize(plan));
  INFO(r.body);
  REQUIRE((r.status == 201 || r.status == 202));
  auto id = str(json::parse(r.body), "id");
  auto p = n.wait_state(id, "compensation_failed");
  CHECK(str(p.at("steps").at("w"), "state") == "compensation_failed");
  // The undo's call is a dead letter, with the plan's key in its call.
  auto dl = n.get("/api/v1/dead-letters");
  INFO(json::serialize(dl));
  REQUIRE(dl.at("dead_letters").as_array().size() == 1);
  auto letter = dl.at("dead_letters").as_array()[0];
  CHECK(str(letter, "to").rfind("tool.undo/", 0) == 0);
  // Fixed outside, redriven: the undo runs again and the plan ends compensated.
  std::ofstream{gate} << "open";
  auto redrive =
    test::http_call(n.port, "POST", "/api/v1/dead-letters/" + str(letter, "id") + "/redrive");
  INFO(redrive.body);
  CHECK(redrive.status < 300);
  p = n.wait_state(id, "compensated");
  CHECK(str(p.at("steps").at("w"), "state") == "compensated");
}

TEST_CASE("cancelling a plan kills its running exec step and undoes what completed", "[plan]") {
  test::temp_dir work;
  auto pidfile = work.sub("pid");
  json::array tools{exec_tool("work", "/bin/cat >/dev/null; echo '{}'",
                              {{"compensation", json::object{{"tool", "undo"}}}}),
                    exec_tool("undo", "/bin/cat >/dev/null; echo '{}'"),
                    // Writes its pid, then waits far longer than the test.
                    exec_tool("slow",
                              "/bin/cat >/dev/null; echo $$ > " + pidfile + "; exec /bin/sleep 300",
                              {{"timeout_ms", 600000}})};
  exec_node n{tools};
  json::object plan{
    {"steps", json::array{json::object{{"id", "w"}, {"tool", "work"}},
                          json::object{{"id", "s"}, {"tool", "slow"}, {"after", {"w"}}}}}};
  auto r = test::http_call(n.port, "POST", "/api/v1/plans", json::serialize(plan));
  REQUIRE((r.status == 201 || r.status == 202));
  auto id = str(json::parse(r.body), "id");
  int pid = 0;
  REQUIRE(test::eventually([&] {
    std::ifstream in{pidfile};
    return static_cast<bool>(in >> pid) && pid > 0;
  }));
  REQUIRE(kill(pid, 0) == 0); // the step's process runs
  auto c = test::http_call(n.port, "POST", "/api/v1/plans/" + id + "/cancel");
  INFO(c.body);
  CHECK(c.status == 202);
  auto p = n.wait_state(id, "cancelled");
  INFO(json::serialize(p));
  CHECK(str(p.at("steps").at("s"), "state") != "succeeded");
  CHECK(str(p.at("steps").at("w"), "state") == "compensated");
  // The process group of the step was killed.
  CHECK(test::eventually([&] { return kill(pid, 0) != 0; }));
}

TEST_CASE("plans follow the token model: write submits, approve decides, admin does not, MCP "
          "tokens bound the tools",
          "[plan]") {
  exec_node n{json::array{},
              {"--token", "w-secret:write", "--token", "a-secret:approve", "--token",
               "adm-secret:admin", "--policies", big_charges, "--mcp-token",
               "m-secret:submit_plan,reserve_stock"}};
  auto call = [&](const std::string& token, const std::string& method, const std::string& target,
                  const std::string& body = {}) {
    return test::http_call(n.port, method, target, body,
                           {"Content-Type: application/json", "Authorization: Bearer " + token});
  };
  auto r =
    call("w-secret", "POST", "/api/v1/plans", json::serialize(delivery("t1", 60000, "north")));
  INFO(r.body);
  REQUIRE(r.status == 202);
  auto id = str(json::parse(r.body), "id");
  CHECK(str(json::parse(r.body), "caller").rfind("token-", 0) == 0);
  json::value a;
  REQUIRE(test::eventually([&] {
    auto g = call("w-secret", "GET", "/api/v1/approvals/" + id + "%2Fcharge");
    if (g.status != 200)
      return false;
    a = json::parse(g.body);
    return str(a, "state") == "pending";
  }));
  auto decision = json::serialize(
    json::object{{"decision", "approve"}, {"arguments_sha256", str(a, "arguments_sha256")}});
  CHECK(call("w-secret", "POST", "/api/v1/approvals/" + id + "%2Fcharge", decision).status == 403);
  CHECK(call("adm-secret", "POST", "/api/v1/approvals/" + id + "%2Fcharge", decision).status
        == 403);
  CHECK(
    call("a-secret", "POST", "/api/v1/plans", json::serialize(delivery("t2", 1, "north"))).status
    == 403);
  CHECK(call("a-secret", "POST", "/api/v1/approvals/" + id + "%2Fcharge", decision).status == 202);
  json::value p;
  REQUIRE(test::eventually([&] {
    p = json::parse(call("a-secret", "GET", "/api/v1/plans/" + id).body);
    return str(p, "state") == "succeeded";
  }));
  auto by = str(p.at("steps").at("charge").at("approval"), "decided_by");
  CHECK(by.rfind("token-", 0) == 0);
  CHECK(by != str(p, "caller")); // the approver's token, not the submitter's
  CHECK(by.find("a-secret") == std::string::npos);

  // Over MCP, a plan may use only the tools of its token.
  json::object req{
    {"jsonrpc", "2.0"},
    {"id", 1},
    {"method", "tools/call"},
    {"params",
     json::object{
       {"name", "submit_plan"},
       {"arguments", json::object{{"plan", delivery("t3", 100, "north")}}},
       {"_meta", json::object{{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                              {"io.modelcontextprotocol/clientInfo",
                               json::object{{"name", "t"}, {"version", "1"}}},
                              {"io.modelcontextprotocol/clientCapabilities", json::object{}}}}}}};
  auto m = test::http_call(n.port, "POST", "/mcp", json::serialize(req),
                           {"Content-Type: application/json",
                            "Accept: application/json, text/event-stream",
                            "MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call",
                            "Mcp-Name: submit_plan", "Authorization: Bearer m-secret"});
  INFO(m.body);
  CHECK(m.body.find("out_of_scope") != std::string::npos);
  CHECK(m.body.find("charge_payment") != std::string::npos);
  CHECK(m.body.find("\"isError\":true") != std::string::npos);
}

TEST_CASE("a plan still running at its deadline stops and undoes what it did", "[plan]") {
  plan_node n{big_charges};
  // Three seconds from now, as RFC 3339.
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()
                                                + std::chrono::seconds{3});
  std::tm tm{};
  gmtime_r(&t, &tm);
  char deadline[32];
  std::strftime(deadline, sizeof deadline, "%Y-%m-%dT%H:%M:%SZ", &tm);
  auto plan = delivery("o15", 80000, "north");
  plan.as_object()["deadline"] = deadline;
  auto [status, body] = n.submit(plan);
  INFO(json::serialize(body));
  REQUIRE(status == 202);
  auto id = str(body, "id");
  // Nobody approves the charge: the deadline ends the plan.
  auto p = n.wait_plan(id);
  INFO(json::serialize(p));
  CHECK(str(p, "state") == "compensated");
  CHECK(str(p, "cause") == "the plan's deadline passed");
  CHECK(n.step_state(p, "charge") == "skipped");
  CHECK(n.step_state(p, "reserve") == "compensated");
  CHECK(n.ops("stock", "release") == 1);
}
