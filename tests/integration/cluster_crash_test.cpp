// SPDX-License-Identifier: Apache-2.0
// Invariants 1 and 2 across nodes (docs/cluster.md, "Tests"): the chain
// workload (source -> hop_a -> hop_b -> hop_c) on three nodes, its actors
// hashed over all of them so most hops cross a node, started through all
// three nodes' APIs. Nodes are killed with SIGKILL at moments chosen by the
// work done (never by the clock) and started again; afterwards every hop's
// journal, read from the data directories, holds every item once and in
// order, and no outbox holds a row.
#include <csignal>
#include <map>
#include <random>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "cairn/actors/chain.hpp"
#include "cairn/codec.hpp"
#include "cairn/storage.hpp"
#include "http_client.hpp"
#include "internal/commit_coordinator.hpp"
#include "internal/keys.hpp"
#include "local_cluster.hpp"
#include "wait.hpp"

using namespace cairn;

namespace {

constexpr uint32_t shards = 32;

/// Starts chain `c` with `per_chain` items through node `via`'s API.
void start_chain(test::local_cluster& c, size_t via, uint32_t chain, uint64_t per_chain) {
  auto body =
    "{\"type\": \"chain.produce/v1\", \"payload\": {\"count\": " + std::to_string(per_chain)
    + ", \"batch\": 64}, \"idempotency_key\": \"start-" + std::to_string(chain) + "\"}";
  int status = 0;
  REQUIRE(test::eventually(
    [&] {
      status =
        test::http_call(c.http_port(via), "POST",
                        "/api/v1/actors/source%2F" + std::to_string(chain) + "/messages", body)
          .status;
      return status == 202 || status == 201 || status == 200;
    },
    std::chrono::seconds{30}));
}

/// Steps committed by the running nodes since each started.
int64_t processed(test::local_cluster& c) {
  int64_t sum = 0;
  for (size_t i = 0; i < c.size(); ++i)
    if (c.running(i))
      sum += std::max<int64_t>(0, c.metric(i, "cairn_processed_total"));
  return sum;
}

/// hop_c journals complete on whichever node owns each.
bool finished(test::local_cluster& c, uint32_t chains, uint64_t per_chain) {
  for (uint32_t ch = 0; ch < chains; ++ch) {
    bool found = false;
    for (size_t i = 0; i < c.size() && !found; ++i) {
      auto r =
        test::http_call(c.http_port(i), "GET", "/api/v1/actors/hop_c%2F" + std::to_string(ch));
      found = r.status == 200
              && r.body.find("\"journal_length\":" + std::to_string(per_chain) + ",")
                   != std::string::npos;
    }
    if (!found)
      return false;
  }
  return true;
}

/// Where every chain actor stands, for a failure's message.
std::string progress_report(test::local_cluster& c, uint32_t chains) {
  std::string out;
  for (size_t i = 0; i < c.size(); ++i)
    out += c.node_id(i) + " pending " + std::to_string(c.metric(i, "cairn_mailbox_depth")) + "; ";
  for (uint32_t ch = 0; ch < chains; ++ch)
    for (std::string kind : {"source", "hop_a", "hop_b", "hop_c"})
      for (size_t i = 0; i < c.size(); ++i) {
        auto r = test::http_call(c.http_port(i), "GET",
                                 "/api/v1/actors/" + kind + "%2F" + std::to_string(ch));
        if (r.status == 200)
          out += c.node_id(i) + ":" + kind + "/" + std::to_string(ch) + " " + r.body + "\n";
      }
  return out;
}

bool outboxes_empty(test::local_cluster& c) {
  for (size_t i = 0; i < c.size(); ++i)
    if (c.metric(i, "cairn_cluster_outbox_depth") != 0)
      return false;
  return true;
}

/// Reads every data directory (the nodes are stopped): each hop's journal
/// lives on one node and holds items 0..per_chain-1 in order; no outbox or
/// mailbox row is left anywhere.
void check_data(test::local_cluster& c, uint32_t chains, uint64_t per_chain) {
  std::map<std::string, std::vector<uint64_t>> items; // actor -> seqs, over all nodes
  std::map<std::string, int> holders;
  for (size_t i = 0; i < c.size(); ++i) {
    auto st = open_rocksdb({c.data_dir(i), false});
    REQUIRE(st);
    auto& store = **st;
    for (uint32_t ch = 0; ch < chains; ++ch) {
      for (std::string kind : {"hop_a", "hop_b", "hop_c"}) {
        auto actor = kind + "/" + std::to_string(ch);
        bool any = false;
        REQUIRE_FALSE(store.scan(column::journal, keys::actor_prefix(actor), "",
                                 [&](std::string_view, std::string_view v) {
                                   auto ev = decode<internal::journal_record>(v);
                                   REQUIRE(ev);
                                   auto item = decode<actors::chain_item>(ev->payload);
                                   REQUIRE(item);
                                   // Another chain's item: counted as out of order below.
                                   items[actor].push_back(item->chain == ch ? item->seq
                                                                            : UINT64_MAX);
                                   any = true;
                                   return true;
                                 }));
        holders[actor] += any ? 1 : 0;
      }
    }
    size_t outbox = 0, mailbox = 0, dead = 0;
    REQUIRE_FALSE(store.scan(column::outbox, "", "", [&](auto, auto) { return ++outbox, true; }));
    REQUIRE_FALSE(store.scan(column::mailbox, "", "", [&](auto, auto) { return ++mailbox, true; }));
    REQUIRE_FALSE(store.scan(column::dead, "", "", [&](auto, auto) { return ++dead, true; }));
    INFO(c.node_id(i));
    CHECK(outbox == 0);
    CHECK(mailbox == 0);
    CHECK(dead == 0);
  }
  for (uint32_t ch = 0; ch < chains; ++ch) {
    for (std::string kind : {"hop_a", "hop_b", "hop_c"}) {
      auto actor = kind + "/" + std::to_string(ch);
      INFO(actor);
      CHECK(holders[actor] == 1);
      auto& seqs = items[actor];
      CHECK(seqs.size() == per_chain);
      bool in_order = true;
      for (size_t k = 0; k < seqs.size(); ++k)
        in_order = in_order && seqs[k] == k;
      CHECK(in_order);
    }
  }
}

} // namespace

TEST_CASE("three nodes killed with SIGKILL at 20 moments lose and double nothing across nodes",
          "[cluster][crash][invariant1][invariant2]") {
  constexpr uint32_t chains = 6;
  constexpr uint64_t per_chain = 50'000;
  constexpr int kills_wanted = 20;
  constexpr uint32_t seed = 20'261'202;
  std::mt19937 rng{seed};
  std::uniform_int_distribution<int64_t> steps_before_kill{200, 2'000};
  test::local_cluster c{3, shards};
  c.start_all();
  REQUIRE(test::eventually([&] { return c.balanced(0); }, std::chrono::seconds{60}));
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
      test::eventually([&] { return processed(c) >= target; }, std::chrono::minutes{5});
    if (!reached) {
      for (size_t i = 0; i < c.size(); ++i)
        UNSCOPED_INFO(c.node_id(i) << ": " << boost::json::serialize(c.status(i)) << "\n"
                                   << c.process(i).output().substr(0, 4000));
      UNSCOPED_INFO(progress_report(c, chains));
    }
    REQUIRE(reached);
    REQUIRE_FALSE(finished(c, chains, per_chain)); // every kill hits a cluster with work left
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
    test::eventually([&] { return !c.running(1) || c.balanced(0); }, std::chrono::seconds{60}));
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
