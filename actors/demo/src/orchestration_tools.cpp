// SPDX-License-Identifier: Apache-2.0
// The delivery demo as plan tools (docs/orchestration.md, worked example):
// contracts with risks, costs and compensations. Each tool's effect is one
// entry in a durable ledger actor (`ledger/<domain>`), sent atomically with
// the call's outcome, so a call's effect happens once whatever crashes; the
// ledgers are what the demo's "outside world" looks like.
#include <atomic>
#include <random>

#include <boost/json.hpp>

#include "cairn/actor.hpp"
#include "cairn/actors/demo_tools.hpp"
#include "cairn/error.hpp"
#include "cairn/mcp/server.hpp"
#include "cairn/runtime.hpp"

namespace cairn::actors {

namespace json = boost::json;
using mcp::call;
using mcp::tool_result;
using mcp::tool_spec;

namespace {

constexpr const char* ledger_type = "demo.ledger_entry/v1";

/// A domain's ledger: every effect, once, in order. Its state counts them
/// and keeps each entry's key, so tests and people can see that no effect
/// happened twice (a second entry with a key is counted in `duplicates`).
class ledger_actor final : public stateful_actor<std::string> {
public:
  ledger_actor() {
    on_json(ledger_type, [](context& ctx, std::string_view text) -> caf::error {
      ctx.emit_raw(ledger_type, std::string{text});
      return {};
    });
  }

  caf::error apply(std::string_view type, std::string_view payload) override {
    if (type != ledger_type)
      return make_error(errc::corrupt_record, "unknown ledger event " + std::string{type});
    boost::system::error_code ec;
    auto e = json::parse(payload, ec);
    if (ec || !e.is_object())
      return make_error(errc::corrupt_record, "a ledger entry is not a JSON object");
    auto& o = e.as_object();
    std::string op = o["op"].is_string() ? std::string{o["op"].as_string()} : "?";
    std::string key = o["key"].is_string() ? std::string{o["key"].as_string()} : "";
    auto& ops = obj("ops");
    ops[op] = (ops[op].is_int64() ? ops[op].as_int64() : 0) + 1;
    auto& keys = obj("keys");
    if (!key.empty()) {
      if (keys.contains(key))
        st_["duplicates"] = (st_["duplicates"].is_int64() ? st_["duplicates"].as_int64() : 0) + 1;
      keys[key] = op;
    }
    st_["entries"] = (st_["entries"].is_int64() ? st_["entries"].as_int64() : 0) + 1;
    if (auto amount = o.if_contains("amount_cents"); amount && amount->is_int64()) {
      auto sign = op == "refund" ? -1 : op == "charge" ? 1 : 0;
      st_["balance_cents"] = (st_["balance_cents"].is_int64() ? st_["balance_cents"].as_int64() : 0)
                             + sign * amount->as_int64();
    }
    return {};
  }

  std::optional<std::string> snapshot() const override { return json::serialize(st_); }

  caf::error restore(std::string_view bytes) override {
    boost::system::error_code ec;
    auto v = json::parse(bytes, ec);
    if (ec || !v.is_object())
      return make_error(errc::corrupt_record, "a ledger snapshot is not a JSON object");
    st_ = std::move(v.as_object());
    return {};
  }

