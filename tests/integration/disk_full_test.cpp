// SPDX-License-Identifier: Apache-2.0
// A real `cairn node` whose data directory is on a small tmpfs that fills up
// while orders are accepted and their steps commit, then gets space back.
#include <csignal>
#include <filesystem>

#include <catch2/catch.hpp>

#include "http_client.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"
#include "tmpfs_mount.hpp"
#include "wait.hpp"

using namespace cairn;
using namespace std::chrono_literals;

namespace {

const std::string order_json =
  R"({"type":"demo.place_order/v1","payload":{"customer":"c7","sku":"sku-milk",)"
  R"("region":"north","quantity":2,"amount_cents":1200}})";

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1))
    ++n;
  return n;
}

// Events in an actor's journal, or -1 if it cannot be read.
int journal_events(uint16_t port, const std::string& encoded_id) {
  auto r = test::http_call(port, "GET", "/api/v1/actors/" + encoded_id + "/journal?limit=100");
  if (r.status == 404)
    return 0;
  if (r.status != 200)
    return -1;
  return static_cast<int>(count_of(r.body, "\"seq\""));
}

bool pending_zero(uint16_t port) {
  auto r = test::http_call(port, "GET", "/api/v1/status");
  return r.status == 200 && r.body.find("\"pending\":0,") != std::string::npos;
}

} // namespace

TEST_CASE("a node on a full disk refuses work with 503, reports it, and resumes by itself "
          "without losing or doubling a message",
          "[disk-full][http]") {
  test::temp_dir tmp;
  std::filesystem::create_directories(tmp.sub("mnt"));
  test::tmpfs_mount mnt{tmp.sub("mnt"), 24};
  test::node_process node{{"node", "--data", mnt.dir() + "/data", "--http", "127.0.0.1:0",
                           "--no-progress", "--log-level", "warn", "--flaky-rate", "0"}};
  REQUIRE(node.wait_for_output("cairn node ready"));
  auto port = test::port_from_banner(node.output());
  REQUIRE(port != 0);
  auto post = [&](int n) {
    return test::http_call(
      port, "POST", "/api/v1/actors/order%2Fo" + std::to_string(n) + "/messages", order_json);
  };

  // Leave a little room, then send orders until the disk is full; the
  // orders' steps (intake, inventory, payment, ...) commit meanwhile.
  mnt.fill("filler", 384 * 1024);
  std::vector<int> accepted, refused;
  int n = 0;
  for (; n < 100'000 && refused.empty(); ++n) {
    auto r = post(n);
    if (r.status == 202) {
      accepted.push_back(n);
      continue;
    }
    INFO(r.status << " " << r.body);
    REQUIRE(r.status == 503);
    CHECK(r.header("content-type") == "application/problem+json");
    CHECK(r.body.find("\"code\":\"storage_write_failed\"") != std::string::npos);
    CHECK_FALSE(r.header("retry-after").empty());
    refused.push_back(n);
  }
  REQUIRE_FALSE(refused.empty());
  REQUIRE_FALSE(accepted.empty());
  REQUIRE(node.running());
  // Take what closing the failed database frees, too.
  mnt.fill("filler2", 0);

  // Reported: readiness, a metric, the status; reads are still served.
  REQUIRE(test::eventually([&] { return test::http_call(port, "GET", "/readyz").status == 503; }));
  auto ready = test::http_call(port, "GET", "/readyz");
  CHECK(ready.body.find("\"code\":\"storage_unwritable\"") != std::string::npos);
  CHECK(ready.body.find("not writable") != std::string::npos);
  auto metrics = test::http_call(port, "GET", "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find("\ncairn_storage_writable 0\n") != std::string::npos);
  CHECK(metrics.body.find("\ncairn_storage_outages_total ") != std::string::npos);
  CHECK(test::http_call(port, "GET", "/api/v1/status").status == 200);
  CHECK(journal_events(port, "order%2Fo" + std::to_string(accepted.front())) >= 0);
  // More work while the disk is full: refused, or accepted into the room that
  // closing the failed database freed (RocksDB returns its preallocated log
  // space); never an error of another kind, and the node lives on.
  for (int i = 0; i < 5; ++i, ++n) {
    auto r = post(n);
    if (r.status == 202) {
      accepted.push_back(n);
    } else {
      CHECK(r.status == 503);
      refused.push_back(n);
    }
  }
  REQUIRE(node.running());

  // Space comes back: the node resumes on its own.
  mnt.release("filler");
  mnt.release("filler2");
  REQUIRE(
    test::eventually([&] { return test::http_call(port, "GET", "/readyz").status == 200; }, 60s));
  metrics = test::http_call(port, "GET", "/metrics");
  CHECK(metrics.body.find("\ncairn_storage_writable 1\n") != std::string::npos);
  for (int i = 0; i < 3; ++i, ++n) {
    REQUIRE(post(n).status == 202);
    accepted.push_back(n);
  }

  // Every accepted order runs exactly once through intake and payment; a
  // refused one at most once (its write may have reached the log). An order's
  // journal holds its intake and the reports of its four hops (a repeated
  // intake would add an order_repeated event).
  REQUIRE(test::eventually([&] { return pending_zero(port); }, 120s));
  for (int id : accepted) {
    auto key = "o" + std::to_string(id);
    INFO("order " << key);
    CHECK(journal_events(port, "order%2F" + key) == 5);
    CHECK(journal_events(port, "payment%2F" + key) == 1);
  }
  for (int id : refused) {
    auto events = journal_events(port, "order%2Fo" + std::to_string(id));
    CHECK((events == 0 || events == 5));
  }
  CHECK(test::http_call(port, "GET", "/api/v1/dead-letters").body.find("\"id\"")
        == std::string::npos);

  // One log line when an outage started, one when it ended: not one per
  // attempt. (Usually one outage; the space freed by closing the failed
  // database may let one reopen succeed before the disk is filled again.)
  metrics = test::http_call(port, "GET", "/metrics");
  auto at = metrics.body.find("\ncairn_storage_outages_total ");
  REQUIRE(at != std::string::npos);
  auto outages = std::stoul(metrics.body.substr(at + 29));
  CHECK(outages >= 1);
  CHECK(outages <= 3);
  auto out = node.output();
  CHECK(count_of(out, "storage is not writable (") == outages);
  CHECK(count_of(out, "storage is writable again") == outages);
  node.signal(SIGTERM);
  CHECK(node.wait() == 0);
}
