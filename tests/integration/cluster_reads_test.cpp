// SPDX-License-Identifier: Apache-2.0
// A cluster answers from any node: reads about any actor served by its owner,
// a forwarded message's span in its trace, MCP tools and tasks called on any
// node, plans waited for and streamed where they were submitted, and one key
// sent through every node taken once. Three `cairn node` processes and a real
// etcd on this machine.
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "cairn/placement.hpp"

#include "cluster_kit.hpp"
#include "http_client.hpp"
#include "local_cluster.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;
using namespace cairn::test::clusters;

TEST_CASE("any node answers reads about any actor: the owner serves them", "[cluster]") {
  // Every payment fails: dead letters to find from the other node.
  test::local_cluster c{2, shards, {"--flaky-rate", "1.0"}};
  c.start_all();
  REQUIRE(test::eventually([&] { return c.balanced(); }, std::chrono::seconds{60}));
  auto remote = actor_owned_by(c, "source", "n2");
  REQUIRE(send_produce(c, 0, remote) == 202);
  auto path = "/api/v1/actors/" + remote.substr(0, remote.find('/')) + "%2F"
              + remote.substr(remote.find('/') + 1);
  test::http_reply r;
  REQUIRE(test::eventually(
    [&] {
      r = test::http_call(c.http_port(0), "GET", path);
      return r.body.find("\"journal_length\":1,") != std::string::npos;
    },
    std::chrono::seconds{30}));
  CHECK(r.status == 200);
  CHECK(r.header("Cairn-Served-By") == "n2");
  auto journal = test::http_call(c.http_port(0), "GET", path + "/journal");
  CHECK(journal.status == 200);
  CHECK(journal.body.find("chain.produced") != std::string::npos);
  auto metrics = test::http_call(c.http_port(0), "GET", "/metrics").body;
  CHECK(metrics.find("cairn_cluster_ack_seconds_total{peer=\"n2\"}") != std::string::npos);
  CHECK(metrics.find("cairn_cluster_forwarded_total{peer=\"n2\"}") != std::string::npos);
  // A plan is read from its owner too (an unknown one: the owner says so).
  auto plan = actor_owned_by(c, "plan", "n2");
  auto p = test::http_call(c.http_port(0), "GET", "/api/v1/plans/" + plan.substr(5));
  CHECK(p.status == 404);
  CHECK(p.header("Cairn-Served-By") == "n2");
  // A dead letter is shown and discarded through the node that does not hold it.
  const std::string order =
    R"({"type":"demo.place_order/v1","payload":{"customer":"c7","sku":"sku-milk",)"
    R"("region":"north","quantity":2,"amount_cents":1200}})";
  for (int k = 0; k < 4; ++k)
    REQUIRE(test::http_call(c.http_port(0), "POST",
                            "/api/v1/actors/order%2Fo" + std::to_string(k) + "/messages", order)
              .status
            == 202);
  std::string letter;
  REQUIRE(test::eventually(
    [&] {
      // The list is merged: n1 lists the letters of both nodes.
      auto list = test::http_call(c.http_port(0), "GET", "/api/v1/dead-letters?kind=payment");
      auto at = list.body.find("\"id\":\"");
      if (list.status != 200 || at == std::string::npos)
        return false;
      letter = list.body.substr(at + 6, list.body.find('"', at + 6) - at - 6);
      return true;
    },
    std::chrono::seconds{60}));
  // Held where it failed: the node that answers for it without asking.
  size_t holder = test::http_call(c.http_port(0), "GET", "/api/v1/dead-letters/" + letter)
                      .header("Cairn-Served-By")
                      .empty()
                    ? 0
                    : 1;
  auto other = 1 - holder;
  // The list is merged: the node that does not hold the letter lists it too.
  auto listed = test::http_call(c.http_port(other), "GET", "/api/v1/dead-letters?kind=payment");
  CHECK(listed.status == 200);
  CHECK(listed.body.find(letter) != std::string::npos);
  CHECK(listed.body.find("\"missing\":[]") != std::string::npos);
  auto actors = test::http_call(c.http_port(0), "GET", "/api/v1/actors?kind=source");
  CHECK(actors.body.find("\"" + remote + "\"") != std::string::npos);
  auto shown = test::http_call(c.http_port(other), "GET", "/api/v1/dead-letters/" + letter);
  CHECK(shown.status == 200);
  CHECK(shown.header("Cairn-Served-By") == c.node_id(holder));
  CHECK(shown.body.find(letter) != std::string::npos);
  CHECK(test::http_call(c.http_port(other), "DELETE", "/api/v1/dead-letters/" + letter).status
        == 204);
  CHECK(test::http_call(c.http_port(holder), "GET", "/api/v1/dead-letters/" + letter).status
        == 404);
  CHECK(test::http_call(c.http_port(other), "GET", "/api/v1/dead-letters/no-such-letter").status
        == 404);
  // Its owner gone, a read says where the actor lives instead of "not found".
  c.stop(1);
  REQUIRE(
    test::eventually([&] { return test::http_call(c.http_port(0), "GET", path).status == 503; },
                     std::chrono::seconds{30}));
  auto down = test::http_call(c.http_port(0), "GET", path);
  CHECK(down.body.find("owner_unavailable") != std::string::npos);
  CHECK(down.body.find("n2") != std::string::npos);
  // A list names the node whose part it lacks; the CLI says so too.
  auto partial = test::http_call(c.http_port(0), "GET", "/api/v1/actors");
  CHECK(partial.status == 200);
  CHECK(partial.body.find("\"missing\":[\"n2\"]") != std::string::npos);
  auto cli = cli_output({"actors", "--node", "http://127.0.0.1:" + std::to_string(c.http_port(0))});
  INFO(cli);
  CHECK(cli.find("n2 did not answer") != std::string::npos);
}