  std::optional<std::string> describe() const override { return json::serialize(st_); }

private:
  json::object& obj(const char* k) {
    auto& v = st_[k];
    if (!v.is_object())
      v = json::object{};
    return v.as_object();
  }
  json::object st_{{"entries", 0}, {"duplicates", 0}};
};

std::string arg(const call& c, const char* k) {
  auto v = c.arguments().if_contains(k);
  return v && v->is_string() ? std::string{v->as_string()} : std::string{};
}

/// A short id derived from the call's idempotency key: the same on every
/// attempt of the same step, so a retried call names the same effect.
std::string effect_id(const char* prefix, const call& c) {
  auto h = std::hash<std::string>{}(c.idempotency_key());
  char buf[24];
  std::snprintf(buf, sizeof buf, "%s-%012llx", prefix,
                static_cast<unsigned long long>(h & 0xffffffffffffULL));
  return buf;
}

json::object schema(const char* text) {
  return json::parse(text).as_object();
}

/// Records `entry` in `ledger/<domain>` with the call's outcome.
void record(call& c, const char* domain, const char* op, json::object entry) {
  entry["op"] = op;
  entry["key"] = c.idempotency_key();
  c.send(std::string{"ledger/"} + domain, ledger_type, std::move(entry));
}

tool_result structured(json::object o, std::string text) {
  auto r = tool_result::text(std::move(text));
  r.structured = std::move(o);
  return r;
}

} // namespace

void register_orchestration_demo(mcp::server& srv, runtime& rt, double flaky_rate) {
  kind_options k;
  k.snapshot_every = 50;
  rt.register_kind(
    "ledger", [](std::string_view) { return std::make_unique<ledger_actor>(); }, k);
  auto flaky = std::make_shared<std::atomic<uint64_t>>(0);
  auto fails_now = [flaky, flaky_rate] {
    if (flaky_rate <= 0)
      return false;
    thread_local std::mt19937_64 gen{std::random_device{}()};
    return std::uniform_real_distribution<double>{0, 1}(gen) < flaky_rate;
  };

  tool_spec check;
  check.name = "check_inventory";
  check.title = "Check inventory";
  check.description = "Whether qty units of sku are on hand (every sku has 100).";
  check.input_schema = schema(R"({"type":"object","additionalProperties":false,
    "required":["sku","qty"],"properties":{"sku":{"type":"string","minLength":1},
    "qty":{"type":"integer","minimum":1}}})");
  check.output_schema = schema(R"({"type":"object","required":["sku","available","on_hand"],
    "properties":{"sku":{"type":"string"},"available":{"type":"boolean"},
    "on_hand":{"type":"integer"}}})");
  check.annotations.read_only = true;
  check.runs_inline = true;
  check.cost = 1;
  check.handler = [](call& c) {
    auto qty = c.arguments().at("qty").to_number<int64_t>();
    return structured(
      json::object{{"sku", arg(c, "sku")}, {"available", qty <= 100}, {"on_hand", 100}},
      qty <= 100 ? "available" : "not enough on hand");
  };
  srv.add_tool(std::move(check));

  tool_spec reserve;
  reserve.name = "reserve_stock";
  reserve.title = "Reserve stock";
  reserve.description = "Reserves qty units of sku for an order; undone by release_stock.";
  reserve.input_schema = schema(R"({"type":"object","additionalProperties":false,
    "required":["order_id","sku","qty"],"properties":{"order_id":{"type":"string","minLength":1},
    "sku":{"type":"string","minLength":1},"qty":{"type":"integer","minimum":1,"maximum":100}}})");
  reserve.output_schema = schema(R"({"type":"object","required":["reservation_id"],
    "properties":{"reservation_id":{"type":"string"}}})");
  reserve.risk = mcp::risk_class::medium;
  reserve.runs_inline = true;
  reserve.cost = 2;
  reserve.compensation = schema(R"({"tool":"release_stock","arguments":{
    "reservation_id":{"$from":"result","pointer":"/reservation_id"}}})");
  reserve.handler = [](call& c) {
    auto id = effect_id("r", c);
    record(c, "stock", "reserve",
           json::object{{"id", id}, {"sku", arg(c, "sku")}, {"qty", c.arguments().at("qty")}});
    return structured(json::object{{"reservation_id", id}}, "reserved as " + id);
  };
  srv.add_tool(std::move(reserve));

  tool_spec release;
  release.name = "release_stock";
  release.title = "Release stock";
  release.description = "Releases a reservation (the compensation of reserve_stock).";
  release.input_schema = schema(R"({"type":"object","additionalProperties":false,
    "required":["reservation_id"],"properties":{"reservation_id":{"type":"string"}}})");
  release.risk = mcp::risk_class::medium;
  release.runs_inline = true;
  release.handler = [](call& c) {
    record(c, "stock", "release", json::object{{"id", arg(c, "reservation_id")}});
    return structured(json::object{{"released", arg(c, "reservation_id")}}, "released");
  };
  srv.add_tool(std::move(release));

  tool_spec charge;
  charge.name = "charge_payment";
  charge.title = "Charge a payment";
  charge.description = "Charges amount_cents for an order; undone by refund_payment. With "
                       "--flaky-rate an attempt fails now and then and is retried with the same "
                       "idempotency key.";
  charge.input_schema = schema(R"({"type":"object","additionalProperties":false,
    "required":["order_id","amount_cents"],"properties":{"order_id":{"type":"string","minLength":1},
    "amount_cents":{"type":"integer","minimum":1},"reservation_id":{"type":"string"}}})");
  charge.output_schema = schema(R"({"type":"object","required":["payment_id"],
    "properties":{"payment_id":{"type":"string"}}})");
  charge.risk = mcp::risk_class::medium;
  charge.max_attempts = 5;
  charge.cost = 5;
  charge.compensation = schema(R"({"tool":"refund_payment","arguments":{
    "payment_id":{"$from":"result","pointer":"/payment_id"},
    "amount_cents":{"$from":"arguments","pointer":"/amount_cents"}}})");
  charge.handler = [fails_now](call& c) -> caf::expected<tool_result> {
    if (fails_now())
      return make_error(errc::handler_failed, "the payment provider timed out (demo flakiness)");
    auto id = effect_id("pay", c);
    record(c, "payments", "charge",
           json::object{{"id", id},
                        {"order_id", arg(c, "order_id")},
                        {"amount_cents", c.arguments().at("amount_cents")}});
    return structured(json::object{{"payment_id", id}}, "charged as " + id);
  };
  srv.add_tool(std::move(charge));

  tool_spec refund;
  refund.name = "refund_payment";
  refund.title = "Refund a payment";
  refund.description = "Refunds a payment (the compensation of charge_payment).";
  refund.input_schema = schema(R"({"type":"object","additionalProperties":false,
    "required":["payment_id","amount_cents"],"properties":{"payment_id":{"type":"string"},
    "amount_cents":{"type":"integer","minimum":1}}})");
  refund.risk = mcp::risk_class::medium;
  refund.max_attempts = 5;
  refund.runs_inline = true;
  refund.handler = [](call& c) {
    record(c, "payments", "refund",
           json::object{{"id", arg(c, "payment_id")},
                        {"amount_cents", c.arguments().at("amount_cents")}});
    return structured(json::object{{"refund_id", effect_id("ref", c)}}, "refunded");
  };
  srv.add_tool(std::move(refund));

  tool_spec dispatch;
  dispatch.name = "dispatch_driver";
  dispatch.title = "Dispatch a driver";
  dispatch.description = "Sends a driver for an order; undone by cancel_dispatch. Drivers serve "
                         "north, south, east and west: any other region fails (a tool error).";
  dispatch.input_schema = schema(R"({"type":"object","additionalProperties":false,
    "required":["order_id","region"],"properties":{"order_id":{"type":"string","minLength":1},
    "region":{"type":"string","minLength":1}}})");
  dispatch.output_schema = schema(R"({"type":"object","required":["dispatch_id","driver"],
    "properties":{"dispatch_id":{"type":"string"},"driver":{"type":"string"}}})");
  dispatch.risk = mcp::risk_class::medium;
  dispatch.runs_inline = true;
  dispatch.cost = 3;
  dispatch.compensation = schema(R"({"tool":"cancel_dispatch","arguments":{
    "dispatch_id":{"$from":"result","pointer":"/dispatch_id"}}})");
  dispatch.handler = [](call& c) {
    auto region = arg(c, "region");
    if (region != "north" && region != "south" && region != "east" && region != "west")
      return tool_result::error("no driver serves region '" + region + "'");
    auto id = effect_id("d", c);
    record(c, "dispatch", "dispatch", json::object{{"id", id}, {"region", region}});
    return structured(json::object{{"dispatch_id", id}, {"driver", "driver-" + region}},
                      "dispatched " + id);
  };
  srv.add_tool(std::move(dispatch));

  tool_spec undispatch;
  undispatch.name = "cancel_dispatch";
  undispatch.title = "Cancel a dispatch";
  undispatch.description = "Calls a driver back (the compensation of dispatch_driver).";
  undispatch.input_schema = schema(R"({"type":"object","additionalProperties":false,
    "required":["dispatch_id"],"properties":{"dispatch_id":{"type":"string"}}})");
  undispatch.risk = mcp::risk_class::medium;
  undispatch.runs_inline = true;
  undispatch.handler = [](call& c) {
    record(c, "dispatch", "cancel", json::object{{"id", arg(c, "dispatch_id")}});
    return structured(json::object{{"cancelled", arg(c, "dispatch_id")}}, "cancelled");
  };
  srv.add_tool(std::move(undispatch));

  tool_spec notify;
  notify.name = "notify_customer";
  notify.title = "Notify the customer";
  notify.description = "Tells the customer about their order.";
  notify.input_schema = schema(R"({"type":"object","additionalProperties":false,
    "required":["order_id","message"],"properties":{"order_id":{"type":"string","minLength":1},
    "message":{"type":"string","minLength":1}}})");
  notify.output_schema = schema(R"({"type":"object","required":["notification_id"],
    "properties":{"notification_id":{"type":"string"}}})");
  notify.runs_inline = true;
  notify.cost = 1;
  notify.handler = [](call& c) {
    auto id = effect_id("n", c);
    record(c, "notify", "notify", json::object{{"id", id}, {"order_id", arg(c, "order_id")}});
    return structured(json::object{{"notification_id", id}}, "notified");
  };
  srv.add_tool(std::move(notify));
}

