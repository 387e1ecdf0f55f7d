// SPDX-License-Identifier: Apache-2.0
// A batch read straight from its text gives what the JSON tree gives: the
// same envelopes, the same refusals, word for word — for batches as clients
// write them, seeded random ones, and every one-byte change of one. The
// scan is also the path taken for plain batches (its count says so).
#include <random>
#include <string>
#include <variant>
#include <vector>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "cairn/actors/bench.hpp"
#include "cairn/json_codec.hpp"
#include "cairn/runtime.hpp"
#include "internal/message_reader.hpp"
#include "temp_dir.hpp"

using namespace cairn;

namespace {

/// A runtime with a typed kind (`bench`), a kind whose payloads stay JSON
/// (`note`), and one that declares no types (`free`). Not started: reading
/// a batch only looks its codecs up.
struct reader_node {
  test::temp_dir dir;
  std::unique_ptr<runtime> rt;

  reader_node() {
    runtime_options o;
    o.data_dir = dir.sub("data");
    o.threads = 1;
    auto r = runtime::open(o);
    REQUIRE(r);
    rt = std::move(*r);
    actors::register_bench_workload(*rt);
    kind_options note;
    note.accepts = {json::json_object_codec("note.v/v1")};
    REQUIRE_FALSE(rt->register_kind(
      "note", [](std::string_view) { return std::unique_ptr<durable_actor>{}; }, note));
    REQUIRE_FALSE(rt->register_kind(
      "free", [](std::string_view) { return std::unique_ptr<durable_actor>{}; }, {}));
    // The bench's type with a check added to `from_json` and
    // `from_json_value` cleared, as `message_codec` asks: it keeps the
    // `from_json_text` that `codec_for` gave it.
    auto checked = json::codec_for<actors::bench_msg>();
    checked.from_json = [plain =
                           checked.from_json](std::string_view text) -> caf::expected<std::string> {
      if (text.find("\"seq\":500") != std::string_view::npos)
        return make_error(errc::invalid_payload, "seq: 500 is reserved");
      return plain(text);
    };
    checked.from_json_value = nullptr;
    REQUIRE(checked.from_json_text);
    kind_options strict;
    strict.accepts = {checked};
    REQUIRE_FALSE(rt->register_kind(
      "strict", [](std::string_view) { return std::unique_ptr<durable_actor>{}; }, strict));
  }
};

std::string describe(const http_response& r) {
  return std::to_string(r.status) + " " + r.body;
}

/// Reads `body` both ways and requires the same result; returns how many
/// messages the scan read without the tree.
size_t same_both_ways(runtime& rt, const std::string& body, bool ndjson = false) {
  INFO(body);
  const std::string header_trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  auto fast = api::read_batch(rt, body, ndjson, header_trace, true);
  auto tree = api::read_batch(rt, body, ndjson, header_trace, false);
  REQUIRE(fast.index() == tree.index());
  if (auto* refused = std::get_if<http_response>(&tree)) {
    CHECK(describe(std::get<http_response>(fast)) == describe(*refused));
    return 0;
  }
  auto& a = std::get<api::batch_messages>(fast);
  auto& b = std::get<api::batch_messages>(tree);
  CHECK(b.scanned == 0);
  REQUIRE(a.problems.size() == b.problems.size());
  for (size_t i = 0; i < a.problems.size(); ++i) {
    REQUIRE(a.problems[i].has_value() == b.problems[i].has_value());
    if (a.problems[i])
      CHECK(describe(*a.problems[i]) == describe(*b.problems[i]));
  }
  CHECK(a.slot == b.slot);
  REQUIRE(a.envs.size() == b.envs.size());
  for (size_t k = 0; k < a.envs.size(); ++k) {
    // Every field, through the envelope's own encoding.
    CHECK(encode(a.envs[k]) == encode(b.envs[k]));
    CHECK(a.envs[k].payload == b.envs[k].payload);
  }
  return a.scanned;
}

std::string bench_message(const std::string& to, uint64_t seq, const std::string& extra = {}) {
  return R"({"to":")" + to + R"(","type":"bench.msg/v1","payload":{"run":"r","seq":)"
         + std::to_string(seq) + R"(,"sent_us":17,"hops":0,"actors":2,"pad":"xy"})" + extra + "}";
}

TEST_CASE("a plain batch is read from its text, as the tree reads it", "[api][batch]") {
  reader_node n;
  std::string body = "[";
  for (int i = 0; i < 50; ++i)
    body += (i ? "," : "") + bench_message("bench/r-" + std::to_string(i % 2), i);
  body += "]";
  CHECK(same_both_ways(*n.rt, body) == 50);
  // Whitespace, escapes, members the node does not read, its own traceparent.
  std::string varied =
    "[ {\"type\" : \"bench.msg/v1\", \"to\":\"bench/r-\\u0030\", \"x\":[1,{\"y\":2.5e3}],\n"
    "  \"payload\":{\"run\":\"\\u00e9\",\"seq\":1,\"sent_us\":-3,\"hops\":1,\"actors\":1,"
    "\"pad\":\"\\n\"}, \"idempotency_key\":\"k-1\","
    " \"traceparent\":\"00-1af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"} ]\n";
  CHECK(same_both_ways(*n.rt, varied) == 1);
  // NDJSON, a blank line between.
  CHECK(
    same_both_ways(*n.rt, bench_message("bench/a", 1) + "\n\n" + bench_message("bench/b", 2), true)
    == 2);
}

