// SPDX-License-Identifier: Apache-2.0
// Planned moves carry the data (docs/cluster.md, "Shard handoff with data"):
// a node drained under load hands every shard over with its mailbox,
// journal, snapshot and idempotency rows and then stops by itself; a node
// joining under load takes its share over the same way. The chain workload
// runs throughout; afterwards every hop's journal lives on exactly one node
// and holds every item once and in order, and no node keeps a row it does
// not own.
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "cluster_chains.hpp"
#include "local_cluster.hpp"
#include "node_process.hpp"
#include "wait.hpp"

using namespace cairn;
using namespace cairn::test;

namespace {

constexpr uint32_t shards = 32;
constexpr uint32_t chains = 6;
constexpr uint64_t per_chain = 20'000;

int64_t imported(local_cluster& c) {
  return metric_sum(c, "cairn_cluster_rows_imported_total");
}

} // namespace

TEST_CASE("a node drained under load hands its shards over with their data and stops with exit 0",
          "[cluster][move]") {
  local_cluster c{3, shards};
  c.start_all();
  REQUIRE(eventually([&] { return c.balanced(); }, std::chrono::seconds{60}));
  for (uint32_t ch = 0; ch < chains; ++ch)
    start_chain(c, ch % 2, ch, per_chain);
  // Under load: n3's actors have run and hold journals and mail.
  REQUIRE(eventually([&] { return c.metric(2, "cairn_processed_total") >= 2'000; },
                     std::chrono::minutes{2}));
  REQUIRE_FALSE(finished(c, chains, per_chain));
  node_process drain{{"cluster", "drain", "n3", "--wait", "--timeout", "300", "--node",
                      "http://127.0.0.1:" + std::to_string(c.http_port(0))}};
  auto rc = drain.wait(std::chrono::minutes{6});
  INFO(drain.output());
  CHECK(rc == 0);
  CHECK(drain.output().find("n3 drained") != std::string::npos);
  // n3 stopped by itself once it owned nothing and had forwarded everything.
  REQUIRE(c.process(2).wait(std::chrono::minutes{2}) == 0);
  CHECK(c.process(2).output().find("cairn node drained") != std::string::npos);
  CHECK(imported(c) > 0); // the rows went with the shards
  bool done = eventually([&] { return finished(c, chains, per_chain); }, std::chrono::minutes{10});
  if (!done)
    UNSCOPED_INFO(progress_report(c, chains));
  REQUIRE(done);
  REQUIRE(eventually([&] { return outboxes_empty(c); }, std::chrono::minutes{2}));
  for (size_t i = 0; i < 2; ++i)
    CHECK(c.stop(i) == 0);
  // Every item once and in order, each hop's journal on one node: n3 keeps
  // no journal, mailbox or outbox row.
  check_data(c, chains, per_chain);
}

TEST_CASE("a node joining under load takes its share of the shards over with their data",
          "[cluster][move]") {
  local_cluster c{3, shards};
  REQUIRE(c.start(0));
  REQUIRE(c.start(1));
  REQUIRE(eventually([&] { return c.balanced(); }, std::chrono::seconds{60}));
  for (uint32_t ch = 0; ch < chains; ++ch)
    start_chain(c, ch % 2, ch, per_chain);
  REQUIRE(eventually([&] { return processed(c) >= 3'000; }, std::chrono::minutes{2}));
  REQUIRE_FALSE(finished(c, chains, per_chain));
  INFO(c.last_error());
  REQUIRE(c.start(2));
  // n3 owns its share and works on it while the chains still run.
  bool took_over =
    eventually([&] { return c.balanced() && c.metric(2, "cairn_processed_total") >= 1'000; },
               std::chrono::minutes{3});
  if (!took_over)
    UNSCOPED_INFO(boost::json::serialize(c.status(2)) << "\n" << progress_report(c, chains));
  REQUIRE(took_over);
  CHECK(c.metric(2, "cairn_cluster_rows_imported_total") > 0);
  REQUIRE(eventually([&] { return finished(c, chains, per_chain); }, std::chrono::minutes{10}));
  REQUIRE(eventually([&] { return outboxes_empty(c); }, std::chrono::minutes{2}));
  for (size_t i = 0; i < c.size(); ++i)
    CHECK(c.stop(i) == 0);
  // A hop moved to n3 without its journal would have it split over two
  // nodes, and its items would start again: check_data fails on both.
  check_data(c, chains, per_chain);
}