const char* demo_policies_json() {
  return R"({"rules": [
  {"name": "big-charges", "tools": ["charge_payment"],
   "when": {"type": "object", "properties": {"amount_cents": {"minimum": 50000}},
            "required": ["amount_cents"]},
   "verdict": "approve", "approver": "operator", "expires": "PT24H", "risk": "high",
   "reason": "charges of 500.00 or more need an operator"},
  {"name": "no-refunds-by-hand", "tools": ["refund_payment"], "verdict": "deny",
   "reason": "refunds happen only as compensations, never as a planned step"}
]})";
}

const char* demo_workflows_json() {
  return R"([{
  "name": "deliver_order",
  "description": "Deliver an order: check and reserve stock, charge, dispatch a driver, notify the customer. Charges of 500.00 or more wait for an operator's approval; a failed step undoes the completed ones.",
  "parameters": {"type": "object", "additionalProperties": false,
    "required": ["order_id", "sku", "qty", "amount_cents", "region"],
    "properties": {"order_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
      "sku": {"type": "string", "minLength": 1}, "qty": {"type": "integer", "minimum": 1, "maximum": 100},
      "amount_cents": {"type": "integer", "minimum": 1}, "region": {"type": "string", "minLength": 1}}},
  "steps": [
    {"id": "check", "tool": "check_inventory",
     "arguments": {"sku": {"$from": "params", "pointer": "/sku"}, "qty": {"$from": "params", "pointer": "/qty"}}},
    {"id": "reserve", "tool": "reserve_stock", "after": ["check"],
     "arguments": {"order_id": {"$from": "params", "pointer": "/order_id"}, "sku": {"$from": "params", "pointer": "/sku"},
                   "qty": {"$from": "params", "pointer": "/qty"}}},
    {"id": "charge", "tool": "charge_payment", "after": ["reserve"],
     "arguments": {"order_id": {"$from": "params", "pointer": "/order_id"},
                   "amount_cents": {"$from": "params", "pointer": "/amount_cents"},
                   "reservation_id": {"$from": "reserve", "pointer": "/reservation_id"}}},
    {"id": "dispatch", "tool": "dispatch_driver", "after": ["reserve"],
     "arguments": {"order_id": {"$from": "params", "pointer": "/order_id"}, "region": {"$from": "params", "pointer": "/region"}}},
    {"id": "notify", "tool": "notify_customer", "after": ["charge", "dispatch"],
     "arguments": {"order_id": {"$from": "params", "pointer": "/order_id"}, "message": "your order is on its way"}}
  ]
}])";
}

} // namespace cairn::actors
