// SPDX-License-Identifier: Apache-2.0
// Planned moves carry the data (docs/cluster.md, "Shard handoff with data"):
// a node drained under load hands every shard over with its mailbox,
// journal, snapshot and idempotency rows and then stops by itself; a node
// joining under load takes its share over the same way. The chain workload
// runs throughout; afterwards every hop's journal lives on exactly one node
// and holds every item once and in order, and no node keeps a row it does
// not own.
#include <algorithm>
#include <set>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "cairn/actors/chain.hpp"
#include "cairn/codec.hpp"
#include "cairn/placement.hpp"
#include "cairn/storage.hpp"
#include "cluster_chains.hpp"
#include "http_client.hpp"
#include "internal/commit_coordinator.hpp"
#include "internal/keys.hpp"
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
  // Every wait below is bounded so that together they end before the test's
  // 600 s limit: a stuck drain then reports where it stood instead of being
  // killed silently.
  node_process drain{{"cluster", "drain", "n3", "--wait", "--timeout", "200", "--node",
                      "http://127.0.0.1:" + std::to_string(c.http_port(0))}};
  auto rc = drain.wait(std::chrono::seconds{230});
  INFO(drain.output());
  if (rc != 0)
    UNSCOPED_INFO(boost::json::serialize(c.status(0)) << "\n"
                                                      << boost::json::serialize(c.status(2)) << "\n"
                                                      << progress_report(c, chains));
  CHECK(rc == 0);
  CHECK(drain.output().find("n3 drained") != std::string::npos);
  // n3 stopped by itself once it owned nothing and had forwarded everything.
  REQUIRE(c.process(2).wait(std::chrono::minutes{1}) == 0);
  CHECK(c.process(2).output().find("cairn node drained") != std::string::npos);
  CHECK(imported(c) > 0); // the rows went with the shards
  bool done = eventually([&] { return finished(c, chains, per_chain); }, std::chrono::minutes{4});
  if (!done)
    UNSCOPED_INFO(progress_report(c, chains));
  REQUIRE(done);
  // No shard went toward n3 as it left: such a handover waits for it,
  // frozen, until it is given up (a drained node leaving looked like the
  // least loaded member to the rebalancer).
  CHECK(metric_sum(c, "cairn_cluster_moves_aborted_total") == 0);
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

