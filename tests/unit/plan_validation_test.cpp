// SPDX-License-Identifier: Apache-2.0
// Whole-plan validation: a plan is checked before anything runs, and a rejected plan gets every
// problem at once (step id, JSON path, code), not just the first.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include <boost/json.hpp>

#include "cairn/workflow/plan.hpp"
#include "cairn/workflow/plan_validation.hpp"
#include "cairn/workflow/tool_catalog.hpp"

using namespace cairn::workflow;
namespace json = boost::json;

namespace {

json::object schema(const char* text) {
  return json::parse(text).as_object();
}

// The delivery tools, as the plan actor will see them in the MCP registry.
tool_catalog delivery_catalog() {
  tool_catalog c;
  c.tools["check_inventory"] = {
    schema(R"({"type": "object", "required": ["sku", "qty"], "additionalProperties": false,
               "properties": {"sku": {"type": "string"},
                              "qty": {"type": "integer", "minimum": 1}}})"),
    schema(R"({"type": "object", "properties": {"in_stock": {"type": "boolean"},
                                                 "available": {"type": "integer"}}})"),
    risk_level::low, 1, true};
  c.tools["reserve_stock"] = {schema(R"({"type": "object", "required": ["sku", "qty"],
               "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}}})"),
                              schema(R"({"type": "object", "additionalProperties": false,
               "properties": {"reservation_id": {"type": "string"},
                              "lines": {"type": "array", "items": {"$ref": "#/$defs/line"}}},
               "$defs": {"line": {"type": "object",
                                  "properties": {"sku": {"type": "string"},
                                                 "qty": {"type": "integer"}}}}})"),
                              risk_level::medium, 2, true};
  c.tools["charge_payment"] = {
    schema(R"({"type": "object", "required": ["order", "amount_cents", "reservation"],
               "properties": {"order": {"type": "string"},
                              "amount_cents": {"type": "integer", "minimum": 1},
                              "reservation": {"type": "string"}}})"),
    schema(R"({"type": "object", "properties": {"payment_id": {"type": "string"}}})"),
    risk_level::high, 5, true};
  c.tools["dispatch_driver"] = {
    schema(R"({"type": "object", "required": ["order", "reservation"],
               "properties": {"order": {"type": "string"}, "reservation": {"type": "string"}}})"),
    schema(R"({"type": "object", "properties": {"dispatch_id": {"type": "string"},
                                                 "eta_minutes": {"type": "integer"}}})"),
    risk_level::medium, 3, true};
  c.tools["notify_customer"] = {schema(R"({"type": "object", "required": ["order", "message"],
               "properties": {"order": {"type": "string"}, "message": {"type": "string"},
                              "eta_minutes": {"type": "number"}}})"),
                                std::nullopt, risk_level::low, 1, true};
  c.tools["delete_orders"] = {schema(R"({"type": "object"})"), std::nullopt, risk_level::high, 1,
                              true};
  // The caller's token: every delivery tool, nothing else.
  c.restrict_to(scope_from_globs({"check_*", "reserve_*", "charge_*", "dispatch_*", "notify_*"}));
  return c;
}

validation_options at_1900() {
  validation_options o;
  o.now = *parse_rfc3339("2026-12-01T19:00:00Z");
  return o;
}

// check -> reserve -> {charge, dispatch} -> notify.
const char* diamond = R"({
  "idempotency_key": "order-42",
  "deadline": "2026-12-01T21:00:00Z",
  "budget": {"cost_units": 20},
  "steps": [
    {"id": "check", "tool": "check_inventory", "arguments": {"sku": "A-1", "qty": 2}},
    {"id": "reserve", "tool": "reserve_stock", "arguments": {"sku": "A-1", "qty": 2},
     "after": ["check"]},
    {"id": "charge", "tool": "charge_payment", "after": ["reserve"],
     "arguments": {"order": "42", "amount_cents": 4990,
                   "reservation": {"$from": "reserve", "pointer": "/reservation_id"}}},
    {"id": "dispatch", "tool": "dispatch_driver", "after": ["reserve"],
     "arguments": {"order": "42",
                   "reservation": {"$from": "reserve", "pointer": "/reservation_id"}}},
    {"id": "notify", "tool": "notify_customer", "after": ["charge", "dispatch"],
     "arguments": {"order": "42", "message": "on its way",
                   "eta_minutes": {"$from": "dispatch", "pointer": "/eta_minutes"}}}
  ]})";

