// SPDX-License-Identifier: Apache-2.0
// `cairn mcp stdio --node URL`: an MCP client on stdio reaches a running
// node's /mcp through the bridge, and sees the same node the operator does.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "http_client.hpp"
#include "node_process.hpp"
#include "stdio_child.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
namespace json = boost::json;

namespace {

/// A node with the conformance fixture's tools (and the built-in `echo`).
struct fixture_node {
  test::temp_dir dir;
  std::unique_ptr<test::node_process> node;
  uint16_t port = 0;
  std::string url;

  explicit fixture_node(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"node",        "--data",        dir.sub("data"), "--http",
                                  "127.0.0.1:0", "--no-progress", "--log-level",   "warn",
                                  "--profile",   "conformance"};
    args.insert(args.end(), extra.begin(), extra.end());
    node = std::make_unique<test::node_process>(args, CAIRN_TEST_NODE);
    REQUIRE(node->wait_for_output("cairn node ready"));
    port = test::port_from_banner(node->output());
    url = "http://127.0.0.1:" + std::to_string(port);
  }
};

/// The bridge as an MCP client launches it: one JSON-RPC message a line.
struct bridge_client {
  test::stdio_child child;

  explicit bridge_client(std::vector<std::string> args)
    : child{test::cairn_binary(), std::move(args)} {}

  void send(const json::value& msg) { REQUIRE(child.write(json::serialize(msg) + "\n")); }

  json::object read() {
    auto line = child.read_line();
    INFO(child.error_output());
    REQUIRE(line);
    auto v = json::parse(*line);
    REQUIRE(v.is_object());
    return v.as_object();
  }

  /// The answer to request `id`, skipping notifications on the way.
  json::object answer(int64_t id) {
    for (;;) {
      auto m = read();
      if (!m.contains("method") && m.at("id") == json::value(id))
        return m;
    }
  }

  json::object initialize() {
    send(json::object{
      {"jsonrpc", "2.0"},
      {"id", 1},
      {"method", "initialize"},
      {"params",
       json::object{{"protocolVersion", "2025-11-25"},
                    {"capabilities", json::object{{"elicitation", json::object{}}}},
                    {"clientInfo", json::object{{"name", "bridge-test"}, {"version", "1.0.0"}}}}}});
    return answer(1);
  }
};

json::object call(int64_t id, const std::string& tool, json::object args) {
  return json::object{{"jsonrpc", "2.0"},
                      {"id", id},
                      {"method", "tools/call"},
                      {"params", json::object{{"name", tool}, {"arguments", std::move(args)}}}};
}

std::string first_text(const json::object& answer) {
  return std::string{answer.at("result").at("content").as_array().at(0).at("text").as_string()};
}

} // namespace

