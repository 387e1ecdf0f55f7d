// SPDX-License-Identifier: Apache-2.0
// A cluster from a user's side: three `cairn node` processes and a real etcd
// on this machine. They form one cluster, share its shards out, say so
// through GET /api/v1/cluster and `cairn cluster status`, refuse a second
// node with a member's id, and a node killed and started again takes its
// place at once (its old lease is revoked, not waited out).
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "cairn/placement.hpp"

#include "http_client.hpp"
#include "local_cluster.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;

namespace {

constexpr uint32_t shards = 24;

std::string cli_output(const std::vector<std::string>& args) {
  test::node_process p{args};
  p.wait(std::chrono::seconds{60});
  return p.output();
}

} // namespace

TEST_CASE("three nodes form one cluster and share its shards out", "[cluster]") {
  // A long lease: a restarted node that had to wait for its old member key
  // to expire would be refused as "already running" instead.
  test::local_cluster c{3, shards, {"--cluster-lease-ttl", "60"}};
  c.start_all();
  REQUIRE(test::eventually([&] { return c.balanced(); }, std::chrono::seconds{60}));
  auto v = c.status(1);
  REQUIRE(v.is_object());
  CHECK(v.at("shards") == shards);
  CHECK(v.at("node_id") == "n2");
  CHECK(v.at("cluster_id") == c.status(0).at("cluster_id"));
  int64_t total = 0;
  for (auto& m : v.at("members").as_array()) {
    CHECK(m.at("shards").to_number<int64_t>() >= shards / 3);
    total += m.at("shards").to_number<int64_t>();
  }
  CHECK(total == shards);
  CHECK_FALSE(v.at("rebalancer").as_string().empty());

  SECTION("cairn cluster status prints members, shards and the rebalancer") {
    auto out = cli_output(
      {"cluster", "status", "--node", "http://127.0.0.1:" + std::to_string(c.http_port(2))});
    INFO(out);
    CHECK(out.find("node n3 in cluster") != std::string::npos);
    for (auto id : {"n1", "n2", "n3"})
      CHECK(out.find(std::string{id} + " ") != std::string::npos);
    CHECK(out.find("MEMBER") != std::string::npos);
    CHECK(out.find("fence valid") != std::string::npos);
    auto json = cli_output({"cluster", "status", "--json", "--node",
                            "http://127.0.0.1:" + std::to_string(c.http_port(2))});
    CHECK(json.find("\"members\"") != std::string::npos);
  }

  SECTION("a drain names a member and a body, or is refused with why") {
    auto port = c.http_port(0);
    auto unknown = test::http_call(port, "POST", "/api/v1/cluster/drain", "{\"node\": \"n9\"}");
    CHECK(unknown.status == 404);
    CHECK(unknown.body.find("unknown_node") != std::string::npos);
    CHECK(unknown.body.find("n9") != std::string::npos);
    auto bad = test::http_call(port, "POST", "/api/v1/cluster/drain", "{\"nod\": 1}");
    CHECK(bad.status == 400);
    auto out =
      cli_output({"cluster", "drain", "n9", "--node", "http://127.0.0.1:" + std::to_string(port)});
    CHECK(out.find("n9") != std::string::npos);
    // Nothing was asked: every member keeps its shards.
    CHECK(c.balanced());
  }

  SECTION("a second node with a member's id is refused, naming the id") {
    test::temp_dir other;
    auto args = c.args(1);
    for (size_t i = 0; i + 1 < args.size(); ++i)
      if (args[i] == "--data")
        args[i + 1] = other.sub("data");
    test::node_process dup{args};
    CHECK(dup.wait(std::chrono::seconds{60}) == 2);
    CHECK(dup.output().find("node n2 is already running") != std::string::npos);
  }

  SECTION("a killed node starts again at once and keeps its shards") {
    auto before = c.status(2).at("members");
    c.kill(2);
    REQUIRE(c.start(2));
    REQUIRE(test::eventually([&] { return c.balanced(); }, std::chrono::seconds{60}));
    auto owned = [](const boost::json::value& members, const std::string& id) {
      for (auto& m : members.as_array())
        if (m.at("node_id") == boost::json::value(id))
          return m.at("shards").to_number<int64_t>();
      return int64_t{-1};
    };
    CHECK(owned(c.status(2).at("members"), "n3") == owned(before, "n3"));
  }

  SECTION("a data directory belongs to one node id") {
    c.stop(2);
    auto args = c.args(2);
    for (size_t i = 0; i + 1 < args.size(); ++i)
      if (args[i] == "--node-id")
        args[i + 1] = "n9";
    test::node_process renamed{args};
    CHECK(renamed.wait(std::chrono::seconds{60}) == 2);
    CHECK(renamed.output().find("belongs to node 'n3'") != std::string::npos);
  }
}

