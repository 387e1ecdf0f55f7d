// SPDX-License-Identifier: Apache-2.0
// The span value of layout 5 (internal/span_codec.hpp): what goes in comes
// back, and a damaged row is an error, never a crash or a wrong span.
#include <algorithm>
#include <cstring>
#include <random>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "internal/derived_ids.hpp"
#include "internal/keys.hpp"
#include "internal/span_codec.hpp"

using namespace cairn;

namespace {

span_record full_span() {
  span_record s;
  s.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  s.span_id = "00f067aa0ba902b7";
  s.parent_span_id = "b7ad6b7169203331";
  s.name = "tools/call charge_payment";
  s.kind = span_kind::server;
  s.start_us = 1'796'228'825'214'123;
  s.end_us = s.start_us + 48'211;
  s.status = span_status::error;
  s.status_message = "payment declined: <script>alert(1)</script>";
  s.actor = "payment/42";
  s.type = "payment.charge/v1";
  s.envelope_id = "01a23794c06b0000f479fd0a8e6a1777";
  s.attempt = 2;
  s.first_event = 17;
  s.events = 3;
  s.sent = {{"01a23794c06b0000f479fd0a8e6a1778", "ledger/7", "ledger.post/v1"},
            {"not-hex id", "notify/x", "notify.send/v1"}};
  s.attributes = {{"mcp.method.name", std::string{"tools/call"}},
                  {"jsonrpc.request.id", int64_t{-7}},
                  {"cairn.attempt", int64_t{1} << 40},
                  {"cairn.ratio", 0.25},
                  {"cairn.resumed", true}};
  s.links = {{"4bf92f3577b34da6a3ce929d0e0e4736", "1111111111111111", "retry_of"}};
  return s;
}

std::string key_of(const span_record& s) {
  return keys::span(static_cast<uint64_t>(s.end_us), s.trace_id, s.span_id);
}

} // namespace

TEST_CASE("ids that are hex, almost hex or not hex come back as they went in", "[trace][codec]") {
  auto s = full_span();
  const std::vector<std::string> ids{
    "01a23794c06b0000f479fd0a8e6a1778", // packed as bytes
    "01a23794c06b0000f479fd0a8e6a177g", // the last character is not hex
    "g1a23794c06b0000f479fd0a8e6a1778", // the first is not
    "01A23794C06B0000F479FD0A8E6A1778", // upper case is not packed
    "01a23794c06b0000f479fd0a8e6a177",  // odd length
    "0/",
    ":`",
    "ab",
    ""};
  s.sent.clear();
  for (const auto& id : ids)
    s.sent.push_back({id, "ledger/7", "ledger.post/v1"});
  std::string v;
  internal::encode_span(v, s);
  auto back = internal::decode_span(key_of(s), v);
  REQUIRE(back);
  REQUIRE(back->sent.size() == ids.size());
  for (size_t i = 0; i < ids.size(); ++i)
    CHECK(back->sent[i].id == ids[i]);
  CHECK(back->envelope_id == s.envelope_id);
}

TEST_CASE("a span with every part comes back as it went in", "[trace][codec]") {
  auto s = full_span();
  std::string v;
  internal::encode_span(v, s);
  auto back = internal::decode_span(key_of(s), v);
  REQUIRE(back);
  CHECK(back->trace_id == s.trace_id);
  CHECK(back->span_id == s.span_id);
  CHECK(back->parent_span_id == s.parent_span_id);
  CHECK(back->name == s.name);
  CHECK(back->kind == span_kind::server);
  CHECK(back->start_us == s.start_us);
  CHECK(back->end_us == s.end_us);
  CHECK(back->status == span_status::error);
  CHECK(back->status_message == s.status_message);
  CHECK(back->status_text() == s.status_message);
  CHECK(back->actor == s.actor);
  CHECK(back->type == s.type);
  CHECK(back->envelope_id == s.envelope_id);
  CHECK(back->attempt == 2);
  CHECK(back->first_event == 17);
  CHECK(back->events == 3);
  REQUIRE(back->sent.size() == 2);
  CHECK(back->sent[0].id == s.sent[0].id);
  CHECK(back->sent[1].id == "not-hex id");
  CHECK(back->sent[1].to == "notify/x");
  CHECK(back->sent[1].type == "notify.send/v1");
  REQUIRE(back->attributes.size() == 5);
  for (size_t i = 0; i < 5; ++i) {
    CHECK(back->attributes[i].key == s.attributes[i].key);
    CHECK(back->attributes[i].value == s.attributes[i].value);
  }
  REQUIRE(back->links.size() == 1);
  CHECK(back->links[0].span_id == "1111111111111111");
  CHECK(back->links[0].type == "retry_of");
}

