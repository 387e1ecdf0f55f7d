// SPDX-License-Identifier: Apache-2.0
// The rebalancer's plan and the documents it reads (docs/cluster.md): pure
// functions, tested without etcd.
#include <catch2/catch.hpp>

#include "cluster_impl.hpp"
#include "transport.hpp"

using namespace cairn::cluster;

namespace {

cluster_view view_of(uint32_t shards, std::vector<std::string> members, const std::string& owner) {
  cluster_view v;
  v.shards = shards;
  v.shard.resize(shards);
  for (auto& s : v.shard) {
    s.owner = owner;
    s.epoch = 1;
  }
  for (auto& m : members)
    v.members[m] = member_info{m, "127.0.0.1", 1, "", "", "active", 0};
  return v;
}

std::map<std::string, int> counts_after(cluster_view v, const std::vector<planned_move>& moves) {
  for (auto& m : moves)
    v.shard[m.shard].owner = m.to;
  std::map<std::string, int> n;
  for (auto& s : v.shard)
    ++n[s.owner];
  return n;
}

} // namespace

TEST_CASE("the rebalancer evens a new cluster out from its creator", "[cluster]") {
  auto v = view_of(32, {"n1", "n2", "n3"}, "n1");
  auto moves = plan_moves(v, 64);
  auto n = counts_after(v, moves);
  CHECK(n["n1"] + n["n2"] + n["n3"] == 32);
  for (auto id : {"n1", "n2", "n3"}) {
    CHECK(n[id] >= 10);
    CHECK(n[id] <= 11);
  }
  for (auto& m : moves)
    CHECK(m.from == "n1");
}

TEST_CASE("the rebalancer moves nothing while a move is under way, or alone", "[cluster]") {
  auto v = view_of(8, {"n1", "n2"}, "n1");
  v.shard[3].state = "moving";
  v.shard[3].target = "n2";
  CHECK(plan_moves(v, 64).empty());
  CHECK(plan_moves(view_of(8, {"n1"}, "n1"), 64).empty());
}

TEST_CASE("the rebalancer never moves a shard whose owner is gone, and takes one source per "
          "round",
          "[cluster]") {
  // n3 owns shards but has no member key (down): its shards wait for it.
  auto w = view_of(8, {"n1", "n2"}, "n3");
  CHECK(plan_moves(w, 64).empty());
  auto v = view_of(12, {"n1", "n2", "n3"}, "n1");
  for (uint32_t s = 0; s < 4; ++s)
    v.shard[s].owner = "n2";
  auto moves = plan_moves(v, 64);
  REQUIRE_FALSE(moves.empty());
  for (auto& m : moves)
    CHECK(m.from == "n1");
  CHECK(plan_moves(v, 1).size() == 1);
}

TEST_CASE("a draining member gives every shard away, to the least loaded", "[cluster]") {
  auto v = view_of(9, {"n1", "n2", "n3"}, "n1");
  for (uint32_t s = 3; s < 6; ++s)
    v.shard[s].owner = "n2";
  for (uint32_t s = 6; s < 9; ++s)
    v.shard[s].owner = "n3";
  v.draining.insert("n3");
  auto moves = plan_moves(v, 64);
  REQUIRE(moves.size() == 3);
  auto n = counts_after(v, moves);
  CHECK(n["n3"] == 0);
  CHECK(n["n1"] + n["n2"] == 9);
  for (auto& m : moves)
    CHECK(m.from == "n3");
  // Once it owns nothing, the others are balanced and nothing moves.
  for (auto& m : moves)
    v.shard[m.shard].owner = m.to;
  CHECK(plan_moves(v, 64).empty());
}

TEST_CASE("a member that drained and is leaving takes no shard", "[cluster]") {
  // n3 gave its shards away and deleted its drain key; its member key stays
  // until it exits, saying it drained.
  auto v = view_of(8, {"n1", "n2", "n3"}, "n1");
  v.members["n3"].state = "drained";
  auto moves = plan_moves(v, 64);
  REQUIRE_FALSE(moves.empty());
  for (auto& m : moves)
    CHECK(m.to == "n2");
  auto n = counts_after(v, moves);
  CHECK(n["n1"] == 4);
  CHECK(n["n2"] == 4);
}

TEST_CASE("member and shard documents read back what was written", "[cluster]") {
  member_info m{"n2", "127.0.0.1", 40123, "http://127.0.0.1:8082", "abc", "active", 42};
  auto back = parse_member("n2", member_json(m));
  REQUIRE(back);
  CHECK(back->caf_host == "127.0.0.1");
  CHECK(back->caf_port == 40123);
  CHECK(back->http == m.http);
  CHECK(back->incarnation == "abc");
  shard_info s;
  s.owner = "n1";
  s.epoch = 7;
  s.state = "moving";
  s.target = "n3";
  auto sb = parse_shard(shard_json(s));
  REQUIRE(sb);
  CHECK(sb->owner == "n1");
  CHECK(sb->epoch == 7);
  CHECK(sb->state == "moving");
  CHECK(sb->target == "n3");
  CHECK_FALSE(parse_member("n2", "not json"));
  CHECK(shard_key(7) == "/cairn/shards/0007");
}

TEST_CASE("a map read earlier but published later does not replace a newer one",
          "[cluster][view]") {
  // The cluster loop and the handover thread both read the map from etcd and
  // publish it; the older read may finish last, and a node acting on it
  // would route by an owner that has since changed.
  cluster_node::impl node;
  cluster_view newer = view_of(4, {"n1", "n2"}, "n2");
  newer.read_at = 9;
  cluster_view older = view_of(4, {"n1", "n2"}, "n1");
  older.read_at = 7;
  CHECK(node.publish_view(newer));
  CHECK_FALSE(node.publish_view(older));
  REQUIRE(node.current());
  CHECK(node.current()->read_at == 9);
  CHECK(node.current()->shard[0].owner == "n2");
  cluster_view same = view_of(4, {"n1", "n2"}, "n1");
  same.read_at = 9; // two reads at one revision saw the same map
  CHECK(node.publish_view(same));
  cluster_view later = view_of(4, {"n1", "n2", "n3"}, "n3");
  later.read_at = 12;
  CHECK(node.publish_view(later));
  CHECK(node.current()->shard[0].owner == "n3");
}