TEST_CASE("a message forwarded to its owner leaves a forward span in its trace",
          "[cluster][trace]") {
  test::local_cluster c{2, shards};
  c.start_all();
  REQUIRE(test::eventually([&] { return c.balanced(); }, std::chrono::seconds{60}));
  auto remote = actor_owned_by(c, "source", "n2");
  auto path = "/api/v1/actors/" + remote.substr(0, remote.find('/')) + "%2F"
              + remote.substr(remote.find('/') + 1) + "/messages";
  const std::string trace = "6e0c63257de34c92bf9efcd03927272e";
  auto sent = test::http_call(
    c.http_port(0), "POST", path,
    R"({"type": "chain.produce/v1", "payload": {"count": 0, "batch": 1}})",
    {"Content-Type: application/json", "traceparent: 00-" + trace + "-a2fb4a1d1a96d312-01"});
  REQUIRE(sent.status == 202);
  // The sender's node records the hop when its owner acknowledges it.
  boost::json::value tree;
  REQUIRE(test::eventually(
    [&] {
      auto r = test::http_call(c.http_port(0), "GET", "/api/v1/traces/" + trace);
      if (r.status != 200 || r.body.find("forward n2") == std::string::npos)
        return false;
      tree = boost::json::parse(r.body);
      return true;
    },
    std::chrono::seconds{30}));
  const boost::json::object* forward = nullptr;
  for (const auto& root : tree.at("roots").as_array())
    if (root.at("name") == "forward n2")
      forward = &root.as_object();
  REQUIRE(forward != nullptr);
  INFO(boost::json::serialize(*forward));
  CHECK(forward->at("parent_span_id") == "a2fb4a1d1a96d312");
  CHECK(forward->at("kind") == "producer");
  CHECK(forward->at("status") == "ok");
  CHECK(forward->at("attributes").at("cairn.peer.node") == "n2");
  CHECK(forward->at("attributes").at("cairn.outbox.envelopes") == 1);
}

TEST_CASE("an MCP tool called on any node of a cluster answers there", "[cluster][mcp]") {
  test::local_cluster c{3, shards};
  c.start_all();
  REQUIRE(test::eventually([&] { return c.balanced(); }, std::chrono::seconds{60}));
  // Each call runs in an actor of its own; most ids would hash to another
  // node's shard, whose steps the waiting session here would never hear of.
  for (int k = 0; k < 8; ++k) {
    boost::json::object params{
      {"name", "order_status"},
      {"arguments", boost::json::object{{"order_id", "o-" + std::to_string(k)}}},
      {"_meta",
       boost::json::object{{"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
                           {"io.modelcontextprotocol/clientInfo",
                            boost::json::object{{"name", "cluster-test"}, {"version", "1.0.0"}}},
                           {"io.modelcontextprotocol/clientCapabilities", boost::json::object{}}}}};
    boost::json::object req{
      {"jsonrpc", "2.0"}, {"id", k + 1}, {"method", "tools/call"}, {"params", params}};
    auto r = test::http_call(
      c.http_port(k % 3), "POST", "/mcp", boost::json::serialize(req),
      {"Content-Type: application/json", "Accept: application/json, text/event-stream",
       "MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call", "Mcp-Name: order_status"});
    INFO("call " << k << " answered " << r.status << ": " << r.body);
    CHECK(r.status == 200);
    CHECK(r.body.find("\"result\"") != std::string::npos);
    CHECK(r.body.find("o-" + std::to_string(k)) != std::string::npos);
  }
}

namespace {

const std::vector<std::string> mcp_2025 = {"Content-Type: application/json",
                                           "Accept: application/json, text/event-stream",
                                           "MCP-Protocol-Version: 2025-11-25"};

/// Opens a 2025-11-25 session on `port`; its id.
std::string open_session(uint16_t port) {
  auto r = test::http_call(
    port, "POST", "/mcp",
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",)"
    R"("capabilities":{},"clientInfo":{"name":"cluster-test","version":"1.0.0"}}})",
    {"Content-Type: application/json", "Accept: application/json, text/event-stream"});
  auto sid = r.header("Mcp-Session-Id");
  auto h = mcp_2025;
  h.push_back("Mcp-Session-Id: " + sid);
  test::http_call(port, "POST", "/mcp", R"({"jsonrpc":"2.0","method":"notifications/initialized"})",
                  h);
  return sid;
}

/// The JSON-RPC result in an answer (a JSON body or one SSE event).
boost::json::object rpc_result(const test::http_reply& r) {
  auto body = r.body;
  if (auto at = body.find("data: {"); at != std::string::npos)
    body = body.substr(at + 6, body.find('\n', at) - at - 6);
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("result")
      || !v.as_object().at("result").is_object())
    return {};
  return v.as_object().at("result").as_object();
}

std::string field(const boost::json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string{v->as_string()} : std::string{};
}

} // namespace

