// SPDX-License-Identifier: Apache-2.0
// Policy rules as data: parsing refuses anything doubtful with the rule and field named, and
// deciding applies the first matching rule or the default for the step's risk.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "cairn/workflow/plan.hpp"
#include "cairn/workflow/plan_validation.hpp"
#include "cairn/workflow/policy.hpp"
#include "cairn/workflow/tool_catalog.hpp"

using namespace cairn::workflow;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

policy_set parse_ok(const char* text) {
  auto r = parse_policies(json::parse(text));
  INFO([&] {
    std::string all;
    for (const auto& e : r.errors)
      all += e + "\n";
    return all;
  }());
  REQUIRE(r.ok());
  return r.value;
}

std::vector<std::string> parse_errors(const char* text) {
  auto r = parse_policies(json::parse(text));
  CHECK(r.value.rules().empty());
  return r.errors;
}

json::object args(const char* text) {
  return json::parse(text).as_object();
}

// The example of docs/orchestration.md, "Policy".
const char* doc_example = R"([
  {"name": "big-charges", "tools": ["charge_*"], "callers": ["agent-*"],
   "when": {"type": "object", "properties": {"amount_cents": {"minimum": 50000}},
            "required": ["amount_cents"]},
   "verdict": "approve", "approver": "operator", "expires": "PT24H", "risk": "high",
   "reason": "charges of 500 or more need an operator"},
  {"name": "no-deletes", "tools": ["delete_*"], "verdict": "deny", "reason": "never from a plan"}
])";

} // namespace

TEST_CASE("the documented example parses into two rules with their fields", "[policy]") {
  auto set = parse_ok(doc_example);
  REQUIRE(set.rules().size() == 2);
  const auto& big = set.rules()[0];
  CHECK(big.name == "big-charges");
  CHECK(big.tools == std::vector<std::string>{"charge_*"});
  CHECK(big.callers == std::vector<std::string>{"agent-*"});
  CHECK(big.when.has_value());
  CHECK(big.v == verdict::approve);
  CHECK(big.approver == "operator");
  CHECK(big.expires == 24h);
  CHECK(big.risk == risk_level::high);
  const auto& del = set.rules()[1];
  CHECK(del.tools == std::vector<std::string>{"delete_*"});
  CHECK(del.callers == std::vector<std::string>{"*"});
  CHECK(del.v == verdict::deny);
  CHECK(del.approver.empty());
  CHECK(del.expires == 0s);
  CHECK_FALSE(del.risk.has_value());
}

TEST_CASE("a when schema with minimum matches large amounts only", "[policy]") {
  auto set = parse_ok(doc_example);
  auto big =
    set.decide("charge_payment", "agent-7", args(R"({"amount_cents": 50000})"), risk_level::medium);
  CHECK(big.v == verdict::approve);
  CHECK(big.rule == "big-charges");
  CHECK(big.source == "rule:big-charges");
  CHECK(big.reason == "charges of 500 or more need an operator");
  CHECK(big.approver == "operator");
  CHECK(big.expires == 24h);
  CHECK(big.risk == risk_level::high); // raised from medium by the rule
  auto small =
    set.decide("charge_payment", "agent-7", args(R"({"amount_cents": 4990})"), risk_level::medium);
  CHECK(small.v == verdict::allow);
  CHECK(small.rule.empty());
  CHECK(small.source == "default:medium");
  CHECK(small.risk == risk_level::medium);
  // `required` in the schema: no amount at all does not match either.
  CHECK(set.decide("charge_payment", "agent-7", {}, risk_level::medium).rule.empty());
}

TEST_CASE("tool and caller globs must both match", "[policy]") {
  auto set = parse_ok(doc_example);
  auto a = args(R"({"amount_cents": 90000})");
  CHECK(set.decide("charge_payment", "agent-1", a, risk_level::low).rule == "big-charges");
  CHECK(set.decide("refund_payment", "agent-1", a, risk_level::low).rule.empty());
  CHECK(set.decide("charge_payment", "ops-1", a, risk_level::low).rule.empty());
  CHECK(set.decide("xcharge_payment", "agent-1", a, risk_level::low).rule.empty());
  auto del = set.decide("delete_orders", "anyone", {}, risk_level::low);
  CHECK(del.v == verdict::deny);
  CHECK(del.rule == "no-deletes");
  CHECK(del.reason == "never from a plan");
  CHECK(del.approver.empty());
}

