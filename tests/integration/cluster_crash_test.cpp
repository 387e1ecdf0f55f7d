// SPDX-License-Identifier: Apache-2.0
// Invariants 1 and 2 across nodes (docs/cluster.md, "Tests"): the chain
// workload (source -> hop_a -> hop_b -> hop_c) on three nodes, its actors
// hashed over all of them so most hops cross a node, started through all
// three nodes' APIs. Nodes are killed with SIGKILL at moments chosen by the
// work done (never by the clock) and started again; afterwards every hop's
// journal, read from the data directories, holds every item once and in
// order, and no outbox holds a row.
#include <csignal>
#include <random>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "cluster_chains.hpp"
#include "http_client.hpp"
#include "local_cluster.hpp"
#include "wait.hpp"

using namespace cairn;
using namespace cairn::test;

namespace {

constexpr uint32_t shards = 32;

} // namespace

TEST_CASE("three nodes killed with SIGKILL at 20 moments lose and double nothing across nodes",
          "[cluster][crash][invariant1][invariant2]") {
  uint32_t chains = 6; // more start when the cluster finished before the last kill
  constexpr uint32_t max_chains = 18;
  constexpr uint64_t per_chain = 50'000;
  constexpr int kills_wanted = 20;
  constexpr uint32_t seed = 20'261'202;
  std::mt19937 rng{seed};
  std::uniform_int_distribution<int64_t> steps_before_kill{200, 2'000};
  test::local_cluster c{3, shards};
  c.start_all();
  REQUIRE(test::eventually([&] { return c.balanced(); }, std::chrono::seconds{60}));
  for (uint32_t ch = 0; ch < chains; ++ch)
    start_chain(c, ch % 3, ch, per_chain);
  int kills = 0;
  while (kills < kills_wanted) {
    auto victim = static_cast<size_t>(kills % 3);
    // Steps the cluster commits from now on, counted on the nodes running
    // now (their counters only grow until one is killed).
    auto base = processed(c);
    auto target = base + steps_before_kill(rng);
    bool reached =
      test::eventually([&] { return processed(c) >= target || finished(c, chains, per_chain); },
                       std::chrono::minutes{5});
    if (!reached) {
      for (size_t i = 0; i < c.size(); ++i)
        UNSCOPED_INFO(c.node_id(i) << ": " << boost::json::serialize(c.status(i)) << "\n"
                                   << c.process(i).output().substr(0, 4000));
      UNSCOPED_INFO(progress_report(c, chains));
    }
    REQUIRE(reached);
    // Asked once: the last chain may finish between two asks.
    bool done = finished(c, chains, per_chain);
    if (done && chains < max_chains) {
      // A fast cluster ran out of work before the last kill: more of it.
      start_chain(c, chains % 3, chains, per_chain);
      ++chains;
      continue;
    }
    REQUIRE_FALSE(done); // every kill hits a cluster with work left
    c.kill(victim);
    ++kills;
    INFO(c.last_error());
    REQUIRE(c.start(victim));
  }
  INFO("kills: " << kills << ", seed " << seed);
  REQUIRE(
    test::eventually([&] { return finished(c, chains, per_chain); }, std::chrono::minutes{10}));
  REQUIRE(test::eventually([&] { return outboxes_empty(c); }, std::chrono::minutes{2}));
  for (size_t i = 0; i < c.size(); ++i)
    CHECK(c.stop(i) == 0);
  check_data(c, chains, per_chain);
}

TEST_CASE("a receiver killed between its persist and its ack: the sender resends, the receiver "
          "skips what it has",
          "[cluster][crash][invariant2]") {
  constexpr uint32_t chains = 4;
  constexpr uint64_t per_chain = 2'000;
  test::local_cluster c{2, shards};
  REQUIRE(c.start(0));
  // n2 dies right after persisting its 3rd forwarded batch, before acknowledging it.
  REQUIRE(c.start(1, {"CAIRN_TEST_POINTS=cluster.ingress.after_persist=kill@3"}));
  REQUIRE(
    test::eventually([&] { return !c.running(1) || c.balanced(); }, std::chrono::seconds{60}));
  for (uint32_t ch = 0; ch < chains; ++ch)
    start_chain(c, 0, ch, per_chain);
  REQUIRE(c.process(1).wait(std::chrono::minutes{2}) == 128 + SIGKILL);
  CHECK(c.process(1).output().find("cluster.ingress.after_persist") != std::string::npos);
  REQUIRE(c.start(1));
  REQUIRE(
    test::eventually([&] { return finished(c, chains, per_chain); }, std::chrono::minutes{5}));
  REQUIRE(test::eventually([&] { return outboxes_empty(c); }, std::chrono::minutes{2}));
  // The batch n1 sent again reached the restarted n2, which skipped it.
  CHECK(c.metric(1, "cairn_cluster_duplicates_total") >= 1);
  for (size_t i = 0; i < c.size(); ++i)
    CHECK(c.stop(i) == 0);
  check_data(c, chains, per_chain);
}
