// SPDX-License-Identifier: Apache-2.0
// Plans against a real `cairn node` over HTTP (docs/orchestration.md): a
// plan runs with its references resolved, is one trace, is rejected whole
// with nothing run, is compensated in reverse order exactly once, and is
// the same plan for the same idempotency key. The demo's tools record each
// effect in a durable ledger (`ledger/<domain>`), which is what these tests
// count; an `exec` tool that leaves a marker file proves when nothing ran.
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
#include "plan_node.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
using namespace cairn::test::plans;
namespace json = boost::json;

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