TEST_CASE("an MCP task is answered by any node in either revision", "[cluster][mcp]") {
  test::local_cluster c{3, shards};
  c.start_all();
  REQUIRE(test::eventually([&] { return c.balanced(); }, std::chrono::seconds{60}));
  // A task made in a session on n1: its call actor lives on n1.
  auto s1 = open_session(c.http_port(0));
  auto h1 = mcp_2025;
  h1.push_back("Mcp-Session-Id: " + s1);
  auto made = test::http_call(
    c.http_port(0), "POST", "/mcp",
    R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"place_order","task":{"ttl":60000},)"
    R"("arguments":{"order_id":"t1","customer":"c1","sku":"sku-milk","region":"north",)"
    R"("quantity":1,"amount_cents":300}}})",
    h1);
  INFO(made.body);
  auto created = rpc_result(made);
  auto* task = created.if_contains("task");
  REQUIRE((task && task->is_object()));
  auto id = field(task->as_object(), "taskId");
  REQUIRE(!id.empty());
  // Asked in a session on n2: served by n1, to the end.
  auto s2 = open_session(c.http_port(1));
  auto h2 = mcp_2025;
  h2.push_back("Mcp-Session-Id: " + s2);
  test::http_reply got;
  REQUIRE(test::eventually(
    [&] {
      got = test::http_call(
        c.http_port(1), "POST", "/mcp",
        R"({"jsonrpc":"2.0","id":3,"method":"tasks/get","params":{"taskId":")" + id + R"("}})", h2);
      return field(rpc_result(got), "status") == "completed";
    },
    std::chrono::seconds{30}));
  CHECK(got.header("Cairn-Served-By") == "n1");
  CHECK(field(rpc_result(got), "taskId") == id);
  auto result = test::http_call(
    c.http_port(1), "POST", "/mcp",
    R"({"jsonrpc":"2.0","id":4,"method":"tasks/result","params":{"taskId":")" + id + R"("}})", h2);
  INFO(result.body);
  CHECK(result.header("Cairn-Served-By") == "n1");
  CHECK(result.body.find("t1") != std::string::npos);
  // Asked without a session (2026-07-28) of n3: served by n1 too.
  boost::json::object meta{
    {"io.modelcontextprotocol/protocolVersion", "2026-07-28"},
    {"io.modelcontextprotocol/clientInfo",
     boost::json::object{{"name", "cluster-test"}, {"version", "1.0.0"}}},
    {"io.modelcontextprotocol/clientCapabilities",
     boost::json::object{{"extensions", boost::json::object{{"io.modelcontextprotocol/tasks",
                                                             boost::json::object{}}}}}}};
  boost::json::object get{{"jsonrpc", "2.0"},
                          {"id", 5},
                          {"method", "tasks/get"},
                          {"params", boost::json::object{{"taskId", id}, {"_meta", meta}}}};
  auto stateless = test::http_call(
    c.http_port(2), "POST", "/mcp", boost::json::serialize(get),
    {"Content-Type: application/json", "Accept: application/json, text/event-stream",
     "MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tasks/get", "Mcp-Name: " + id});
  INFO(stateless.body);
  CHECK(stateless.header("Cairn-Served-By") == "n1");
  CHECK(field(rpc_result(stateless), "status") == "completed");
  // An unknown task is still unknown, wherever it is asked.
  auto unknown = test::http_call(
    c.http_port(1), "POST", "/mcp",
    R"({"jsonrpc":"2.0","id":6,"method":"tasks/get","params":{"taskId":")" + id + R"(x"}})", h2);
  CHECK(unknown.body.find("unknown task") != std::string::npos);
}

