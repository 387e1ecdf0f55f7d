// SPDX-License-Identifier: Apache-2.0
// A cluster from a user's side: three `cairn node` processes and a real etcd
// on this machine. They form one cluster, share its shards out, say so
// through GET /api/v1/cluster and `cairn cluster status`, refuse a second
// node with a member's id, and a node killed and started again takes its
// place at once (its old lease is revoked, not waited out). A full outbox
// refuses messages for its peer only, and the nodes go on with etcd down.
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