TEST_CASE("a codec whose checks the tree runs is never read past them", "[api][batch]") {
  reader_node n;
  // Refused both ways, word for word: the scan does not read this kind.
  auto body = "[" + bench_message("strict/a", 500) + "," + bench_message("strict/a", 7) + "]";
  CHECK(same_both_ways(*n.rt, body) == 0);
  auto read = api::read_batch(*n.rt, body, false, {}, true);
  auto& batch = std::get<api::batch_messages>(read);
  REQUIRE(batch.problems.size() == 2);
  REQUIRE(batch.problems[0].has_value());
  CHECK(batch.problems[0]->body.find("seq: 500 is reserved") != std::string::npos);
  CHECK_FALSE(batch.problems[1].has_value());
  // One message alone: not answered from its text either.
  envelope env;
  CHECK_FALSE(api::scan_envelope(*n.rt,
                                 R"({"type":"bench.msg/v1","payload":{"run":"r","seq":500,)"
                                 R"("sent_us":1,"hops":0,"actors":1,"pad":""}})",
                                 "strict/a", env));
}

TEST_CASE("what the scan leaves to the tree is answered as the tree answers", "[api][batch]") {
  reader_node n;
  const std::vector<std::string> bodies{
    "[" + bench_message("bench/a", 1) + R"(,{"to":"nobody","type":"bench.msg/v1","payload":{}}])",
    "[" + bench_message("bench/a", 1) + R"(,{"to":"bench/a","type":"nope/v1","payload":{}}])",
    "[" + bench_message("bench/a", 1)
      + R"(,{"to":"bench/a","type":"bench.msg/v1","payload":{"run":1}}])",
    "[" + bench_message("bench/a", 1, R"(,"payload":null)") + "]", // a repeated member
    "[" + bench_message("bench/a", 1, R"(,"idempotency_key":5)") + "]",
    R"([{"to":"note/a","type":"note.v/v1","payload":{"n":1.50}},{"to":"free/a","type":"t","payload":[1]}])",
    R"([{"to":"note/a","type":"note.v/v1","payload":[1]}])",
    R"([{"to":"bench/a","type":"","payload":{}}, 7, "x", null])",
    R"([{"to":"bench/a","type":"bench.msg/v1","payload":{"run":"r","seq":1.0,"sent_us":1,"hops":0,"actors":1,"pad":""}}])",
    "[]",
    "{}",
    "[",
    "[" + bench_message("bench/a", 1) + ",]",
    "[" + bench_message("bench/a", 1) + "] x",
    "not json",
    "",
  };
  for (const auto& body : bodies) {
    same_both_ways(*n.rt, body);
    same_both_ways(*n.rt, body, true);
  }
  std::string many = "[";
  for (int i = 0; i < 1001; ++i)
    many += (i ? "," : "") + bench_message("bench/a", i);
  same_both_ways(*n.rt, many + "]"); // too many messages
}