TEST_CASE("a single node has no cluster and says so", "[cluster]") {
  test::temp_dir dir;
  test::node_process node{
    {"node", "--data", dir.sub("data"), "--http", "127.0.0.1:0", "--no-progress"}};
  REQUIRE(node.wait_for_output("cairn node ready"));
  auto r = test::http_call(test::port_from_banner(node.output()), "GET", "/api/v1/cluster");
  CHECK(r.status == 404);
  CHECK(r.body.find("not_clustered") != std::string::npos);
  auto d = test::http_call(test::port_from_banner(node.output()), "POST", "/api/v1/cluster/drain",
                           "{\"node\": \"n1\"}");
  CHECK(d.status == 404);
  CHECK(d.body.find("not_clustered") != std::string::npos);
}

TEST_CASE("cluster settings are checked before anything starts", "[cluster]") {
  test::temp_dir dir;
  SECTION("--cluster-etcd without --node-id") {
    test::node_process p{{"node", "--data", dir.sub("data"), "--http", "127.0.0.1:0",
                          "--cluster-etcd", "http://127.0.0.1:1"}};
    CHECK(p.wait(std::chrono::seconds{30}) == 2);
    CHECK(p.output().find("needs --node-id") != std::string::npos);
  }
  SECTION("a malformed node id") {
    test::node_process p{{"node", "--data", dir.sub("data"), "--http", "127.0.0.1:0",
                          "--cluster-etcd", "http://127.0.0.1:1", "--node-id", "Node_1"}};
    CHECK(p.wait(std::chrono::seconds{30}) == 2);
    CHECK(p.output().find("a-z, 0-9") != std::string::npos);
  }
  SECTION("etcd out of reach: a clear error, not a hang") {
    test::node_process p{{"node", "--data", dir.sub("data"), "--http", "127.0.0.1:0",
                          "--cluster-etcd", "http://127.0.0.1:" + std::to_string(test::free_port()),
                          "--node-id", "n1"}};
    CHECK(p.wait(std::chrono::seconds{60}) == 1);
    CHECK(p.output().find("cannot reach etcd") != std::string::npos);
  }
}

namespace {

/// An actor id of `kind` whose shard node `owner` owns, per node 0's map.
std::string actor_owned_by(test::local_cluster& c, const std::string& kind,
                           const std::string& owner) {
  auto v = c.status(0);
  auto& owners = v.at("owners").as_array();
  for (int k = 0; k < 10'000; ++k) {
    auto id = kind + "/" + std::to_string(k);
    if (owners[shard_of(id, static_cast<uint32_t>(owners.size()))] == boost::json::value(owner))
      return id;
  }
  return {};
}

int send_produce(test::local_cluster& c, size_t via, const std::string& id) {
  auto path = "/api/v1/actors/" + id.substr(0, id.find('/')) + "%2F" + id.substr(id.find('/') + 1)
              + "/messages";
  return test::http_call(c.http_port(via), "POST", path,
                         R"({"type": "chain.produce/v1", "payload": {"count": 0, "batch": 1}})")
    .status;
}

} // namespace