TEST_CASE("a plan submitted to any node is waited for and streamed there", "[cluster][plan]") {
  test::local_cluster c{3, shards};
  c.start_all();
  REQUIRE(test::eventually([&] { return c.balanced(); }, std::chrono::seconds{60}));
  const std::string plan = R"({"steps":[{"id":"say","tool":"echo","arguments":{"text":"hi"}}]})";
  for (size_t via = 0; via < 3; ++via) {
    auto r = test::http_call(c.http_port(via), "POST", "/api/v1/plans", plan);
    INFO("via " << c.node_id(via) << ": " << r.status << " " << r.body);
    REQUIRE((r.status == 201 || r.status == 202));
    auto id = field(boost::json::parse(r.body).as_object(), "id");
    // Its id was drawn so the node asked owns the plan: read there, not proxied.
    auto here = test::http_call(c.http_port(via), "GET", "/api/v1/plans/" + id.substr(5));
    CHECK(here.status == 200);
    CHECK(here.header("Cairn-Served-By").empty());
    // Its event stream, asked of another node, is redirected to the owner.
    auto other = (via + 1) % 3;
    auto events =
      test::http_call(c.http_port(other), "GET", "/api/v1/plans/" + id.substr(5) + "/events");
    CHECK(events.status == 307);
    CHECK(events.header("Location")
          == "http://127.0.0.1:" + std::to_string(c.http_port(via)) + "/api/v1/plans/"
               + id.substr(5) + "/events");
  }
  // A keyed plan's id is fixed: one that another node owns is answered
  // with where it stands (not waited for here) and read anywhere.
  std::string key, id;
  for (int k = 0; k < 64 && key.empty(); ++k) {
    auto r =
      test::http_call(c.http_port(0), "POST", "/api/v1/plans",
                      R"({"idempotency_key":"k)" + std::to_string(k) + R"(",)" + plan.substr(1));
    INFO(r.status << " " << r.body);
    REQUIRE((r.status == 201 || r.status == 202));
    id = field(boost::json::parse(r.body).as_object(), "id");
    if (!test::http_call(c.http_port(0), "GET", "/api/v1/plans/" + id.substr(5))
           .header("Cairn-Served-By")
           .empty())
      key = "k" + std::to_string(k);
  }
  REQUIRE(!key.empty());
  REQUIRE(test::eventually(
    [&] {
      auto p = test::http_call(c.http_port(0), "GET", "/api/v1/plans/" + id.substr(5));
      return p.body.find("\"state\":\"succeeded\"") != std::string::npos;
    },
    std::chrono::seconds{30}));
}

TEST_CASE("a message sent with one key through every node is taken once by its owner",
          "[cluster]") {
  test::local_cluster c{3, shards};
  c.start_all();
  REQUIRE(test::eventually([&] { return c.balanced(); }, std::chrono::seconds{60}));
  auto id = actor_owned_by(c, "source", "n3");
  auto path = "/api/v1/actors/source%2F" + id.substr(id.find('/') + 1);
  auto send = [&](size_t via, const std::string& key) {
    return test::http_call(c.http_port(via), "POST", path + "/messages",
                           R"({"type":"chain.produce/v1","payload":{"count":0,"batch":1},)"
                           R"("idempotency_key":")"
                             + key + R"("})")
      .status;
  };
  // The same key through n1, n2 and n3 (each claims it as it accepts; the
  // owner claims it as the rows arrive), then another key.
  for (size_t via : {0, 1, 2, 1, 0}) {
    auto status = send(via, "same");
    CHECK((status == 202 || status == 200));
  }
  CHECK(send(0, "other") == 202);
  auto settled = [&] {
    for (size_t i = 0; i < 3; ++i)
      if (c.metric(i, "cairn_cluster_outbox_depth") != 0)
        return false;
    auto r = test::http_call(c.http_port(2), "GET", path);
    return r.body.find("\"mailbox_depth\":0,") != std::string::npos
           && r.body.find("\"journal_length\":0,") == std::string::npos;
  };
  REQUIRE(test::eventually(settled, std::chrono::seconds{60}));
  auto r = test::http_call(c.http_port(2), "GET", path);
  INFO(r.body);
  CHECK(r.body.find("\"journal_length\":2,") != std::string::npos);
}
