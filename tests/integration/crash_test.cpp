// SPDX-License-Identifier: Apache-2.0
// The crash test: a real `cairn node` runs the chain workload (source ->
// hop_a -> hop_b -> hop_c) and is killed with SIGKILL at random moments, then
// restarted each time. Afterwards every hop's journal must hold every item
// exactly once and in order: accepted work is never lost nor applied twice.
#include <csignal>
#include <random>
#include <thread>

#include <catch2/catch.hpp>

#include "cairn/actors/chain.hpp"
#include "cairn/codec.hpp"
#include "cairn/storage.hpp"
#include "internal/keys.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"

using namespace cairn;

namespace {

constexpr uint32_t chains = 4;
constexpr uint64_t messages = 100'000; // over all chains
constexpr int kills_wanted = 20;

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
  std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<int> moment_ms{20, 250};
  int kills = 0;
  int runs = 0;
  bool finished_early = false;
  while (kills < kills_wanted) {
    test::node_process node{node_args(data)};
    ++runs;
    REQUIRE(node.wait_for_output("cairn node ready"));
    // A random kill point (not a timing assertion: any moment must be safe).
    std::this_thread::sleep_for(std::chrono::milliseconds{moment_ms(rng)});
    if (!node.running()) {
      finished_early = true;
      break;
    }
    node.signal(SIGKILL);
    REQUIRE(node.wait() == 128 + SIGKILL);
    ++kills;
  }
  INFO("runs: " << runs << ", kills: " << kills);
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
                                 auto ev = decode<step_effects::event>(v);
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
