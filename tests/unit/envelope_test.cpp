// SPDX-License-Identifier: Apache-2.0
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "cairn/codec.hpp"
#include "cairn/envelope.hpp"
#include "internal/keys.hpp"

using namespace cairn;

TEST_CASE("envelope ids are unique and sort by creation time", "[envelope]") {
  std::set<std::string> seen;
  std::string prev;
  for (int i = 0; i < 100'000; ++i) {
    auto id = next_envelope_id();
    REQUIRE(id.size() == 32);
    REQUIRE(id > prev);
    REQUIRE(seen.insert(id).second);
    prev = id;
  }
}

TEST_CASE("envelope ids made by many threads at once, one by one and in batches, are unique, "
          "ascend per thread and carry their time",
          "[envelope]") {
  constexpr int threads = 4, each = 50'000;
  auto start_ms = now_ms();
  std::vector<std::vector<std::string>> made(threads);
  std::vector<std::thread> makers;
  for (int t = 0; t < threads; ++t)
    makers.emplace_back([&, t] {
      auto& mine = made[static_cast<size_t>(t)];
      if (t % 2 == 0) {
        for (int i = 0; i < each; ++i)
          mine.push_back(next_envelope_id());
        return;
      }
      // Batches of 1 to 700 ids (seeded), as batch accepts take them.
      std::mt19937 rng{static_cast<unsigned>(t)};
      while (mine.size() < static_cast<size_t>(each)) {
        auto n = std::min<size_t>(1 + rng() % 700, each - mine.size());
        auto batch = next_envelope_ids(n);
        for (auto& id : batch)
          mine.push_back(std::move(id));
      }
    });
  for (auto& m : makers)
    m.join();
  auto end_ms = now_ms();
  std::set<std::string> seen;
  for (const auto& ids : made) {
    for (size_t i = 0; i < ids.size(); ++i) {
      REQUIRE(ids[i].size() == 32);
      if (i > 0)
        REQUIRE(ids[i] > ids[i - 1]);
      REQUIRE(seen.insert(ids[i]).second);
      // The first 12 digits are the millisecond; a full sequence (65,536
      // ids) borrows the next one: these 200,000 ids run at most 4 ahead,
      // the 100,000 of the test before at most 2 more.
      auto ms = static_cast<int64_t>(std::stoull(ids[i].substr(0, 12), nullptr, 16));
      REQUIRE(ms >= start_ms);
      REQUIRE(ms <= end_ms + 8);
    }
  }
  CHECK(seen.size() == static_cast<size_t>(threads * each));
}

TEST_CASE("an envelope survives the binary codec field for field", "[envelope][codec]") {
  envelope e;
  e.id = next_envelope_id();
  e.from = "order/1";
  e.to = "payment/1";
  e.type = "demo.charge/v1";
  e.format = static_cast<uint8_t>(payload_format::json);
  e.payload = std::string{"{\"a\":1}\0binary", 14};
  e.traceparent = format_traceparent(new_trace());
  e.idempotency_key = "k-1";
  e.attempt = 3;
  e.not_before_ms = 1234;
  e.deadline_ms = 5678;
  e.created_ms = 42;
  auto bytes = encode(e);
  auto back = decode<envelope>(bytes);
  REQUIRE(back);
  CHECK(back->id == e.id);
  CHECK(back->from == e.from);
  CHECK(back->to == e.to);
  CHECK(back->type == e.type);
  CHECK(back->format == e.format);
  CHECK(back->payload == e.payload);
  CHECK(back->traceparent == e.traceparent);
  CHECK(back->idempotency_key == e.idempotency_key);
  CHECK(back->attempt == 3);
  CHECK(back->not_before_ms == 1234);
  CHECK(back->deadline_ms == 5678);
  CHECK(back->created_ms == 42);
}

TEST_CASE("truncated or padded bytes decode to corrupt_record, never garbage",
          "[envelope][codec]") {
  envelope e;
  e.id = "x";
  e.to = "a/b";
  e.payload = std::string(100, 'p');
  auto bytes = encode(e);
  auto truncated = decode<envelope>(bytes.substr(0, bytes.size() / 2));
  REQUIRE_FALSE(truncated);
  CHECK(code_of(truncated.error()) == errc::corrupt_record);
  auto padded = decode<envelope>(bytes + "xyz");
  REQUIRE_FALSE(padded);
  CHECK(code_of(padded.error()) == errc::corrupt_record);
  CHECK(render(padded.error()).find("trailing") != std::string::npos);
}

TEST_CASE("traceparent parses, formats and refuses malformed values", "[envelope][trace]") {
  trace_context tc;
  REQUIRE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tc));
  CHECK(tc.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(tc.span_id == "00f067aa0ba902b7");
  CHECK(format_traceparent(tc) == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  CHECK_FALSE(parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01", tc));
  CHECK_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", tc));
  CHECK_FALSE(parse_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tc));
  CHECK_FALSE(parse_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", tc));
  CHECK_FALSE(parse_traceparent("garbage", tc));
  // Every position refuses the characters next to the hex ranges.
  const std::string good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  for (size_t at : {0u, 1u, 3u, 20u, 34u, 36u, 51u, 53u, 54u})
    for (char c : {'/', ':', '`', 'g', 'A', 'F', ' ', '\0'}) {
      auto bad = good;
      bad[at] = c;
      INFO("position " << at << ", character " << static_cast<int>(c));
      CHECK_FALSE(parse_traceparent(bad, tc));
    }
  // A single digit other than zero makes an id valid.
  CHECK(parse_traceparent("00-00000000000000000000000000000001-00f067aa0ba902b7-01", tc));
  CHECK(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-a000000000000000-01", tc));
  auto child = child_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  CHECK(child.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(child.span_id != "00f067aa0ba902b7");
  auto fresh = child_of("not a traceparent");
  CHECK(fresh.trace_id.size() == 32);
}

TEST_CASE("a new traceparent is valid, sampled and starts a trace of its own",
          "[envelope][trace]") {
  std::set<std::string> traces;
  for (int i = 0; i < 1000; ++i) {
    auto tp = new_traceparent();
    trace_context tc;
    REQUIRE(parse_traceparent(tp, tc));
    CHECK(tc.flags == 1);
    CHECK(format_traceparent(tc) == tp);
    traces.insert(tc.trace_id);
  }
  CHECK(traces.size() == 1000);
}

TEST_CASE("big-endian keys sort numerically within an actor's prefix", "[keys]") {
  auto a = keys::actor_seq("hop/1", 255);
  auto b = keys::actor_seq("hop/1", 256);
  auto c = keys::actor_seq("hop/1", 1ull << 40);
  CHECK(a < b);
  CHECK(b < c);
  std::string_view actor;
  uint64_t seq = 0;
  REQUIRE(keys::split_actor_seq(c, actor, seq));
  CHECK(actor == "hop/1");
  CHECK(seq == (1ull << 40));
  // Another actor whose id extends this one's never lands inside its prefix.
  CHECK(keys::actor_seq("hop/10", 0).rfind(keys::actor_prefix("hop/1"), 0) != 0);
}

TEST_CASE("actor ids are kind/key", "[envelope]") {
  CHECK(valid_actor_id("payment/o1"));
  CHECK(valid_actor_id("a/b/c"));
  CHECK_FALSE(valid_actor_id("payment"));
  CHECK_FALSE(valid_actor_id("/x"));
  CHECK_FALSE(valid_actor_id("x/"));
  CHECK_FALSE(valid_actor_id(std::string{"a/b\0c", 5}));
  CHECK(kind_of("payment/o1") == "payment");
}