TEST_CASE("seeded random batches and each one-byte change read the same both ways",
          "[api][batch]") {
  reader_node n;
  std::mt19937 rng{1207};
  auto pick = [&](const std::vector<std::string>& from) {
    return from[std::uniform_int_distribution<size_t>{0, from.size() - 1}(rng)];
  };
  const std::vector<std::string> tos{"bench/a", "bench/b-1", "note/x",
                                     "free/y",  "bad",       "bench/\\u0061"};
  // Plain messages are a tenth of them: the bench's type and its payload
  // in declared order weigh four each.
  const std::string bench = "bench.msg/v1";
  const std::vector<std::string> types{bench, bench, bench, bench, "note.v/v1", "t/v1", ""};
  const std::string plain = R"({"run":"r","seq":3,"sent_us":4,"hops":0,"actors":1,"pad":"p"})";
  const std::vector<std::string> payloads{
    plain,
    plain,
    plain,
    plain,
    R"({"run":"r","seq":3,"sent_us":4,"hops":0,"actors":1,"pad":"p","z":1})",
    R"({"seq":3,"run":"r","sent_us":4,"hops":0,"actors":1,"pad":"p"})",
    R"({"a":[1,2,{"b":null}],"c":"d"})",
    R"({"n":-1.25e-2})",
    R"([true,false])",
    "null",
    R"("s")"};
  size_t scanned = 0;
  for (int round = 0; round < 200; ++round) {
    std::string body = "[";
    for (int m = std::uniform_int_distribution<int>{1, 4}(rng); m > 0; --m) {
      if (body.size() > 1)
        body += ",";
      body += R"({"to":")" + pick(tos) + R"(","type":")" + pick(types) + R"(","payload":)"
              + pick(payloads);
      if (rng() % 3 == 0)
        body += R"(,"idempotency_key":"k)" + std::to_string(rng() % 5) + "\"";
      body += "}";
    }
    body += "]";
    scanned += same_both_ways(*n.rt, body);
  }
  CHECK(scanned > 20);
  // Every one-byte change of a small batch.
  const std::string base = "[" + bench_message("bench/a", 1, R"(,"idempotency_key":"k")") + "]";
  const std::string bytes = " {}[],:\"\\0123456789-.eEtrun\x01\x80\xff";
  for (size_t i = 0; i < base.size(); ++i)
    for (char b : bytes) {
      auto changed = base;
      changed[i] = b;
      same_both_ways(*n.rt, changed);
      auto added = base;
      added.insert(i, 1, b);
      same_both_ways(*n.rt, added);
    }
}

} // namespace

namespace {

TEST_CASE("one message read from its text is the envelope the tree reads", "[api][batch]") {
  reader_node n;
  const std::string base =
    R"({"type":"bench.msg/v1","payload":{"run":"r","seq":9,"sent_us":1,"hops":0,"actors":1,)"
    R"("pad":"\u0041"},"idempotency_key":"k"})";
  auto check = [&](const std::string& body) {
    INFO(body);
    envelope fast;
    bool answered = api::scan_envelope(*n.rt, body, "bench/a", fast);
    if (!answered)
      return false;
    auto v = boost::json::parse(body);
    REQUIRE(v.is_object());
    envelope tree;
    auto refused = api::envelope_of(*n.rt, api::members_of(v.as_object()), "bench/a", tree);
    REQUIRE_FALSE(refused);
    CHECK(encode(fast) == encode(tree));
    return true;
  };
  CHECK(check(base));
  size_t answered = 0;
  const std::string bytes = " {}[],:\"\\0123456789-.eEtrun\x01\x80\xff";
  for (size_t i = 0; i < base.size(); ++i)
    for (char b : bytes) {
      auto changed = base;
      changed[i] = b;
      answered += check(changed);
      auto added = base;
      added.insert(i, 1, b);
      answered += check(added);
    }
  CHECK(answered > 20);
}

} // namespace
