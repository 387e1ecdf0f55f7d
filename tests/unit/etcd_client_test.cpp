// SPDX-License-Identifier: Apache-2.0
// The cluster's etcd client against a real etcd (docs/cluster.md, "etcd: keys
// and requests"): keys, prefixes, transactions that create a key once, leases
// whose keys go with them, and clear errors when etcd is gone.
#include <catch2/catch.hpp>

#include "cairn/cluster/etcd_client.hpp"
#include "cairn/error.hpp"
#include "etcd_process.hpp"

using namespace cairn;
using cluster::etcd_client;
using cluster::etcd_compare;
using cluster::etcd_op;

TEST_CASE("etcd: put, get and prefix round-trip any bytes, in key order", "[cluster][etcd]") {
  test::etcd_process etcd;
  auto c = etcd_client::from_urls(etcd.url());
  REQUIRE(c);
  auto rev = c->put("/cairn/members/b", "node b");
  REQUIRE(rev);
  CHECK(*rev > 0);
  std::string binary("\0\xff\x01value", 8);
  REQUIRE(c->put("/cairn/members/a", binary));
  REQUIRE(c->put("/cairn/other", "x"));
  auto one = c->get("/cairn/members/a");
  REQUIRE(one);
  REQUIRE(one->size() == 1);
  CHECK((*one)[0].value == binary);
  CHECK((*one)[0].version == 1);
  auto members = c->prefix("/cairn/members/");
  REQUIRE(members);
  REQUIRE(members->size() == 2);
  CHECK((*members)[0].key == "/cairn/members/a");
  CHECK((*members)[1].key == "/cairn/members/b");
  CHECK(c->get("/cairn/none")->empty());
  CHECK(*c->erase("/cairn/members/b") == 1);
  CHECK(c->prefix("/cairn/members/")->size() == 1);
}

TEST_CASE("etcd: a range says the revision it was read at, which grows with a delete too",
          "[cluster][etcd]") {
  test::etcd_process etcd;
  auto c = etcd_client::from_urls(etcd.url());
  REQUIRE(c);
  REQUIRE(c->put("/cairn/members/a", "a"));
  auto last = c->put("/cairn/members/b", "b");
  REQUIRE(last);
  int64_t before = 0;
  auto all = c->prefix("/cairn/", 0, &before);
  REQUIRE(all);
  CHECK(before == *last);
  // The newest key goes: the highest mod revision left is older than the
  // read before, the read's own revision is not (cluster maps are ordered
  // by it, not by their keys).
  REQUIRE(*c->erase("/cairn/members/b") == 1);
  int64_t after = 0;
  auto left = c->prefix("/cairn/", 0, &after);
  REQUIRE(left);
  REQUIRE(left->size() == 1);
  CHECK((*left)[0].mod_revision < before);
  CHECK(after > before);
}

TEST_CASE("etcd: a transaction creates a key once, a stale revision loses", "[cluster][etcd]") {
  test::etcd_process etcd;
  auto c = etcd_client::from_urls(etcd.url());
  REQUIRE(c);
  // Two creators of the cluster record: the first wins, the second sees it.
  auto first = c->txn({etcd_compare::absent("/cairn/cluster")},
                      {etcd_op::put("/cairn/cluster", R"({"shards":256})")});
  REQUIRE(first);
  CHECK(*first);
  auto second = c->txn({etcd_compare::absent("/cairn/cluster")},
                       {etcd_op::put("/cairn/cluster", R"({"shards":8})")});
  REQUIRE(second);
  CHECK_FALSE(*second);
  CHECK(c->get("/cairn/cluster")->at(0).value == R"({"shards":256})");
  // A shard moved only from the revision it was read at (epoch fencing's shape).
  auto shard = c->get("/cairn/cluster")->at(0);
  REQUIRE(c->put("/cairn/cluster", R"({"shards":256,"x":1})"));
  auto stale = c->txn({etcd_compare::modified_at("/cairn/cluster", shard.mod_revision)},
                      {etcd_op::erase("/cairn/cluster")}, {etcd_op::put("/cairn/lost", "1")});
  REQUIRE(stale);
  CHECK_FALSE(*stale);
  CHECK(c->get("/cairn/cluster")->size() == 1);
  CHECK(c->get("/cairn/lost")->size() == 1); // the failure branch ran
  CHECK(*c->txn({etcd_compare::holds("/cairn/lost", "1")}, {etcd_op::erase("/cairn/lost")}));
  CHECK(c->get("/cairn/lost")->empty());
}

TEST_CASE("etcd: keys under a lease live while it is renewed and go with it", "[cluster][etcd]") {
  test::etcd_process etcd;
  auto c = etcd_client::from_urls(etcd.url());
  REQUIRE(c);
  auto lease = c->grant(5);
  REQUIRE(lease);
  CHECK(lease->id != 0);
  CHECK(lease->ttl >= 5);
  REQUIRE(c->put("/cairn/members/n1", "alive", lease->id));
  CHECK(c->get("/cairn/members/n1")->at(0).lease == lease->id);
  auto ttl = c->keep_alive(lease->id);
  REQUIRE(ttl);
  CHECK(*ttl >= 4);
  REQUIRE(!c->revoke(lease->id));
  CHECK(c->get("/cairn/members/n1")->empty());
  // A lease etcd no longer has renews to nothing.
  auto gone = c->keep_alive(lease->id);
  REQUIRE(gone);
  CHECK(*gone == 0);
}

TEST_CASE("etcd: a dead endpoint is skipped, none alive is a clear `unavailable`",
          "[cluster][etcd]") {
  test::etcd_process etcd;
  auto dead = "http://127.0.0.1:" + std::to_string(test::free_port());
  auto c = etcd_client::from_urls(dead + "," + etcd.url(), std::chrono::seconds{2});
  REQUIRE(c);
  REQUIRE(c->put("/k", "v")); // through the second endpoint
  CHECK(c->get("/k")->at(0).value == "v");
  etcd.kill();
  auto r = c->get("/k");
  REQUIRE_FALSE(r);
  CHECK(code_of(r.error()) == errc::unavailable);
  CHECK(render(r.error()).find("no etcd endpoint answered /v3/kv/range") != std::string::npos);
  // etcd back on the same data: the key is still there.
  etcd.start();
  CHECK(c->get("/k")->at(0).value == "v");
}

TEST_CASE("etcd: endpoints must be http://HOST:PORT", "[cluster][etcd]") {
  for (const char* bad : {"https://127.0.0.1:2379", "127.0.0.1:2379", "http://127.0.0.1",
                          "http://127.0.0.1:2379/x", "http://:2379", "http://h:12a"}) {
    INFO(bad);
    auto c = etcd_client::from_urls(bad);
    REQUIRE_FALSE(c);
    CHECK(code_of(c.error()) == errc::invalid_argument);
  }
  CHECK(etcd_client::from_urls("http://127.0.0.1:2379,http://localhost:2380"));
}