json::value diamond_with(const std::function<void(json::object&)>& edit) {
  auto v = json::parse(diamond);
  edit(v.as_object());
  return v;
}

json::object& step(json::object& plan, std::size_t i) {
  return plan["steps"].as_array()[i].as_object();
}

const plan_problem* find(const plan_report& r, const std::string& code, const std::string& path) {
  for (const auto& p : r.problems)
    if (p.code == code && p.path == path)
      return &p;
  return nullptr;
}

} // namespace

TEST_CASE("a valid five-step diamond plan passes with its risk, cost, depth and width",
          "[plan][validation]") {
  auto r = validate_plan(json::parse(diamond), delivery_catalog(), at_1900());
  INFO(r.to_string());
  CHECK(r.ok());
  CHECK(r.risk == risk_level::high);
  CHECK(r.cost == 12);
  CHECK(r.depth == 4);
  CHECK(r.width == 2);
  REQUIRE(r.steps.size() == 5);
  CHECK(r.steps[0].risk == risk_level::low);
  CHECK(r.steps[1].risk == risk_level::medium);
  CHECK(r.steps[2].risk == risk_level::high);
  CHECK(r.steps[3].risk == risk_level::medium);
  CHECK(r.steps[4].risk == risk_level::low);
  CHECK(r.parsed.idempotency_key == "order-42");
  CHECK(r.parsed.budget_cost_units == 20u);
  REQUIRE(r.parsed.steps[2].references.size() == 1);
  CHECK(r.parsed.steps[2].references[0].from == "reserve");
  CHECK(r.parsed.steps[2].references[0].pointer == "/reservation_id");
}

TEST_CASE("the plan's risk is the highest step risk, raised by the argument risk seam",
          "[plan][risk]") {
  auto catalog = delivery_catalog();
  catalog.tools["charge_payment"].risk = risk_level::low;
  auto options = at_1900();
  auto r = validate_plan(json::parse(diamond), catalog, options);
  CHECK(r.ok());
  CHECK(r.risk == risk_level::medium);
  options.argument_risk = [](const plan_step& s) -> std::optional<risk_level> {
    if (s.tool == "charge_payment" && s.arguments.at("amount_cents").as_int64() > 1000)
      return risk_level::high;
    if (s.tool == "reserve_stock")
      return risk_level::low; // never lowers the declared medium
    return std::nullopt;
  };
  r = validate_plan(json::parse(diamond), catalog, options);
  CHECK(r.ok());
  CHECK(r.risk == risk_level::high);
  CHECK(r.steps[2].risk == risk_level::high);
  CHECK(r.steps[1].risk == risk_level::medium);
}

TEST_CASE("a bad argument in the fourth step is reported with its step id and JSON path",
          "[plan][validation][arguments]") {
  auto doc =
    diamond_with([](json::object& p) { step(p, 3)["arguments"].as_object()["order"] = 42; });
  auto r = validate_plan(doc, delivery_catalog(), at_1900());
  INFO(r.to_string());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].step == "dispatch");
  CHECK(r.problems[0].path == "$.steps[3].arguments.order");
  CHECK(r.problems[0].code == "invalid_arguments");
  CHECK(r.problems[0].message == "expected string (schema #/properties/order/type)");
}

TEST_CASE("a missing required argument and a reference under a wrong type are told apart",
          "[plan][validation][arguments]") {
  auto doc = diamond_with([](json::object& p) {
    step(p, 2)["arguments"].as_object().erase("order");
    step(p, 2)["arguments"].as_object()["amount_cents"] = 0;
  });
  auto r = validate_plan(doc, delivery_catalog(), at_1900());
  INFO(r.to_string());
  CHECK(r.problems.size() == 2);
  const auto* missing = find(r, "invalid_arguments", "$.steps[2].arguments.order");
  REQUIRE(missing);
  CHECK(missing->message == "required property is missing (schema #/required)");
  CHECK(find(r, "invalid_arguments", "$.steps[2].arguments.amount_cents"));
  // The reference object in place of the string `reservation` is not an argument error.
  CHECK_FALSE(find(r, "invalid_arguments", "$.steps[2].arguments.reservation"));
}