TEST_CASE("cairn mcp stdio --node bridges an MCP client to a running node's data",
          "[mcp][bridge]") {
  fixture_node n;
  bridge_client c{{"mcp", "stdio", "--node", n.url}};
  auto init = c.initialize();
  CHECK(init.at("result").at("protocolVersion") == "2025-11-25");
  c.send(json::object{{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});

  c.send(json::object{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/list"}});
  auto tools = c.answer(2);
  bool has_echo = false;
  for (const auto& t : tools.at("result").at("tools").as_array())
    has_echo = has_echo || t.at("name") == "echo";
  CHECK(has_echo);

  // Before the call the node has no echo call; after it, the operator sees
  // the call's actor and its journal on the node API.
  auto echo_calls = [&] {
    auto r = test::http_call(n.port, "GET", "/api/v1/actors?kind=tool.echo");
    REQUIRE(r.status == 200);
    return json::parse(r.body).at("actors").as_array();
  };
  CHECK(echo_calls().empty());
  c.send(call(3, "echo", {{"text", "hello through the bridge"}}));
  auto echoed = c.answer(3);
  CHECK(first_text(echoed) == "hello through the bridge");
  json::array calls;
  REQUIRE(test::eventually([&] {
    calls = echo_calls();
    return calls.size() == 1;
  }));
  auto actor = std::string{calls.at(0).at("id").as_string()};
  auto journal = test::http_call(
    n.port, "GET", "/api/v1/actors/" + actor.replace(actor.find('/'), 1, "%2F") + "/journal");
  CHECK(journal.status == 200);
  CHECK(journal.body.find("mcp.call.finished/v1") != std::string::npos);

  // A request from the node (elicitation, on the call's SSE stream) reaches
  // the client, and the client's answer reaches the node.
  c.send(call(4, "test_elicitation", {{"message", "who are you?"}}));
  auto asked = c.read();
  REQUIRE(asked.at("method") == "elicitation/create");
  c.send(json::object{
    {"jsonrpc", "2.0"},
    {"id", asked.at("id")},
    {"result",
     json::object{{"action", "accept"},
                  {"content", json::object{{"username", "ada"}, {"email", "ada@example.org"}}}}}});
  auto elicited = c.answer(4);
  CHECK(first_text(elicited).find("\"username\":\"ada\"") != std::string::npos);

  // Notifications while a tool runs are forwarded before its answer.
  c.send(json::object{{"jsonrpc", "2.0"},
                      {"id", 5},
                      {"method", "tools/call"},
                      {"params", json::object{{"name", "test_tool_with_progress"},
                                              {"arguments", json::object{}},
                                              {"_meta", json::object{{"progressToken", "p5"}}}}}});
  int progress = 0;
  for (;;) {
    auto m = c.read();
    if (m.contains("method") && m.at("method") == "notifications/progress") {
      ++progress;
      continue;
    }
    if (m.contains("id") && m.at("id") == json::value(5))
      break;
  }
  CHECK(progress >= 1);

  // End of input: the bridge ends its session and exits 0.
  c.child.close_stdin();
  CHECK(c.child.wait() == 0);
}

TEST_CASE("cairn mcp stdio --node answers with a clear JSON-RPC error when the node is down",
          "[mcp][bridge][errors]") {
  // Port 1: nothing listens there (binding and closing a port would race).
  bridge_client c{{"mcp", "stdio", "--node", "http://127.0.0.1:1"}};
  auto init = c.initialize();
  REQUIRE(init.contains("error"));
  CHECK(init.at("error").at("code") == -32000);
  auto message = std::string{init.at("error").at("message").as_string()};
  CHECK(message.find("cannot reach the cairn node at http://127.0.0.1:1") != std::string::npos);
  // A later request gets its own answer too, not silence.
  c.send(json::object{{"jsonrpc", "2.0"}, {"id", 7}, {"method", "tools/list"}});
  CHECK(c.answer(7).at("error").at("code") == -32000);
  c.child.close_stdin();
  CHECK(c.child.wait() == 0);
  CHECK(c.child.error_output().find("cannot reach the cairn node") != std::string::npos);
}

TEST_CASE("cairn mcp stdio --node refuses a URL that is not a node's", "[mcp][bridge][errors]") {
  for (std::string url : {"nonsense", "ftp://x", "http://127.0.0.1:7070/api"}) {
    test::stdio_child c{test::cairn_binary(), {"mcp", "stdio", "--node", url}};
    INFO(url);
    CHECK(c.wait() == 2);
    CHECK(c.error_output().find("invalid --node URL '" + url + "'") != std::string::npos);
  }
}

TEST_CASE("cairn mcp stdio --node passes the bearer token and says when it is missing",
          "[mcp][bridge][auth]") {
  fixture_node n{{"--token", "sekrit:read,write"}};
  {
    bridge_client c{{"mcp", "stdio", "--node", n.url}};
    auto init = c.initialize();
    REQUIRE(init.contains("error")); // 401, with the request's id
    CHECK(init.at("id") == 1);
    c.child.close_stdin();
    CHECK(c.child.wait() == 0);
    CHECK(c.child.error_output().find("pass --token") != std::string::npos);
  }
  bridge_client c{{"mcp", "stdio", "--node", n.url, "--token", "sekrit"}};
  CHECK(c.initialize().contains("result"));
  c.send(call(2, "echo", {{"text", "with a token"}}));
  CHECK(first_text(c.answer(2)) == "with a token");
  c.child.close_stdin();
  CHECK(c.child.wait() == 0);
}
