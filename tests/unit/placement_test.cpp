// SPDX-License-Identifier: Apache-2.0
// The shard of an actor (docs/cluster.md, "Placement"): pinned by golden
// vectors, because changing the function would move every actor of every
// cluster; and spread evenly enough that shards get similar load.
#include <algorithm>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "cairn/placement.hpp"

using cairn::shard_of;

TEST_CASE("shard_of is pinned by golden vectors", "[placement]") {
  // FNV-1a 64 then MurmurHash3's fmix64, computed independently of this code.
  struct vec {
    const char* id;
    uint32_t mod256, mod4096, mod3;
  };
  for (const auto& v : std::vector<vec>{{"", 38, 2342, 2},
                                        {"order/o1", 224, 3552, 1},
                                        {"plan/k9f0155fcaabb87834c82603d", 214, 3286, 0},
                                        {"topic/orders", 189, 189, 1},
                                        {"tool.echo/abc", 226, 3298, 2},
                                        {"ledger/payments", 69, 325, 2}}) {
    INFO(v.id);
    CHECK(shard_of(v.id, 256) == v.mod256);
    CHECK(shard_of(v.id, 4096) == v.mod4096);
    CHECK(shard_of(v.id, 3) == v.mod3);
    CHECK(shard_of(v.id, 1) == 0);
  }
}

TEST_CASE("shard_of spreads actor ids evenly over shards", "[placement]") {
  // 256,000 ids of one kind with sequential keys: the hardest case for a
  // weak hash. Each of 256 shards should get about 1,000.
  std::vector<int> counts(256, 0);
  for (int i = 0; i < 256'000; ++i)
    ++counts[shard_of("order/o" + std::to_string(i), 256)];
  auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
  INFO("fewest " << *lo << ", most " << *hi);
  // Binomial(256000, 1/256): standard deviation ~31.6; 6 sigma either way.
  CHECK(*lo > 1000 - 190);
  CHECK(*hi < 1000 + 190);
}
