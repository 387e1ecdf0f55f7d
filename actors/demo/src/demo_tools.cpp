// SPDX-License-Identifier: Apache-2.0
// The delivery demo's workers as MCP tools: `place_order`, `order_status`
// and `echo`, registered through the same public API as any other tool.
#include "cairn/actors/demo_tools.hpp"

#include <boost/json.hpp>

#include "cairn/actors/delivery.hpp"
#include "cairn/error.hpp"
#include "cairn/mcp/server.hpp"
#include "cairn/runtime.hpp"

namespace cairn::actors {

namespace json = boost::json;
using mcp::call;
using mcp::tool_result;
using mcp::tool_spec;

namespace {

std::string str(const json::value& v, std::initializer_list<const char*> path) {
  const json::value* cur = &v;
  for (auto* k : path) {
    if (!cur->is_object() || !cur->as_object().contains(k))
      return {};
    cur = &cur->as_object().at(k);
  }
  return cur->is_string() ? std::string{cur->as_string()} : json::serialize(*cur);
}

} // namespace

} // namespace cairn::actors

namespace cairn::actors {

void register_demo_tools(mcp::server& srv, runtime& rt) {
  {
    tool_spec t;
    t.name = "echo";
    t.runs_inline = true; // returns its argument
    t.title = "Echo";
    t.description = "Returns the text it was given (a durable round trip through a call actor)";
    t.input_schema =
      json::object{{"type", "object"},
                   {"properties", json::object{{"text", json::object{{"type", "string"}}}}},
                   {"required", json::array{"text"}}};
    t.annotations.read_only = true;
    t.annotations.idempotent = true;
    t.tasks = mcp::task_support::forbidden;
    t.handler = [](call& c) { return tool_result::text(str(c.arguments().at("text"), {})); };
    srv.add_tool(std::move(t));
  }
  {
    tool_spec t;
    t.name = "place_order";
    t.runs_inline = true; // checks its arguments and sends one message
    t.title = "Place a delivery order";
    t.description = "Places an order in the delivery demo: it then goes through inventory, "
                    "payment, dispatch and notification, each a durable actor. The order_id is "
                    "the idempotency key of the whole chain: placing the same order_id twice "
                    "places it once (one reservation, one charge, one notification).";
    t.input_schema = json::parse(R"({"type":"object","additionalProperties":false,
      "required":["order_id","customer","sku","region","quantity","amount_cents"],
      "properties":{
        "order_id":{"type":"string","pattern":"^[A-Za-z0-9_-]{1,64}$"},
        "customer":{"type":"string","minLength":1},
        "sku":{"type":"string","minLength":1},
        "region":{"type":"string","enum":["north","south","east","west"]},
        "quantity":{"type":"integer","minimum":1,"maximum":1000},
        "amount_cents":{"type":"integer","minimum":0}}})")
                       .as_object();
    t.output_schema = json::parse(R"({"type":"object","required":["order","accepted"],
      "properties":{"order":{"type":"string"},"accepted":{"type":"boolean"}}})")
                        .as_object();
    t.annotations.destructive = false;
    t.annotations.idempotent = true;
    t.annotations.open_world = false;
    t.risk = mcp::risk_class::medium;
    t.handler = [](call& c) {
      auto args = c.arguments();
      auto id = "order/" + str(args.at("order_id"), {});
      args.erase("order_id");
      c.send(id, "demo.place_order/v1", args);
      tool_result r;
      r.structured = json::object{{"order", id}, {"accepted", true}};
      return r;
    };
    srv.add_tool(std::move(t));
  }
  {
    tool_spec t;
    t.name = "order_status";
    t.title = "Show a delivery order";
    t.description = "Shows an order of the delivery demo: its status (in_progress, completed or "
                    "failed) and every hop's outcome (intake, inventory, payment, dispatch, "
                    "notify: ok or failed, with the number of attempts and what it did)";
    t.input_schema = json::parse(R"({"type":"object","additionalProperties":false,
      "required":["order_id"],"properties":{"order_id":{"type":"string","pattern":"^[A-Za-z0-9_-]{1,64}$"}}})")
                       .as_object();
    t.output_schema = json::parse(R"({"type":"object",
      "required":["order","status","hops","repeated","pending_messages"],
      "properties":{"order":{"type":"string"},
        "status":{"enum":["new","in_progress","completed","failed"]},
        "repeated":{"type":"integer"},"pending_messages":{"type":"integer"},
        "hops":{"type":"array","items":{"type":"object",
          "required":["stage","status","detail","attempts"],
          "properties":{"stage":{"type":"string"},"status":{"enum":["ok","failed"]},
            "detail":{"type":"string"},"attempts":{"type":"integer"}}}}}})")
                        .as_object();
    t.annotations.read_only = true;
    t.tasks = mcp::task_support::forbidden;
    t.handler = [&rt](call& c) -> caf::expected<tool_result> {
      auto id = "order/" + str(c.arguments().at("order_id"), {});
      auto d = rt.describe(id);
      if (!d) {
        if (code_of(d.error()) == errc::not_found)
          return tool_result::error("no order " + id);
        return std::move(d.error());
      }
      if (!d->state_error.empty())
        return tool_result::error("order " + id + " cannot be read: " + d->state_error);
      // The order actor's state (delivery.cpp): status, repeats and the
      // latest outcome of each hop, as each hop reported it.
      json::object st{{"order", id},
                      {"status", "new"},
                      {"repeated", 0},
                      {"hops", json::array{}},
                      {"pending_messages", d->mailbox_depth}};
      boost::system::error_code ec;
      auto state = json::parse(d->state_json, ec);
      if (!ec && state.is_object())
        for (const char* k : {"status", "repeated", "hops"})
          if (auto* v = state.as_object().if_contains(k))
            st[k] = *v;
      tool_result r;
      r.structured = st;
      return r;
    };
    srv.add_tool(std::move(t));
  }
}

} // namespace cairn::actors