TEST_CASE("a step's span stores its name once and hex ids as bytes", "[trace][codec]") {
  span_record s;
  s.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  s.span_id = "00f067aa0ba902b7";
  s.parent_span_id = "b7ad6b7169203331";
  s.kind = span_kind::consumer;
  s.status = span_status::ok;
  s.start_us = 1'796'228'825'214'123;
  s.end_us = s.start_us + 12;
  s.actor = "hop_a/3";
  s.type = "chain.item/v1";
  s.name = "process chain.item/v1";
  s.envelope_id = "01a23794c06b0000f479fd0a8e6a1777";
  s.sent = {{"01a23794c06b0000f479fd0a8e6a1778", "hop_b/3", "chain.item/v1"}};
  std::string v;
  internal::encode_span(v, s);
  // format, flags, kind, status, start (8), duration (1), parent (1 + 8),
  // actor (1 + 7), type (1 + 13), envelope (1 + 16), attempt, first event,
  // events, count, then the sent message (1 + 16, 1 + 7, 1 + 13).
  CHECK(v.size() == 4 + 8 + 1 + 9 + 8 + 14 + 17 + 4 + 17 + 8 + 14);
  auto back = internal::decode_span(key_of(s), v);
  REQUIRE(back);
  CHECK(back->name == "process chain.item/v1");
  CHECK(back->status_text() == "ok");
  CHECK(back->sent[0].id == s.sent[0].id);
}

TEST_CASE("a damaged span row is an error, at every length", "[trace][codec]") {
  auto s = full_span();
  std::string v;
  internal::encode_span(v, s);
  auto key = key_of(s);
  for (size_t n = 0; n < v.size(); ++n) {
    INFO(n);
    CHECK_FALSE(internal::decode_span(key, v.substr(0, n)));
  }
  // An older layout's value (CAF binary starts with the trace id's length).
  CHECK_FALSE(internal::decode_span(key, std::string{"\x20"} + s.trace_id));
  // A key too short to hold the ids.
  CHECK_FALSE(internal::decode_span("short", v));
  // An unknown kind.
  auto bad = v;
  bad[2] = 9;
  CHECK_FALSE(internal::decode_span(key, bad));
}