TEST_CASE("the first matching rule wins, in document order", "[policy]") {
  auto set = parse_ok(R"([
    {"name": "ops-may-delete", "tools": ["delete_*"], "callers": ["ops-*"], "verdict": "allow"},
    {"name": "no-deletes", "tools": ["delete_*"], "verdict": "deny"},
    {"name": "never-reached", "tools": ["delete_orders"], "verdict": "approve"}
  ])");
  CHECK(set.decide("delete_orders", "ops-1", {}, risk_level::high).rule == "ops-may-delete");
  CHECK(set.decide("delete_orders", "ops-1", {}, risk_level::high).v == verdict::allow);
  CHECK(set.decide("delete_orders", "agent-1", {}, risk_level::high).rule == "no-deletes");
  CHECK(set.decide("delete_orders", "agent-1", {}, risk_level::high).v == verdict::deny);
}

TEST_CASE("with no matching rule the default for the tool's risk applies", "[policy]") {
  policy_set none;
  auto low = none.decide("t", "c", {}, risk_level::low);
  CHECK(low.v == verdict::allow);
  CHECK(low.source == "default:low");
  CHECK(low.approver.empty());
  CHECK(low.expires == 0s);
  CHECK(none.decide("t", "c", {}, risk_level::medium).v == verdict::allow);
  auto high = none.decide("t", "c", {}, risk_level::high);
  CHECK(high.v == verdict::approve);
  CHECK(high.rule.empty());
  CHECK(high.source == "default:high");
  CHECK(high.approver == "operator");
  CHECK(high.expires == 24h);
  CHECK(high.risk == risk_level::high);
}

TEST_CASE("a rule's risk raises the step's risk but never lowers it", "[policy]") {
  auto set = parse_ok(R"([
    {"name": "raise", "tools": ["a"], "verdict": "allow", "risk": "high"},
    {"name": "lower", "tools": ["b"], "verdict": "allow", "risk": "low"}
  ])");
  CHECK(set.decide("a", "c", {}, risk_level::low).risk == risk_level::high);
  CHECK(set.decide("b", "c", {}, risk_level::high).risk == risk_level::high);
  CHECK(set.decide("b", "c", {}, risk_level::medium).risk == risk_level::medium);
}

TEST_CASE("the object form sets rules and per-risk defaults", "[policy]") {
  auto set = parse_ok(R"({"rules": [{"name": "r", "tools": ["x"], "verdict": "deny"}],
                          "defaults": {"low": "allow", "medium": "approve", "high": "deny"}})");
  REQUIRE(set.rules().size() == 1);
  CHECK(set.decide("x", "c", {}, risk_level::low).v == verdict::deny);
  CHECK(set.decide("y", "c", {}, risk_level::low).v == verdict::allow);
  auto medium = set.decide("y", "c", {}, risk_level::medium);
  CHECK(medium.v == verdict::approve);
  CHECK(medium.approver == "operator");
  CHECK(medium.expires == 24h);
  CHECK(set.decide("y", "c", {}, risk_level::high).v == verdict::deny);
  // Defaults not named keep theirs.
  auto partial = parse_ok(R"({"defaults": {"low": "deny"}})");
  CHECK(partial.rules().empty());
  CHECK(partial.defaults().low == verdict::deny);
  CHECK(partial.defaults().medium == verdict::allow);
  CHECK(partial.defaults().high == verdict::approve);
}

TEST_CASE("approve rules take approver and expires, with operator and PT24H by default",
          "[policy]") {
  auto set = parse_ok(R"([
    {"name": "a", "verdict": "approve"},
    {"name": "b", "verdict": "approve", "approver": "client", "expires": "P1DT12H"}
  ])");
  CHECK(set.rules()[0].approver == "operator");
  CHECK(set.rules()[0].expires == 24h);
  CHECK(set.rules()[1].approver == "client");
  CHECK(set.rules()[1].expires == 36h);
}

