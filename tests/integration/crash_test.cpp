// SPDX-License-Identifier: Apache-2.0
// The crash test: a real `cairn node` runs the chain workload (source ->
// hop_a -> hop_b -> hop_c) and is killed with SIGKILL at random moments, then
// restarted each time. Afterwards every hop's journal must hold every item
// exactly once and in order: accepted work is never lost nor applied twice.
//
// A kill moment is a point in the work, not on the clock: each run is killed
// once the node reports (cairn_processed_total on /metrics) a seeded random
// number of steps committed by that run, so the 20 kills together take far
// less than the whole workload on any machine, fast or slow.
#include <csignal>
#include <random>
#include <regex>

#include <catch2/catch.hpp>

#include "cairn/actors/chain.hpp"
#include "cairn/codec.hpp"
#include "cairn/storage.hpp"
#include "http_client.hpp"
#include "internal/commit_coordinator.hpp"
#include "internal/keys.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;

namespace {

constexpr uint32_t chains = 4;
constexpr uint64_t messages = 100'000; // over all chains
constexpr int kills_wanted = 20;
// Steps of the whole workload: every item on three hops plus the source's
// batches. The kills happen after at most 20 x 6,000 = 120,000 steps in all
// (plus what a node does between our look at its progress and the kill),
// well short of the 300,000-odd the workload needs.
constexpr uint64_t min_steps_per_run = 200;
constexpr uint64_t max_steps_per_run = 6'000;
constexpr uint32_t seed = 20'261'201;

/// Steps this node process committed so far (its cairn_processed_total), or
/// -1 when the node does not answer.
int64_t processed(uint16_t port) {
  auto r = test::http_call(port, "GET", "/metrics");
  static const std::regex re{R"((^|\n)cairn_processed_total (\d+))"};
  std::smatch m;
  if (r.status != 200 || !std::regex_search(r.body, m, re))
    return -1;
  return std::stoll(m[2].str());
}

std::vector<std::string> node_args(const std::string& data) {
  return {"node",
          "--data",
          data,
          "--workload",
          "chain",
          "--chains",
          std::to_string(chains),
          "--messages",
          std::to_string(messages),
          "--exit-when-idle",
          "--no-progress",
          "--log-level",
          "warn",
          "--http",
          "127.0.0.1:0"};
}

} // namespace

TEST_CASE("a node killed with SIGKILL at 20 random moments processes every message exactly "
          "once and in per-sender order",
          "[crash][invariant1][invariant2]") {
  test::temp_dir dir;
  auto data = dir.sub("data");
  std::mt19937 rng{seed};
  std::uniform_int_distribution<uint64_t> steps_before_kill{min_steps_per_run, max_steps_per_run};
  int kills = 0;
  int runs = 0;
  bool finished_early = false;
  while (kills < kills_wanted) {
    test::node_process node{node_args(data)};
    ++runs;
    REQUIRE(node.wait_for_output("cairn node ready"));
    auto port = test::port_from_banner(node.output());
    REQUIRE(port != 0);
    // A random kill point in the work (any point must be safe).
    auto target = static_cast<int64_t>(steps_before_kill(rng));
    bool reached = test::eventually([&] { return !node.running() || processed(port) >= target; },
                                    std::chrono::minutes{5});
    if (!node.running()) {
      finished_early = true;
      break;
    }
    REQUIRE(reached);
    node.signal(SIGKILL);
    REQUIRE(node.wait() == 128 + SIGKILL);
    ++kills;
  }
  INFO("runs: " << runs << ", kills: " << kills << ", seed " << seed);
  REQUIRE_FALSE(finished_early); // every kill must have hit a node with work left
  REQUIRE(kills == kills_wanted);
  {
    test::node_process last{node_args(data)};
    REQUIRE(last.wait(std::chrono::minutes{10}) == 0);
  }

  auto st = open_rocksdb({data, false});
  REQUIRE(st);
  auto& store = **st;
  const uint64_t per_chain = messages / chains;
  for (uint32_t c = 0; c < chains; ++c) {
    for (std::string kind : {"hop_a", "hop_b", "hop_c"}) {
      auto actor = kind + "/" + std::to_string(c);
      uint64_t expected = 0;
      bool in_order = true;
      REQUIRE_FALSE(store.scan(column::journal, keys::actor_prefix(actor), "",
                               [&](std::string_view, std::string_view v) {
                                 auto ev = decode<internal::journal_record>(v);
                                 REQUIRE(ev);
                                 auto item = decode<actors::chain_item>(ev->payload);
                                 REQUIRE(item);
                                 if (item->chain != c || item->seq != expected)
                                   in_order = false;
                                 ++expected;
                                 return in_order;
                               }));
      INFO(actor << " journaled " << expected << " items");
      CHECK(in_order);
      CHECK(expected == per_chain);
    }
  }
  size_t mailbox = 0, dead = 0;
  REQUIRE_FALSE(store.scan(column::mailbox, "", "", [&](auto, auto) { return ++mailbox, true; }));
  REQUIRE_FALSE(store.scan(column::dead, "", "", [&](auto, auto) { return ++dead, true; }));
  CHECK(mailbox == 0);
  CHECK(dead == 0);
}