TEST_CASE("a peer's full outbox refuses new messages for that peer only, and drains when it "
          "returns",
          "[cluster]") {
  constexpr int cap = 20;
  test::local_cluster c{2, shards, {"--cluster-outbox-cap", std::to_string(cap)}};
  c.start_all();
  REQUIRE(test::eventually([&] { return c.balanced(); }, std::chrono::seconds{60}));
  auto remote = actor_owned_by(c, "source", "n2");
  auto local = actor_owned_by(c, "source", "n1");
  REQUIRE_FALSE(remote.empty());
  REQUIRE_FALSE(local.empty());
  c.kill(1);
  // n2 is down: n1 keeps what it accepts for n2's actors in its outbox, up to the cap.
  for (int k = 0; k < cap; ++k)
    REQUIRE(send_produce(c, 0, remote) == 202);
  CHECK(send_produce(c, 0, remote) == 429);
  CHECK(c.metric(0, "cairn_cluster_busy_total") >= 1);
  CHECK(c.metric(0, "cairn_cluster_outbox_depth") == cap);
  // Its own actors are not held back.
  CHECK(send_produce(c, 0, local) == 202);
  REQUIRE(c.start(1));
  // The outbox drains into n2, and n1 takes messages for n2 again.
  REQUIRE(test::eventually([&] { return c.metric(0, "cairn_cluster_outbox_depth") == 0; },
                           std::chrono::seconds{60}));
  CHECK(send_produce(c, 0, remote) == 202);
  auto remote_path = "/api/v1/actors/" + remote.substr(0, remote.find('/')) + "%2F"
                     + remote.substr(remote.find('/') + 1);
  // Every accepted message reached its owner: cap + 1 steps (the last may still run).
  REQUIRE(test::eventually(
    [&] {
      auto r = test::http_call(c.http_port(1), "GET", remote_path);
      return r.body.find("\"journal_length\":" + std::to_string(cap + 1) + ",")
             != std::string::npos;
    },
    std::chrono::seconds{60}));
}

TEST_CASE("with etcd down the nodes go on processing and forwarding, and when it returns the "
          "cluster is whole again with nothing moved",
          "[cluster]") {
  test::local_cluster c{3, shards, {"--cluster-lease-ttl", "2"}};
  c.start_all();
  REQUIRE(test::eventually([&] { return c.balanced(); }, std::chrono::seconds{60}));
  auto owners_before = c.status(0).at("owners");
  c.etcd().kill();
  // Work across all three nodes while etcd is away: accepted, forwarded, processed.
  std::vector<std::string> ids;
  for (auto owner : {"n1", "n2", "n3"})
    ids.push_back(actor_owned_by(c, "source", owner));
  for (size_t via = 0; via < 3; ++via)
    for (auto& id : ids)
      REQUIRE(send_produce(c, via, id) == 202);
  for (auto& id : ids) {
    auto path =
      "/api/v1/actors/" + id.substr(0, id.find('/')) + "%2F" + id.substr(id.find('/') + 1);
    REQUIRE(test::eventually(
      [&] {
        for (size_t i = 0; i < 3; ++i)
          if (test::http_call(c.http_port(i), "GET", path).body.find("\"journal_length\":3,")
              != std::string::npos)
            return true;
        return false;
      },
      std::chrono::seconds{60}));
  }
  // Still down, and longer than a lease: the etcd status says so.
  REQUIRE(test::eventually(
    [&] { return c.status(0).at("etcd").at("reachable") == boost::json::value(false); },
    std::chrono::seconds{30}));
  c.etcd().start();
  REQUIRE(test::eventually(
    [&] {
      auto v = c.status(1);
      return v.is_object() && v.at("etcd").at("reachable") == boost::json::value(true)
             && v.at("members").as_array().size() == 3 && c.balanced(1)
             && !v.at("rebalancer").as_string().empty();
    },
    std::chrono::seconds{60}));
  CHECK(c.status(2).at("owners") == owners_before);
}

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