TEST_CASE("a cycle is rejected and named", "[plan][validation][graph]") {
  auto doc = json::parse(R"({"steps": [
    {"id": "a", "tool": "check_inventory", "arguments": {"sku": "x", "qty": 1}, "after": ["c"]},
    {"id": "b", "tool": "check_inventory", "arguments": {"sku": "x", "qty": 1}, "after": ["a"]},
    {"id": "c", "tool": "check_inventory", "arguments": {"sku": "x", "qty": 1}, "after": ["b"]},
    {"id": "d", "tool": "check_inventory", "arguments": {"sku": "x", "qty": 1}, "after": ["c"]}
  ]})");
  auto r = validate_plan(doc, delivery_catalog(), at_1900());
  INFO(r.to_string());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code == "cycle");
  CHECK(r.problems[0].message == "cycle: b -> c -> a -> b");
  CHECK(r.problems[0].step == "b");
  CHECK(r.problems[0].path == "$.steps[1].after");
  CHECK(r.depth == 0);
}

TEST_CASE("a step that waits for itself is a cycle", "[plan][validation][graph]") {
  auto doc = diamond_with([](json::object& p) { step(p, 0)["after"] = json::array{"check"}; });
  auto r = validate_plan(doc, delivery_catalog(), at_1900());
  INFO(r.to_string());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code == "cycle");
  CHECK(r.problems[0].path == "$.steps[0].after[0]");
}

TEST_CASE("duplicate ids, malformed ids and unknown after names are reported",
          "[plan][validation][graph]") {
  auto doc = diamond_with([](json::object& p) {
    step(p, 3)["id"] = "charge";
    step(p, 1)["after"] = json::array{"chek"};
    step(p, 0)["id"] = "check inventory";
  });
  auto r = validate_plan(doc, delivery_catalog(), at_1900());
  INFO(r.to_string());
  CHECK(find(r, "duplicate_id", "$.steps[3].id"));
  CHECK(find(r, "unknown_step", "$.steps[1].after[0]"));
  CHECK(find(r, "bad_id", "$.steps[0].id"));
}

TEST_CASE("an unknown tool is rejected", "[plan][validation][tools]") {
  auto doc = diamond_with([](json::object& p) { step(p, 4)["tool"] = "notify_customr"; });
  auto r = validate_plan(doc, delivery_catalog(), at_1900());
  INFO(r.to_string());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code == "unknown_tool");
  CHECK(r.problems[0].step == "notify");
  CHECK(r.problems[0].path == "$.steps[4].tool");
  CHECK(r.problems[0].message == "no tool named notify_customr");
}

TEST_CASE("a tool outside the caller's scope is rejected", "[plan][validation][tools]") {
  auto doc = diamond_with([](json::object& p) {
    p["steps"].as_array().push_back(
      json::parse(R"({"id": "purge", "tool": "delete_orders", "after": ["notify"]})"));
  });
  auto catalog = delivery_catalog();
  auto r = validate_plan(doc, catalog, at_1900());
  INFO(r.to_string());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code == "out_of_scope");
  CHECK(r.problems[0].step == "purge");
  CHECK(r.problems[0].path == "$.steps[5].tool");
  // The same plan for a caller whose token grants every tool.
  catalog.restrict_to(scope_from_globs({"*"}));
  CHECK(validate_plan(doc, catalog, at_1900()).ok());
}

TEST_CASE("a plan whose steps cost more than its budget is rejected",
          "[plan][validation][budget]") {
  auto doc =
    diamond_with([](json::object& p) { p["budget"] = json::parse(R"({"cost_units": 11})"); });
  auto r = validate_plan(doc, delivery_catalog(), at_1900());
  INFO(r.to_string());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code == "over_budget");
  CHECK(r.problems[0].path == "$.budget.cost_units");
  CHECK(r.problems[0].message == "the steps cost 12 units; the budget is 11");
  // Costs add up without wrapping around.
  auto catalog = delivery_catalog();
  catalog.tools["notify_customer"].cost = UINT64_MAX;
  r = validate_plan(json::parse(diamond), catalog, at_1900());
  CHECK(r.cost == UINT64_MAX);
  CHECK(find(r, "over_budget", "$.budget.cost_units"));
  // The node's own cap applies to a plan with a generous budget, or none.
  auto options = at_1900();
  options.bounds.max_cost_units = 10;
  r = validate_plan(json::parse(diamond), delivery_catalog(), options);
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code == "over_budget");
  CHECK(r.problems[0].path == "$.steps");
}

