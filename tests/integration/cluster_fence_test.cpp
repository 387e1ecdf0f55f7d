// SPDX-License-Identifier: Apache-2.0
// Fencing (docs/cluster.md, "Fencing"): a node frozen with SIGSTOP past its
// lease, whose shards an operator gives away with `cairn cluster forget`,
// commits nothing for them when it wakes — its own deadline lapsed while it
// was frozen, and it reads the map before it works again — and it rejoins
// as a member with no shard. Checked in its data directory: no journal row
// of a shard it does not own was written after the freeze.
#include <csignal>
#include <set>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "cairn/codec.hpp"
#include "cairn/envelope.hpp"
#include "cairn/placement.hpp"
#include "cairn/storage.hpp"
#include "cluster_chains.hpp"
#include "internal/commit_coordinator.hpp"
#include "internal/keys.hpp"
#include "local_cluster.hpp"
#include "node_process.hpp"
#include "wait.hpp"

using namespace cairn;
using namespace cairn::test;

namespace {

constexpr uint32_t shards = 24;

std::string member_state(local_cluster& c, size_t via, const std::string& node) {
  auto v = c.status(via);
  if (!v.is_object())
    return "?";
  for (auto& m : v.at("members").as_array())
    if (m.at("node_id") == boost::json::value(node))
      return std::string{m.at("state").as_string()};
  return "none";
}

/// Shards owned by, or moving to, `node` in `v` (a status answer).
std::set<uint32_t> shards_of(const boost::json::value& v, const std::string& node) {
  std::set<uint32_t> out;
  auto& owners = v.at("owners").as_array();
  for (uint32_t s = 0; s < owners.size(); ++s)
    if (owners[s] == boost::json::value(node))
      out.insert(s);
  for (auto& m : v.at("moves").as_array())
    if (m.at("to") == boost::json::value(node))
      out.insert(static_cast<uint32_t>(m.at("shard").to_number<int64_t>()));
  return out;
}

} // namespace

TEST_CASE("a node frozen past its lease whose shards were forgotten commits nothing for them "
          "when it wakes, and rejoins with none",
          "[cluster][fencing]") {
  local_cluster c{3, shards, {"--cluster-lease-ttl", "2"}};
  c.start_all();
  REQUIRE(eventually([&] { return c.balanced(); }, std::chrono::seconds{60}));
  for (uint32_t ch = 0; ch < 6; ++ch)
    start_chain(c, ch % 2, ch, 200'000);
  // Work in n3's shards at the freeze: mail waits there and its actors run.
  REQUIRE(eventually(
    [&] {
      return c.metric(2, "cairn_processed_total") >= 2'000
             && c.metric(2, "cairn_mailbox_depth") > 0;
    },
    std::chrono::minutes{2}));
  c.process(2).signal(SIGSTOP);
  // The freeze's time is read once the kernel shows the node stopped: a
  // clock read before could precede a step the node still stamped and
  // committed, rightly, while it owned its shards.
  REQUIRE(eventually([&] { return c.process(2).stopped(); }, std::chrono::seconds{10}));
  auto frozen_at = now_ms();
  // Its lease runs out: the others see it gone.
  REQUIRE(
    eventually([&] { return member_state(c, 0, "n3") == "absent"; }, std::chrono::seconds{30}));
  // Refused while a member would be alive; here it is not: forgotten.
  node_process no{
    {"cluster", "forget", "n3", "--node", "http://127.0.0.1:" + std::to_string(c.http_port(0))}};
  CHECK(no.wait() == 2); // without --yes
  node_process forget{{"cluster", "forget", "n3", "--yes", "--node",
                       "http://127.0.0.1:" + std::to_string(c.http_port(0))}};
  INFO(forget.output());
  REQUIRE(forget.wait() == 0);
  REQUIRE(
    eventually([&] { return shards_of(c.status(0), "n3").empty(); }, std::chrono::seconds{30}));
  c.process(2).signal(SIGCONT);
  // It wakes with mail in shards it no longer owns: refused, not run. It
  // registers again under a new lease.
  bool rejoined = eventually(
    [&] {
      auto own = c.status(2);
      return member_state(c, 0, "n3") == "active" && own.is_object()
             && own.at("fence").at("valid") == boost::json::value(true);
    },
    std::chrono::seconds{60});
  INFO(c.process(2).output().substr(0, 4000));
  REQUIRE(rejoined);
  INFO("steps and messages refused by n3's fence: "
       << c.metric(2, "cairn_cluster_fence_refusals_total"));
  c.kill(2);
  // What n3 owns now (the rebalancer may have begun to give it shards back,
  // with their data): rows of those may be newer. No other row may be.
  auto mine = shards_of(c.status(0), "n3");
  auto st = open_rocksdb({c.data_dir(2), false});
  REQUIRE(st);
  size_t late = 0, rows = 0;
  std::string example;
  REQUIRE_FALSE((*st)->scan(column::journal, "", "", [&](std::string_view k, std::string_view v) {
    std::string_view actor;
    uint64_t seq = 0;
    if (!keys::split_actor_seq(k, actor, seq))
      return true;
    ++rows;
    auto rec = decode<internal::journal_record>(v);
    if (rec && rec->time_ms > frozen_at && mine.count(shard_of(actor, shards)) == 0) {
      ++late;
      example = std::string{actor};
    }
    return true;
  }));
  INFO("journal rows on n3: " << rows << ", written after the freeze in shards it lost: " << late
                              << " (e.g. " << example << ")");
  CHECK(rows > 0);
  CHECK(late == 0);
}
