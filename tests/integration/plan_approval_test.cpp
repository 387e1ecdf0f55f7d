// SPDX-License-Identifier: Apache-2.0
// Plans that wait for people, against a real `cairn node` over HTTP
// (docs/orchestration.md): approvals bound to the hash of the arguments that
// will run, decided in another trace, denied or expired (then what ran is
// compensated); policy rules that deny a plan before anything runs, and
// policies reloaded while a plan waits; cancelling a waiting plan.
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