TEST_CASE("a reference to a later or unrelated step is rejected",
          "[plan][validation][references]") {
  // charge takes its reservation from notify, which runs after it.
  auto later = diamond_with([](json::object& p) {
    step(p, 2)["arguments"].as_object()["reservation"] =
      json::parse(R"({"$from": "notify", "pointer": "/id"})");
  });
  auto r = validate_plan(later, delivery_catalog(), at_1900());
  INFO(r.to_string());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code == "bad_reference");
  CHECK(r.problems[0].step == "charge");
  CHECK(r.problems[0].path == "$.steps[2].arguments.reservation");
  // dispatch and charge are siblings: neither's output exists for sure when the other runs.
  auto sibling = diamond_with([](json::object& p) {
    step(p, 3)["arguments"].as_object()["reservation"] =
      json::parse(R"({"$from": "charge", "pointer": "/payment_id"})");
  });
  r = validate_plan(sibling, delivery_catalog(), at_1900());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code == "bad_reference");
  CHECK(r.problems[0].step == "dispatch");
  // A reference to a step that does not exist.
  auto missing = diamond_with([](json::object& p) {
    step(p, 3)["arguments"].as_object()["reservation"] =
      json::parse(R"({"$from": "reserv", "pointer": "/reservation_id"})");
  });
  r = validate_plan(missing, delivery_catalog(), at_1900());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code == "bad_reference");
  CHECK(r.problems[0].message == "$from names reserv, which is not a step");
}

TEST_CASE("an indirect dependency may be referenced", "[plan][validation][references]") {
  // notify runs after charge, which runs after reserve: reserve's output exists.
  auto doc = diamond_with([](json::object& p) {
    step(p, 4)["arguments"].as_object()["message"] =
      json::parse(R"({"$from": "reserve", "pointer": "/reservation_id"})");
  });
  auto r = validate_plan(doc, delivery_catalog(), at_1900());
  INFO(r.to_string());
  CHECK(r.ok());
}

TEST_CASE("a malformed pointer or one that leads nowhere in the output schema is rejected",
          "[plan][validation][references]") {
  auto doc = diamond_with([](json::object& p) {
    step(p, 2)["arguments"].as_object()["reservation"] =
      json::parse(R"({"$from": "reserve", "pointer": "reservation_id"})");
    step(p, 3)["arguments"].as_object()["reservation"] =
      json::parse(R"({"$from": "reserve", "pointer": "/reservation~2id"})");
    step(p, 4)["arguments"].as_object()["message"] =
      json::parse(R"({"$from": "reserve", "pointer": "/reservation"})");
  });
  auto r = validate_plan(doc, delivery_catalog(), at_1900());
  INFO(r.to_string());
  CHECK(r.problems.size() == 3);
  CHECK(find(r, "bad_pointer", "$.steps[2].arguments.reservation.pointer"));
  CHECK(find(r, "bad_pointer", "$.steps[3].arguments.reservation.pointer"));
  const auto* nowhere = find(r, "bad_pointer", "$.steps[4].arguments.message.pointer");
  REQUIRE(nowhere);
  CHECK(nowhere->message == "the output of tool reserve_stock has nothing at /reservation");
}

TEST_CASE("an output value whose type the consuming input does not accept is rejected",
          "[plan][validation][references]") {
  // eta_minutes (integer) where notify_customer expects a string message.
  auto doc = diamond_with([](json::object& p) {
    step(p, 4)["arguments"].as_object()["message"] =
      json::parse(R"({"$from": "dispatch", "pointer": "/eta_minutes"})");
  });
  auto r = validate_plan(doc, delivery_catalog(), at_1900());
  INFO(r.to_string());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code == "type_mismatch");
  CHECK(r.problems[0].path == "$.steps[4].arguments.message");
  CHECK(r.problems[0].message
        == "step dispatch (tool dispatch_driver) gives integer at /eta_minutes; tool "
           "notify_customer expects string here");
  // Through an array index and a local $ref: /lines/0/qty is an integer, not a string.
  auto through_ref = diamond_with([](json::object& p) {
    step(p, 2)["arguments"].as_object()["reservation"] =
      json::parse(R"({"$from": "reserve", "pointer": "/lines/0/qty"})");
  });
  r = validate_plan(through_ref, delivery_catalog(), at_1900());
  INFO(r.to_string());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code == "type_mismatch");
  // /lines/0/sku is a string: accepted.
  auto sku = diamond_with([](json::object& p) {
    step(p, 2)["arguments"].as_object()["reservation"] =
      json::parse(R"({"$from": "reserve", "pointer": "/lines/0/sku"})");
  });
  CHECK(validate_plan(sku, delivery_catalog(), at_1900()).ok());
}