TEST_CASE("ISO 8601 durations of days, hours, minutes and seconds parse", "[policy]") {
  CHECK(parse_iso8601_duration("PT24H") == std::chrono::seconds(24h));
  CHECK(parse_iso8601_duration("PT30M") == std::chrono::seconds(30min));
  CHECK(parse_iso8601_duration("PT90S") == 90s);
  CHECK(parse_iso8601_duration("P2D") == std::chrono::seconds(48h));
  CHECK(parse_iso8601_duration("P1DT12H") == std::chrono::seconds(36h));
  CHECK(parse_iso8601_duration("P1DT1H1M1S") == 90061s);
  for (const char* bad :
       {"", "P", "PT", "24H", "P1H", "PT1D", "P1DT", "PT1H1H", "PT1M1H", "PT-1H", "PT1.5H", "PT1HX",
        "P1W", "PT1234567890S", "PT99999999999999999999999S", "pt1h"}) {
    INFO(bad);
    CHECK_FALSE(parse_iso8601_duration(bad).has_value());
  }
}

TEST_CASE("parse errors name the rule, the field and what is wrong", "[policy]") {
  CHECK(parse_errors(R"([{"name": "r", "verdict": "allow", "tool": ["x"]}])")
        == std::vector<std::string>{
          "policies[0].tool (rule r): unknown key (expected name, tools, callers, when, verdict, "
          "reason, approver, expires or risk)"});
  CHECK(
    parse_errors(R"([{"name": "ok", "verdict": "allow"},
                         {"name": "r", "verdict": "maybe"}])")
    == std::vector<std::string>{"policies[1].verdict (rule r): must be allow, approve or deny"});
  CHECK(parse_errors(R"([{"name": "r", "verdict": "approve", "expires": "24 hours"}])")
        == std::vector<std::string>{"policies[0].expires (rule r): must be a positive ISO 8601 "
                                    "duration such as PT24H, PT30M, P2D or P1DT12H"});
  CHECK(parse_errors(R"([{"name": "r", "verdict": "allow"}, {"name": "s", "verdict": "deny"},
                         {"name": "r", "verdict": "deny"}])")
        == std::vector<std::string>{"policies[2].name (rule r): duplicate of policies[0]"});
  auto schema_errors = parse_errors(R"([{"name": "r", "verdict": "deny", "when": {"type": 5}}])");
  REQUIRE(schema_errors.size() == 1);
  CHECK(schema_errors[0].rfind("policies[0].when (rule r): invalid JSON Schema: #/type", 0) == 0);
}

TEST_CASE("every other malformed field is refused", "[policy]") {
  auto one = [](const char* text) {
    auto e = parse_errors(text);
    REQUIRE(e.size() == 1);
    return e[0];
  };
  CHECK(one(R"([{"verdict": "allow"}])") == "policies[0].name: is required");
  CHECK(one(R"([{"name": "r"}])") == "policies[0].verdict (rule r): is required");
  CHECK(one(R"([{"name": "bad name", "verdict": "allow"}])")
        == "policies[0].name: must be a string of 1 to 64 characters from A-Z a-z 0-9 _ . -");
  CHECK(one(R"([{"name": "r", "verdict": "allow", "tools": []}])")
        == "policies[0].tools (rule r): must be a non-empty array of non-empty glob strings");
  CHECK(one(R"([{"name": "r", "verdict": "allow", "callers": ["a", 1]}])")
        == "policies[0].callers (rule r): must be a non-empty array of non-empty glob strings");
  CHECK(one(R"([{"name": "r", "verdict": "allow", "when": "amount > 5"}])")
        == "policies[0].when (rule r): must be a JSON Schema object");
  CHECK(one(R"([{"name": "r", "verdict": "approve", "approver": "boss"}])")
        == "policies[0].approver (rule r): must be operator or client");
  CHECK(one(R"([{"name": "r", "verdict": "allow", "approver": "client"}])")
        == "policies[0].approver (rule r): only applies to a rule whose verdict is approve");
  CHECK(one(R"([{"name": "r", "verdict": "deny", "expires": "PT1H"}])")
        == "policies[0].expires (rule r): only applies to a rule whose verdict is approve");
  CHECK(one(R"([{"name": "r", "verdict": "approve", "expires": "PT0S"}])").find("positive")
        != std::string::npos);
  // A bad verdict is one problem, not also a complaint that approver needs approve.
  CHECK(one(R"([{"name": "r", "verdict": "Approve", "approver": "client"}])")
        == "policies[0].verdict (rule r): must be allow, approve or deny");
  CHECK(one(R"([{"name": "r", "verdict": "allow", "risk": "extreme"}])")
        == "policies[0].risk (rule r): must be low, medium or high");
  CHECK(one(R"([{"name": "r", "verdict": "allow", "reason": 3}])")
        == "policies[0].reason (rule r): must be a string");
  CHECK(one(R"(["r"])") == "policies[0]: must be an object");
  CHECK(one(R"("allow everything")")
        == "policies: must be an array of rules or an object with rules and defaults");
  CHECK(one(R"({"rules": [], "default": {}})")
        == "policies.default: unknown key (expected rules or defaults)");
  CHECK(one(R"({"rules": [{"name": "r"}]})") == "policies.rules[0].verdict (rule r): is required");
  CHECK(one(R"({"defaults": {"high": "ask"}})")
        == "policies.defaults.high: must be allow, approve or deny");
  CHECK(one(R"({"defaults": {"critical": "deny"}})")
        == "policies.defaults.critical: unknown key (expected low, medium or high)");
}

