// SPDX-License-Identifier: Apache-2.0
// Invariant 1 from outside: a process accepting messages is killed with
// SIGKILL right after random acknowledgements; every message it acknowledged
// is later handled exactly once, and re-sending the unacknowledged tail with
// the same idempotency keys does not double anything.
#include <csignal>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "cairn/actor.hpp"
#include "cairn/codec.hpp"
#include "cairn/storage.hpp"
#include "ingest_item.hpp"
#include "internal/commit_coordinator.hpp"
#include "internal/keys.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"

using namespace cairn;

namespace {

uint64_t last_ok(const std::string& out) {
  uint64_t last = 0;
  bool any = false;
  std::istringstream in{out};
  std::string word;
  while (in >> word)
    if (word == "ok" && in >> last)
      any = true;
  return any ? last + 1 : 0; // the first unacknowledged message
}

void ingest_with_kills(const std::string& mode) {
  test::temp_dir dir;
  auto data = dir.sub("data");
  constexpr uint64_t total = 3'000;
  std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<uint64_t> acks{20, 150};
  uint64_t next = 0;
  int kills = 0;
  while (kills < 10) {
    test::node_process p{{data, std::to_string(next), std::to_string(total), mode}, INGEST_HELPER};
    REQUIRE(p.wait_for_output("ready"));
    // Kill right after a random acknowledgement.
    auto target = next + acks(rng);
    REQUIRE(p.wait_for_output("ok " + std::to_string(target) + "\n"));
    p.signal(SIGKILL);
    REQUIRE(p.wait() == 128 + SIGKILL);
    ++kills;
    auto acked = last_ok(p.output());
    REQUIRE(acked > target); // everything up to the target was acknowledged
    next = acked;            // re-send from the first unacknowledged one
  }
  test::node_process last{{data, std::to_string(next), std::to_string(total), mode}, INGEST_HELPER};
  REQUIRE(last.wait(std::chrono::minutes{5}) == 0);
  REQUIRE(last.output().find("idle") != std::string::npos);

  auto st = open_rocksdb({data, false});
  REQUIRE(st);
  std::map<uint64_t, int> seen;
  REQUIRE_FALSE(
    (*st)->scan(column::journal, "sink/", "", [&](std::string_view, std::string_view v) {
      auto ev = decode<internal::journal_record>(v);
      REQUIRE(ev);
      auto item = decode<test::ingest_item>(ev->payload);
      REQUIRE(item);
      ++seen[item->n];
      return true;
    }));
  CHECK(seen.size() == total);
  for (auto& [n, count] : seen) {
    INFO("item " << n);
    CHECK(count == 1);
  }
}

} // namespace

TEST_CASE("every acknowledged message survives SIGKILL of the accepting process (os)",
          "[crash][invariant1][dedupe]") {
  ingest_with_kills("os");
}

TEST_CASE("every acknowledged message survives SIGKILL of the accepting process (fsync)",
          "[crash][invariant1][dedupe]") {
  ingest_with_kills("fsync");
}