TEST_CASE("several problems in one plan are all reported", "[plan][validation]") {
  auto doc = diamond_with([](json::object& p) {
    p["budget"] = json::parse(R"({"cost_units": 3})");
    p["deadline"] = "2026-12-01T18:00:00Z";
    step(p, 0)["arguments"].as_object()["qty"] = "two";
    step(p, 1)["tool"] = "reserve";
    step(p, 3)["arguments"].as_object()["order"] = 42;
    step(p, 3)["arguments"].as_object()["reservation"] =
      json::parse(R"({"$from": "notify", "pointer": "/x"})");
    step(p, 4)["arguments"].as_object()["message"] =
      json::parse(R"({"$from": "dispatch", "pointer": "eta"})");
    step(p, 4)["retries"] = 3;
  });
  auto r = validate_plan(doc, delivery_catalog(), at_1900());
  INFO(r.to_string());
  CHECK(find(r, "invalid_arguments", "$.steps[0].arguments.qty"));
  CHECK(find(r, "unknown_tool", "$.steps[1].tool"));
  CHECK(find(r, "invalid_arguments", "$.steps[3].arguments.order"));
  CHECK(find(r, "bad_reference", "$.steps[3].arguments.reservation"));
  CHECK(find(r, "bad_pointer", "$.steps[4].arguments.message.pointer"));
  CHECK(find(r, "malformed", "$.steps[4].retries"));
  CHECK(find(r, "deadline", "$.deadline"));
  CHECK(find(r, "over_budget", "$.budget.cost_units"));
  CHECK(r.problems.size() == 8);
}

TEST_CASE("a plan with too many steps is rejected", "[plan][validation][bounds]") {
  auto options = at_1900();
  options.bounds.max_steps = 4;
  auto r = validate_plan(json::parse(diamond), delivery_catalog(), options);
  INFO(r.to_string());
  REQUIRE(r.problems.size() >= 1);
  CHECK(find(r, "too_many_steps", "$.steps"));
  CHECK(r.problems[0].message == "the plan has 5 steps; at most 4 are allowed");
  // The graph checks are skipped, so the diamond's good references are not reported either.
  CHECK(r.problems.size() == 1);
}

TEST_CASE("a plan wider than the bound is rejected and width counts steps that may overlap",
          "[plan][validation][bounds]") {
  auto options = at_1900();
  options.bounds.max_width = 1;
  auto r = validate_plan(json::parse(diamond), delivery_catalog(), options);
  INFO(r.to_string());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code == "too_wide");
  CHECK(r.problems[0].message == "2 steps could run at once; at most 1 are allowed");
  // a -> b -> c, a -> d, and e alone: levels hold at most 2 steps, but b, d and e (or c, d
  // and e) may all run at the same time.
  auto doc = json::parse(R"({"steps": [
    {"id": "a", "tool": "check_inventory", "arguments": {"sku": "x", "qty": 1}},
    {"id": "b", "tool": "check_inventory", "arguments": {"sku": "x", "qty": 1}, "after": ["a"]},
    {"id": "c", "tool": "check_inventory", "arguments": {"sku": "x", "qty": 1}, "after": ["b"]},
    {"id": "d", "tool": "check_inventory", "arguments": {"sku": "x", "qty": 1}, "after": ["a"]},
    {"id": "e", "tool": "check_inventory", "arguments": {"sku": "x", "qty": 1}}
  ]})");
  r = validate_plan(doc, delivery_catalog(), at_1900());
  CHECK(r.ok());
  CHECK(r.width == 3);
  CHECK(r.depth == 3);
}

TEST_CASE("a plan deeper than the bound is rejected", "[plan][validation][bounds]") {
  auto options = at_1900();
  options.bounds.max_depth = 3;
  auto r = validate_plan(json::parse(diamond), delivery_catalog(), options);
  INFO(r.to_string());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code == "too_deep");
  CHECK(r.problems[0].message == "the longest after chain has 4 steps; at most 3 are allowed");
}