namespace {

/// Chain ids whose source `owner` owns (its timers are written there).
std::vector<uint32_t> chains_sourced_on(local_cluster& c, const std::string& owner, size_t n) {
  auto owners = c.status(0).at("owners").as_array();
  std::vector<uint32_t> out;
  for (uint32_t ch = 100; ch < 10'000 && out.size() < n; ++ch)
    if (owners[shard_of("source/" + std::to_string(ch), shards)] == boost::json::value(owner))
      out.push_back(ch);
  return out;
}

void start_delayed(local_cluster& c, uint32_t chain, uint64_t count, uint64_t delay_ms) {
  auto body = "{\"type\": \"chain.produce/v1\", \"payload\": {\"count\": " + std::to_string(count)
              + ", \"batch\": 50, \"delay_ms\": " + std::to_string(delay_ms) + "}}";
  REQUIRE(http_call(c.http_port(0), "POST",
                    "/api/v1/actors/source%2F" + std::to_string(chain) + "/messages", body)
            .status
          == 202);
}

int64_t journal_length(local_cluster& c, const std::string& actor) {
  auto r = http_call(c.http_port(0), "GET",
                     "/api/v1/actors/" + actor.substr(0, actor.find('/')) + "%2F"
                       + actor.substr(actor.find('/') + 1));
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (r.status != 200 || ec || !v.is_object() || !v.as_object().contains("journal_length"))
    return -1;
  return v.as_object().at("journal_length").to_number<int64_t>();
}

} // namespace

TEST_CASE("a drained node's timers go to their receivers' owners and fire there once",
          "[cluster][move][timers]") {
  local_cluster c{3, shards};
  c.start_all();
  REQUIRE(eventually([&] { return c.balanced(); }, std::chrono::seconds{60}));
  // Sources on n3: their items wait in n3's timer rows. Two chains wait an
  // hour (they must still be waiting, elsewhere, once n3 is gone), two wait
  // a few seconds (they fire wherever their timers are by then).
  auto ids = chains_sourced_on(c, "n3", 4);
  REQUIRE(ids.size() == 4);
  constexpr uint64_t count = 300;
  for (size_t k = 0; k < 4; ++k)
    start_delayed(c, ids[k], count, k < 2 ? 3'600'000 : 4'000);
  // Every item scheduled: each source journaled its six batches.
  REQUIRE(eventually(
    [&] {
      for (auto ch : ids)
        if (journal_length(c, "source/" + std::to_string(ch)) != count / 50)
          return false;
      return true;
    },
    std::chrono::seconds{60}));
  node_process drain{{"cluster", "drain", "n3", "--wait", "--timeout", "300", "--node",
                      "http://127.0.0.1:" + std::to_string(c.http_port(0))}};
  auto rc = drain.wait(std::chrono::minutes{6});
  INFO(drain.output());
  REQUIRE(rc == 0);
  REQUIRE(c.process(2).wait(std::chrono::minutes{2}) == 0);
  // The short ones fire, each item once, on whichever node holds them.
  for (size_t k = 2; k < 4; ++k)
    for (std::string hop : {"hop_a/", "hop_b/", "hop_c/"})
      REQUIRE(eventually([&] { return journal_length(c, hop + std::to_string(ids[k])) == count; },
                         std::chrono::minutes{2}));
  // The hour-long ones wait on n1 and n2, each once: the merged list.
  auto listed = http_call(c.http_port(0), "GET", "/api/v1/timers?limit=10000");
  REQUIRE(listed.status == 200);
  auto timers = boost::json::parse(listed.body).as_object();
  CHECK(timers.at("missing").as_array().empty());
  std::set<std::string> envelopes;
  size_t waiting = 0;
  for (auto& t : timers.at("timers").as_array()) {
    auto to = std::string{t.at("to").as_string()};
    if (to == "hop_a/" + std::to_string(ids[0]) || to == "hop_a/" + std::to_string(ids[1])) {
      ++waiting;
      envelopes.insert(std::string{t.at("envelope_id").as_string()});
    }
  }
  CHECK(waiting == 2 * count);
  CHECK(envelopes.size() == 2 * count);
  for (size_t i = 0; i < 2; ++i)
    CHECK(c.stop(i) == 0);
  // n3 keeps no timer; the fired items are in the journals once each.
  std::map<std::string, std::vector<uint64_t>> seqs;
  for (size_t i = 0; i < 3; ++i) {
    auto st = open_rocksdb({c.data_dir(i), false});
    REQUIRE(st);
    size_t timer_rows = 0;
    REQUIRE_FALSE(
      (*st)->scan(column::timer, "", "", [&](auto, auto) { return ++timer_rows, true; }));
    if (i == 2)
      CHECK(timer_rows == 0);
    for (size_t k = 2; k < 4; ++k)
      for (std::string hop : {"hop_a/", "hop_b/", "hop_c/"}) {
        auto actor = hop + std::to_string(ids[k]);
        REQUIRE_FALSE((*st)->scan(column::journal, keys::actor_prefix(actor), "",
                                  [&](std::string_view, std::string_view v) {
                                    auto ev = decode<internal::journal_record>(v);
                                    REQUIRE(ev);
                                    auto item = decode<actors::chain_item>(ev->payload);
                                    REQUIRE(item);
                                    seqs[actor].push_back(item->seq);
                                    return true;
                                  }));
      }
  }
  std::vector<uint64_t> all(count);
  for (uint64_t k = 0; k < count; ++k)
    all[k] = k;
  for (auto& [actor, got] : seqs) {
    INFO(actor);
    std::sort(got.begin(), got.end()); // timers promise "once", not an order
    CHECK(got == all);
  }
  CHECK(seqs.size() == 6);
}