TEST_CASE("every problem is reported, and a set with problems has no rules", "[policy]") {
  auto r = parse_policies(json::parse(R"([
    {"name": "a", "verdict": "allow", "tools": "x"},
    {"name": "b", "verdict": "nope", "risk": "huge"}
  ])"));
  CHECK(r.errors.size() == 3);
  CHECK_FALSE(r.ok());
  CHECK(r.value.rules().empty());
}

TEST_CASE("the risk seam raises a step's risk in plan validation", "[policy]") {
  auto set = parse_ok(doc_example);
  tool_catalog catalog;
  catalog.tools["charge_payment"] = {args(R"({"type": "object"})"), std::nullopt,
                                     risk_level::medium, 1, true};
  auto plan_doc = json::parse(R"({"steps": [
    {"id": "big", "tool": "charge_payment", "arguments": {"amount_cents": 60000}},
    {"id": "small", "tool": "charge_payment", "arguments": {"amount_cents": 100}}]})");
  validation_options opts;
  opts.argument_risk = risk_seam(set, "agent-3");
  auto report = validate_plan(plan_doc, catalog, opts);
  INFO(report.to_string());
  REQUIRE(report.ok());
  REQUIRE(report.steps.size() == 2);
  CHECK(report.steps[0].risk == risk_level::high);
  CHECK(report.steps[1].risk == risk_level::medium);
  CHECK(report.risk == risk_level::high);
  // Another caller: the rule's caller glob does not match, nothing is raised.
  opts.argument_risk = risk_seam(set, "ops-1");
  CHECK(validate_plan(plan_doc, catalog, opts).steps[0].risk == risk_level::medium);
  // An amount not known until a step has run: `when` sees the reference object, which
  // `minimum` does not constrain, so the seam errs towards the higher risk.
  catalog.tools["quote_price"] = {args(R"({"type": "object"})"), std::nullopt, risk_level::low, 1,
                                  true};
  auto later = json::parse(R"({"steps": [
    {"id": "quote", "tool": "quote_price", "arguments": {}},
    {"id": "pay", "tool": "charge_payment", "after": ["quote"],
     "arguments": {"amount_cents": {"$from": "quote", "pointer": "/amount_cents"}}}]})");
  opts.argument_risk = risk_seam(set, "agent-3");
  auto later_report = validate_plan(later, catalog, opts);
  INFO(later_report.to_string());
  REQUIRE(later_report.ok());
  CHECK(later_report.steps[1].risk == risk_level::high);
}

TEST_CASE("verdicts have stable names", "[policy]") {
  CHECK(std::string(to_string(verdict::allow)) == "allow");
  CHECK(std::string(to_string(verdict::approve)) == "approve");
  CHECK(std::string(to_string(verdict::deny)) == "deny");
}