TEST_CASE("a deadline in the past, too far ahead or malformed is rejected",
          "[plan][validation][bounds]") {
  auto past = diamond_with([](json::object& p) { p["deadline"] = "2026-12-01T18:59:59Z"; });
  auto r = validate_plan(past, delivery_catalog(), at_1900());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code == "deadline");
  CHECK(r.problems[0].message == "the deadline has already passed");
  auto far = diamond_with([](json::object& p) { p["deadline"] = "2026-12-09T19:00:00Z"; });
  r = validate_plan(far, delivery_catalog(), at_1900());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code == "deadline");
  // Beyond what the clock holds: still "too far", never wrapped into the past.
  auto year_9999 = diamond_with([](json::object& p) { p["deadline"] = "9999-12-31T23:59:59Z"; });
  r = validate_plan(year_9999, delivery_catalog(), at_1900());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code == "deadline");
  CHECK_THAT(r.problems[0].message, Catch::Contains("from now"));
  auto offset = diamond_with([](json::object& p) { p["deadline"] = "2026-12-01T20:30:00+01:00"; });
  CHECK(validate_plan(offset, delivery_catalog(), at_1900()).ok());
  auto bad = diamond_with([](json::object& p) { p["deadline"] = "tomorrow"; });
  r = validate_plan(bad, delivery_catalog(), at_1900());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].code == "deadline");
  CHECK(r.problems[0].path == "$.deadline");
}

TEST_CASE("a malformed plan document gets every shape problem with its path", "[plan][parse]") {
  auto r = parse_plan(json::parse(R"({"steps": [
    {"tool": "check_inventory"},
    {"id": "b", "tool": 7, "arguments": [], "after": "a"},
    {"id": "c", "tool": "t", "arguments": {"x": {"$from": "b"}}},
    5
  ], "budget": {"cost_units": -1}, "idempotency_key": "", "priority": 1})"));
  for (const auto& p : r.problems)
    INFO(p.to_string());
  auto has = [&](const char* path, const char* code) {
    return std::any_of(r.problems.begin(), r.problems.end(),
                       [&](const auto& p) { return p.path == path && p.code == code; });
  };
  CHECK(has("$.steps[0]", "malformed"));
  CHECK(has("$.steps[1].tool", "malformed"));
  CHECK(has("$.steps[1].arguments", "malformed"));
  CHECK(has("$.steps[1].after", "malformed"));
  CHECK(has("$.steps[2].arguments.x", "bad_reference"));
  CHECK(has("$.steps[3]", "malformed"));
  CHECK(has("$.budget.cost_units", "malformed"));
  CHECK(has("$.idempotency_key", "malformed"));
  CHECK(has("$.priority", "malformed"));
  CHECK(r.problems.size() == 9);
  CHECK_FALSE(parse_plan(json::parse("[]")).ok());
  CHECK_FALSE(parse_plan(json::parse(R"({"steps": []})")).ok());
}

TEST_CASE("RFC 6901 pointers and RFC 3339 times are parsed exactly", "[plan][parse]") {
  CHECK(parse_json_pointer("")->empty());
  CHECK(*parse_json_pointer("/a~1b/~0c/0") == std::vector<std::string>{"a/b", "~c", "0"});
  CHECK(*parse_json_pointer("/") == std::vector<std::string>{""});
  CHECK_FALSE(parse_json_pointer("a"));
  CHECK_FALSE(parse_json_pointer("/a~"));
  CHECK_FALSE(parse_json_pointer("/a~2"));
  using std::chrono::seconds;
  auto epoch = [](const char* t) {
    return std::chrono::duration_cast<seconds>(parse_rfc3339(t)->time_since_epoch()).count();
  };
  CHECK(epoch("1970-01-01T00:00:00Z") == 0);
  CHECK(epoch("2026-12-01T19:00:00Z") == 1796151600);
  CHECK(epoch("2026-12-01T20:00:00+01:00") == 1796151600);
  CHECK(epoch("2024-02-29T00:00:00.5Z") == 1709164800);
  CHECK_FALSE(parse_rfc3339("2025-02-29T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-12-01 19:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-12-01T19:00:00"));
}