TEST_CASE("a step's span encoded from its views is byte for byte the span_record's encoding",
          "[trace][codec]") {
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  std::vector<internal::sent_view> sent{
    {"01a23794c06b0000f479fd0a8e6a1778", "ledger/7", "ledger.post/v1"},
    {"not-hex id", "notify/x", "notify.send/v1"}};
  for (int variant = 0; variant < 5; ++variant) {
    INFO("variant " << variant);
    // The record a step would build the long way.
    span_record s;
    s.trace_id = trace;
    s.span_id = "00f067aa0ba902b7";
    s.parent_span_id = variant == 4 ? "" : "b7ad6b7169203331";
    s.name = "process payment.charge/v1";
    s.kind = span_kind::consumer;
    s.start_us = 1'796'228'825'214'123;
    s.end_us = s.start_us + 211;
    s.status = span_status::ok;
    s.actor = "payment/42";
    s.type = "payment.charge/v1";
    s.envelope_id = "01a23794c06b0000f479fd0a8e6a1777";
    s.attempt = variant >= 2 ? 3 : 0;
    s.first_event = variant == 0 ? 0 : 17;
    s.events = variant == 0 ? 0 : 2;
    if (variant >= 1)
      for (const auto& m : sent)
        s.sent.push_back(sent_message{std::string{m.id}, std::string{m.to}, std::string{m.type}});
    if (variant >= 2)
      s.links.push_back(span_link{trace, "1111111111111111", "retry_of"});
    if (variant == 3) {
      s.attributes.push_back(span_attribute{"cairn.resumed", true});
      s.links.push_back(span_link{trace, "b7ad6b7169203331", "resumed_from"});
    }
    std::string expected;
    internal::encode_span(expected, s);

    internal::step_span_view v;
    v.trace_id = trace;
    v.parent_span_id = s.parent_span_id;
    v.actor = s.actor;
    v.type = s.type;
    v.envelope_id = s.envelope_id;
    v.start_us = s.start_us;
    v.end_us = s.end_us;
    v.attempt = s.attempt;
    v.first_event = s.first_event;
    v.events = s.events;
    std::vector<internal::sent_view> none;
    v.sent = variant >= 1 ? &sent : &none;
    if (variant >= 2)
      v.retry_of = "1111111111111111";
    if (variant == 3) {
      v.resumed = true;
      v.resumed_from = "b7ad6b7169203331";
    }
    std::string direct;
    internal::encode_step_span(direct, v);
    CHECK(direct == expected);
    // As a group row's member, too.
    v.span_id = s.span_id;
    std::string member, expected_member;
    internal::append_step_span_member(member, v);
    internal::append_span_member(expected_member, s);
    CHECK(member == expected_member);
    auto back = internal::decode_span(key_of(s), direct);
    REQUIRE(back);
    CHECK(back->name == s.name);
    CHECK(back->links.size() == s.links.size());
    CHECK(back->sent.size() == s.sent.size());
  }
}

TEST_CASE("a commit's row holds its spans, each coming back with its own key and value",
          "[trace][codec]") {
  // Three spans of two traces, one with a span id that is not hex.
  std::vector<span_record> in;
  for (int i = 0; i < 3; ++i) {
    auto s = full_span();
    s.trace_id = i == 1 ? "0af7651916cd43dd8448eb211c80319c" : s.trace_id;
    s.span_id = i == 2 ? "not-a-hex-id" : "00f067aa0ba902b" + std::to_string(i);
    s.end_us += i;
    in.push_back(s);
  }
  std::string group(1, static_cast<char>(internal::span_group_format));
  std::string members; // as steps append them: encoded in place
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& s : in) {
    std::string v;
    internal::encode_span(v, s);
    internal::append_to_group(group, key_of(s), v);
    internal::append_span_member(members, s);
    rows.emplace_back(key_of(s), v);
  }
  CHECK(group.substr(1) == members);
  CHECK(static_cast<uint8_t>(group[0]) == internal::span_group_format);
  std::vector<std::pair<std::string, std::string>> out;
  auto row_key = keys::span(1, in[0].trace_id, in[0].span_id);
  CHECK(internal::for_each_span(
    row_key, group, [&](std::string_view k, std::string_view v) { out.emplace_back(k, v); }));
  CHECK(out == rows);
  // The indexer's walk reads the same trace ids, without decoding.
  std::vector<std::string> traces;
  size_t pos = 1;
  bool ok = true;
  char id[32];
  internal::span_trace_walk walk;
  while (internal::next_trace_in_group(group, pos, id, ok, walk))
    traces.emplace_back(id, sizeof id);
  CHECK(ok);
  CHECK(traces == std::vector<std::string>{in[0].trace_id, in[1].trace_id, in[2].trace_id});
  auto back = internal::decode_span(out[2].first, out[2].second);
  REQUIRE(back);
  CHECK(back->span_id == "not-a-hex-id");
  CHECK(back->trace_id == in[2].trace_id);
  // A row of one span is that span.
  out.clear();
  CHECK(internal::for_each_span(
    rows[1].first, rows[1].second,
    [&](std::string_view k, std::string_view v) { out.emplace_back(k, v); }));
  CHECK(out == std::vector<std::pair<std::string, std::string>>{rows[1]});
  // A value too long for the two bytes a member's length takes in place.
  auto big = in[0];
  big.status_message.assign(20'000, 'x');
  std::string big_group(1, static_cast<char>(internal::span_group_format));
  internal::append_span_member(big_group, big);
  internal::append_span_member(big_group, in[1]);
  std::vector<span_record> decoded;
  CHECK(internal::for_each_span(row_key, big_group, [&](std::string_view k, std::string_view v) {
    auto d = internal::decode_span(k, v);
    REQUIRE(d);
    decoded.push_back(*d);
  }));
  REQUIRE(decoded.size() == 2);
  CHECK(decoded[0].status_message == big.status_message);
  CHECK(decoded[1].trace_id == in[1].trace_id);
  // Cut anywhere inside a member, a group reports the damage after visiting
  // the whole members before it, never a partial one.
  for (size_t n = 1; n < group.size(); ++n) {
    INFO(n);
    size_t seen = 0;
    bool whole = internal::for_each_span(row_key, std::string_view{group}.substr(0, n),
                                         [&](auto, auto) { ++seen; });
    CHECK(seen < 3);
    if (whole && n > 1) // cut exactly between members
      CHECK(seen >= 1);
    size_t walked = 0, at = 1;
    bool fine = true;
    char trace[32];
    internal::span_trace_walk walk_cut;
    while (internal::next_trace_in_group(std::string_view{group}.substr(0, n), at, trace, fine,
                                         walk_cut))
      ++walked;
    CHECK(walked == seen);
    CHECK(fine == whole);
  }
}

