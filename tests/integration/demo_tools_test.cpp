// SPDX-License-Identifier: Apache-2.0
// The delivery demo's MCP tools against a real `cairn node`: MCP over HTTP
// (2026-07-28, stateless) for the calls, the node API for what the actors
// journaled.
#include <functional>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "http_client.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
namespace json = boost::json;

namespace {

struct demo_node {
  test::temp_dir dir;
  std::unique_ptr<test::node_process> proc;
  uint16_t port = 0;
  int next_id = 1;

  /// A node with the demo's tools; `flaky_rate` is the payment failure rate
  /// (0: never fails, 1: always fails), so no outcome here is drawn by chance.
  explicit demo_node(const std::string& flaky_rate) {
    proc = std::make_unique<test::node_process>(std::vector<std::string>{
      "node", "--data", dir.sub("data"), "--http", "127.0.0.1:0", "--no-progress", "--log-level",
      "error", "--flaky-rate", flaky_rate});
    REQUIRE(proc->wait_for_output("cairn node ready"));
    port = test::port_from_banner(proc->output());
    REQUIRE(port != 0);
  }

  /// One stateless JSON-RPC request to /mcp; the parsed response message.
  json::object mcp(const std::string& method, json::object params, const std::string& name = {}) {
    json::object meta{{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                      {"io.modelcontextprotocol/clientInfo",
                       json::object{{"name", "demo-tools-test"}, {"version", "1.0.0"}}},
                      {"io.modelcontextprotocol/clientCapabilities", json::object{}}};
    if (auto* given = params.if_contains("_meta"); given && given->is_object())
      for (auto& [k, v] : given->as_object())
        meta[k] = v; // the caller's (a traceparent, say) beside the revision's
    params["_meta"] = std::move(meta);
    json::object req{
      {"jsonrpc", "2.0"}, {"id", next_id++}, {"method", method}, {"params", std::move(params)}};
    std::vector<std::string> headers{"Content-Type: application/json",
                                     "Accept: application/json, text/event-stream",
                                     "MCP-Protocol-Version: 2026-07-28", "Mcp-Method: " + method};
    if (!name.empty())
      headers.push_back("Mcp-Name: " + name);
    auto r = test::http_call(port, "POST", "/mcp", json::serialize(req), headers);
    INFO(method << " " << name << " answered " << r.status << ": " << r.body);
    REQUIRE(r.status >= 200);
    auto body = r.body;
    // An answer sent as an SSE stream carries the message on a data: line.
    if (auto data = body.find("data: ");
        r.header("content-type").find("event-stream") == 0 && data != std::string::npos)
      body = body.substr(data + 6, body.find('\n', data) - data - 6);
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(v.is_object());
    return v.as_object();
  }

  json::object call_tool(const std::string& tool, json::object arguments) {
    return mcp("tools/call", json::object{{"name", tool}, {"arguments", std::move(arguments)}},
               tool);
  }

  /// Nothing pending on the node (no message in any mailbox).
  bool quiet() {
    auto r = test::http_call(port, "GET", "/api/v1/status");
    return r.status == 200 && r.body.find("\"pending\":0,") != std::string::npos;
  }

  /// order_status's structured result for `order_id`.
  json::object order_status(const std::string& order_id) {
    auto m = call_tool("order_status", json::object{{"order_id", order_id}});
    auto* result = m.if_contains("result");
    if (!result || !result->is_object())
      return {};
    auto* st = result->as_object().if_contains("structuredContent");
    return st && st->is_object() ? st->as_object() : json::object{};
  }

  /// How many events of `type` the actor `id` journaled (node API).
  size_t journaled(const std::string& encoded_id, const std::string& type) {
    auto r = test::http_call(port, "GET", "/api/v1/actors/" + encoded_id + "/journal?limit=10000");
    if (r.status != 200)
      return 0;
    auto v = json::parse(r.body);
    size_t n = 0;
    for (auto& e : v.as_object().at("events").as_array())
      n += e.as_object().at("type").as_string() == type ? 1 : 0;
    return n;
  }
};

json::object order(const std::string& id, const std::string& customer, const std::string& region) {
  return json::object{{"order_id", id},   {"customer", customer}, {"sku", "sku-kettle"},
                      {"region", region}, {"quantity", 2},        {"amount_cents", 4200}};
}

/// The hop of `status` for `stage`, or an empty object.
json::object hop(const json::object& status, const std::string& stage) {
  if (auto* hops = status.if_contains("hops"); hops && hops->is_array())
    for (auto& h : hops->as_array())
      if (h.as_object().at("stage").as_string() == stage)
        return h.as_object();
  return {};
}

std::string text(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string{v->as_string()} : std::string{};
}

} // namespace

TEST_CASE("placing the same order twice through MCP charges once and notifies once, and "
          "order_status lists every hop",
          "[demo][mcp][idempotency]") {
  demo_node node{"0"};
  for (int i = 0; i < 2; ++i) {
    auto placed = node.call_tool("place_order", order("twice1", "ada-twice", "north"));
    INFO(json::serialize(placed));
    REQUIRE(placed.contains("result"));
    CHECK(placed.at("result").at("structuredContent").at("order") == "order/twice1");
  }
  // Both calls answered, so both orders are in the order's mailbox; with no
  // payment failures there are no retries or timers: once nothing is pending
  // anywhere on the node, everything either call set off has run.
  REQUIRE(test::eventually([&] { return node.quiet(); }));
  CHECK(node.journaled("payment%2Ftwice1", "demo.stage_done/v1") == 1);
  CHECK(node.journaled("inventory%2Fsku-kettle", "demo.stage_done/v1") == 1);
  CHECK(node.journaled("dispatch%2Fnorth", "demo.stage_done/v1") == 1);
  CHECK(node.journaled("notify%2Fada-twice", "demo.stage_done/v1") == 1);

  auto status = node.order_status("twice1");
  INFO(json::serialize(status));
  CHECK(text(status, "status") == "completed");
  REQUIRE(status.contains("repeated"));
  CHECK(status.at("repeated") == 1);
  REQUIRE(status.contains("hops"));
  auto& hops = status.at("hops").as_array();
  REQUIRE(hops.size() == 5);
  const char* stages[] = {"intake", "inventory", "payment", "dispatch", "notify"};
  for (size_t i = 0; i < 5; ++i) {
    auto& h = hops[i].as_object();
    CHECK(text(h, "stage") == stages[i]);
    CHECK(text(h, "status") == "ok");
    CHECK(h.at("attempts") == 1);
  }
  CHECK(text(hop(status, "inventory"), "detail") == "reserved 2 x sku-kettle");
  CHECK(text(hop(status, "payment"), "detail") == "charged 4200 cents, key charge/twice1");
  CHECK(text(hop(status, "dispatch"), "detail").rfind("assigned driver-north-", 0) == 0);
  CHECK(text(hop(status, "notify"), "detail").rfind("told ada-twice that driver-north-", 0) == 0);
}

TEST_CASE("an order whose payment is dead-lettered shows the payment failed, with its attempts",
          "[demo][mcp][dlq]") {
  demo_node node{"1"}; // the gateway fails every attempt
  REQUIRE(node.call_tool("place_order", order("nopay1", "bob-nopay", "west")).contains("result"));
  json::object status;
  REQUIRE(test::eventually([&] {
    status = node.order_status("nopay1");
    return text(status, "status") == "failed";
  }));
  INFO(json::serialize(status));
  auto payment = hop(status, "payment");
  CHECK(text(payment, "status") == "failed");
  CHECK(payment.at("attempts") == 4); // the demo's payment retry policy
  CHECK(text(payment, "detail").find("payment gateway unavailable") != std::string::npos);
  CHECK(text(hop(status, "inventory"), "status") == "ok");
  CHECK(hop(status, "dispatch").empty());
  CHECK(node.journaled("notify%2Fbob-nopay", "demo.stage_done/v1") == 0);
}

TEST_CASE("place_order takes the demo's regions north, south, east and west and refuses others "
          "with a schema error",
          "[demo][mcp][schema]") {
  demo_node node{"0"};
  auto listed = node.mcp("tools/list", json::object{});
  json::value regions;
  for (auto& t : listed.at("result").at("tools").as_array())
    if (t.at("name") == "place_order")
      regions = t.at("inputSchema").at("properties").at("region").at("enum");
  CHECK(regions == json::array{"north", "south", "east", "west"});

  auto refused = node.call_tool("place_order", order("eu1", "cy", "eu"));
  INFO(json::serialize(refused));
  REQUIRE(refused.contains("error"));
  CHECK(refused.at("error").at("code") == -32602);
  CHECK(text(refused.at("error").as_object(), "message").find("$.region") != std::string::npos);
  CHECK(node.order_status("eu1").empty()); // "no order": a tool error, no structured result

  for (const char* region : {"north", "south", "east", "west"}) {
    auto placed = node.call_tool("place_order", order(std::string{"r-"} + region, "cy", region));
    INFO(json::serialize(placed));
    CHECK(placed.contains("result"));
  }
}

TEST_CASE("an MCP tool call with a traceparent is one trace: the request's span under the "
          "agent's, the tool's step under it, and every hop of the order below",
          "[mcp][trace]") {
  demo_node n{"0"};
  const std::string trace = "3ad7651916cd43dd8448eb211c80319e";
  const std::string agent_span = "a1b2c3d4e5f60718";
  auto m =
    n.mcp("tools/call",
          json::object{
            {"name", "place_order"},
            {"arguments", order("t1", "c9", "west")},
            {"_meta", json::object{{"traceparent", "00-" + trace + "-" + agent_span + "-01"}}}},
          "place_order");
  REQUIRE(m.contains("result"));
  REQUIRE(test::eventually([&] { return n.quiet(); }));
  // The request's span is recorded when it is answered, without waiting for
  // the disk: wait for it too.
  json::value tree;
  REQUIRE(test::eventually([&] {
    auto r = test::http_call(n.port, "GET", "/api/v1/traces/" + trace);
    if (r.status != 200)
      return false;
    tree = json::parse(r.body);
    auto& roots = tree.at("roots").as_array();
    return roots.size() == 1 && roots[0].at("kind") == "server";
  }));
  INFO(json::serialize(tree));
  auto& root = tree.at("roots").as_array()[0].as_object();
  CHECK(root.at("name") == "tools/call place_order");
  CHECK(root.at("parent_span_id") == json::value(agent_span));
  CHECK(root.at("attributes").at("mcp.method.name") == "tools/call");
  CHECK(root.at("attributes").at("gen_ai.tool.name") == "place_order");
  CHECK(root.at("attributes").at("mcp.protocol.version") == "2026-07-28");
  CHECK(root.at("attributes").at("jsonrpc.request.id") == "1");
  CHECK(root.at("status") != "error");
  // Below it: the tool's call actor, then the order's actors.
  std::vector<std::string> actors;
  std::function<void(const json::value&)> walk = [&](const json::value& s) {
    if (auto* a = s.as_object().if_contains("actor"))
      actors.emplace_back(a->as_string());
    for (const auto& c : s.at("children").as_array())
      walk(c);
  };
  walk(root);
  REQUIRE_FALSE(actors.empty());
  CHECK(actors[0].rfind("tool.place_order/", 0) == 0);
  for (std::string a : {"order/t1", "payment/t1", "dispatch/west", "notify/c9"})
    CHECK(std::find(actors.begin(), actors.end(), a) != actors.end());
  CHECK(tree.at("span_count").to_number<size_t>() == actors.size() + 1);
}