TEST_CASE("the span indexer's sort orders entries by hour, trace id and row, as a comparison "
          "sort does",
          "[spans][index]") {
  // Seeded: trace ids from a small alphabet, so many share their first 8
  // bytes (sorted by the rest) or are equal (kept in row order); rows come
  // in order, several entries per row, over three hours.
  std::mt19937 rng{20261205};
  auto letter = [&] { return "0af"[rng() % 3]; };
  for (size_t n : {0, 1, 2, 17, 1000, 20000}) {
    std::vector<internal::span_index_entry> entries;
    uint32_t row = 0;
    for (size_t i = 0; i < n; ++i) {
      internal::span_index_entry e{};
      e.hour = 480'000 + static_cast<uint32_t>(rng() % 3);
      for (auto& c : e.trace_id)
        c = letter();
      if (rng() % 4 == 0)
        ++row;
      e.row = row;
      entries.push_back(e);
    }
    auto expected = entries;
    std::stable_sort(expected.begin(), expected.end(), [](const auto& a, const auto& b) {
      if (a.hour != b.hour)
        return a.hour < b.hour;
      if (int c = std::memcmp(a.trace_id, b.trace_id, sizeof a.trace_id); c != 0)
        return c < 0;
      return a.row < b.row;
    });
    std::vector<internal::span_index_entry> scratch;
    internal::sort_span_entries(entries, scratch);
    REQUIRE(entries.size() == expected.size());
    for (size_t i = 0; i < n; ++i) {
      INFO("n = " << n << ", entry " << i);
      CHECK(entries[i].hour == expected[i].hour);
      CHECK(std::string_view{entries[i].trace_id, 32}
            == std::string_view{expected[i].trace_id, 32});
      CHECK(entries[i].row == expected[i].row);
    }
  }
}

// Ids are read eight hex digits at a time: every byte, at every place, is
// taken or refused as a digit-by-digit reading takes or refuses it.
TEST_CASE("hex ids read eight digits at a time read as digit by digit", "[trace][codec]") {
  auto one_by_one = [](std::string_view in, uint64_t& v) {
    v = 0;
    for (char c : in) {
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0)
        return false;
      v = v << 4 | static_cast<uint64_t>(d);
    }
    return true;
  };
  std::mt19937_64 rng{1612};
  const std::string digits = "0123456789abcdef";
  for (int round = 0; round < 2000; ++round) {
    std::string id(16, '0');
    for (auto& c : id)
      c = digits[rng() % 16];
    for (int byte = 0; byte < 256; byte += round < 16 ? 1 : 37) {
      auto at = static_cast<size_t>(rng() % 16);
      std::string probe = id;
      probe[at] = static_cast<char>(byte);
      uint64_t fast = 0, slow = 0;
      INFO("byte " << byte << " at " << at << " in " << id);
      bool ok = one_by_one(probe, slow);
      REQUIRE(internal::read_hex64(probe.data(), fast) == ok);
      if (ok)
        CHECK(fast == slow);
    }
  }
}
