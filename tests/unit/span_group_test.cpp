// SPDX-License-Identifier: Apache-2.0
// A commit's `trace` row (layouts 7 and 8, internal/span_codec.hpp): step
// spans that name the one before them, and leave out the ids their envelope
// id gives, read back exactly as their full encoding, and a reference with
// nothing to refer to is damage, never a wrong span.
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "cairn/envelope.hpp"
#include "internal/derived_ids.hpp"
#include "internal/keys.hpp"
#include "internal/span_codec.hpp"
#include "internal/span_wire.hpp"

using namespace cairn;

namespace {

/// A span that is not a step's (a tool call's, say).
span_record other_span() {
  span_record s;
  s.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  s.span_id = "00f067aa0ba902b7";
  s.name = "tools/call charge_payment";
  s.kind = span_kind::server;
  s.start_us = 1'796'228'825'214'123;
  s.end_us = s.start_us + 48'211;
  s.status = span_status::ok;
  return s;
}

/// `v` as 16 lowercase hex digits.
std::string hex16(uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4)
    out[static_cast<size_t>(i)] = digits[v & 15];
  return out;
}

/// Every span of the group row `group` under `row_key`, as (key, value),
/// and whether the reader got to its end.
using span_rows = std::vector<std::pair<std::string, std::string>>;
span_rows read_row(const std::string& row_key, const std::string& group, bool& whole) {
  span_rows out;
  whole = internal::for_each_span(
    row_key, group, [&](std::string_view k, std::string_view v) { out.emplace_back(k, v); });
  return out;
}

/// A step's span as a flight writes it: `i` picks its ids and times.
internal::step_span_view step_view(int i, std::string_view actor, std::string_view type,
                                   std::vector<std::string>& ids) {
  ids.push_back(std::string{"4bf92f3577b34da6a3ce929d0e0e47"} + char('a' + i % 6)
                + char('0' + i % 10));
  ids.push_back("00f067aa0ba902b" + std::to_string(i % 10));
  // Envelope ids as a node makes them (a clock, then the process's tag), but
  // step 2's has another tag and step 7's is not hex at all.
  ids.push_back(i == 7   ? std::string{"not a hex envelope id"}
                : i == 2 ? "01a23794c06b0002f479fd0a8e6a1778"
                         : "01a23794c06b00" + std::to_string(10 + i % 90) + "f479fd0a8e6a1777");
  internal::step_span_view v;
  v.trace_id = ids[ids.size() - 3];
  v.span_id = ids[ids.size() - 2];
  v.envelope_id = ids.back();
  v.parent_span_id = i % 3 == 2 ? "" : "b7ad6b7169203331";
  v.actor = actor;
  v.type = type;
  v.start_us = 1'796'228'825'214'123 + i * 1'000;
  v.end_us = v.start_us + 17 + i;
  v.attempt = 0;
  v.first_event = i % 4 == 1 ? 40 + static_cast<uint64_t>(i) : 0;
  v.events = i % 4 == 1 ? 2 : 0;
  return v;
}

/// The trace ids the indexer's walk reads from a group row; `ok` false if
/// it found damage (the ids before it are returned).
std::vector<std::string> walk_traces(std::string_view group, bool& ok) {
  std::vector<std::string> traces;
  size_t pos = 1;
  ok = true;
  char id[32];
  internal::span_trace_walk walk;
  while (internal::next_trace_in_group(group, pos, id, ok, walk))
    traces.emplace_back(id, sizeof id);
  return traces;
}

} // namespace

TEST_CASE("a flight's step spans of one actor and type name them once, and each comes back whole",
          "[trace][codec]") {
  // Two flights, as two commit requests write them: four steps of one actor
  // (one of another type, one a retry with a link), then three of another.
  std::vector<std::string> ids;
  ids.reserve(64); // views into it stay valid
  std::vector<internal::sent_view> sent{
    {"01a23794c06b0000f479fd0a8e6a1778", "ledger/7", "ledger.post/v1"}};
  std::vector<internal::step_span_view> first, second;
  for (int i = 0; i < 6; ++i)
    first.push_back(
      step_view(i, "payment/42", i == 3 ? "payment.refund/v1" : "payment.charge/v1", ids));
  first[1].sent = &sent;
  first[4].attempt = 1;
  first[4].retry_of = "1111111111111111";
  for (int i = 6; i < 9; ++i)
    second.push_back(step_view(i, "ledger/7", "ledger.post/v1", ids));
  std::string a, b, a_full, b_full;
  internal::span_chain chain_a, chain_b;
  for (const auto& v : first) {
    internal::append_step_span_member(a, v, chain_a);
    internal::append_step_span_member(a_full, v);
  }
  for (const auto& v : second) {
    internal::append_step_span_member(b, v, chain_b);
    internal::append_step_span_member(b_full, v);
  }
  // Named once: steps 1 and 2 (after 0) and 7 and 8 (after 6) name the one
  // before; 3 (another type), 4 (a retry, with a link) and 5 (after it) are whole.
  CHECK(a.size() + 2 * 30 < a_full.size());
  CHECK(b.size() + 2 * 30 < b_full.size());
  // The writer concatenates requests whole; the row reads back what the
  // full encoding would have given, member by member.
  std::string group(1, static_cast<char>(internal::span_group_format));
  group += a + b;
  std::string full_group(1, static_cast<char>(internal::span_group_format));
  full_group += a_full + b_full;
  auto row_key = keys::span(1, first[0].trace_id, first[0].span_id);
  bool whole = false, full_whole = false;
  auto got = read_row(row_key, group, whole);
  auto want = read_row(row_key, full_group, full_whole);
  CHECK(whole);
  CHECK(full_whole);
  REQUIRE(want.size() == 9);
  CHECK(got == want);
  for (size_t i = 0; i < got.size(); ++i) {
    auto s = internal::decode_span(got[i].first, got[i].second);
    REQUIRE(s);
    const auto& v = i < first.size() ? first[i] : second[i - first.size()];
    CHECK(s->actor == v.actor);
    CHECK(s->type == v.type);
    CHECK(s->start_us == v.start_us);
    CHECK(s->end_us == v.end_us);
    CHECK(s->parent_span_id == v.parent_span_id);
  }
  // The indexer's walk finds every trace id without expanding anything.
  bool ok = false;
  auto traces = walk_traces(group, ok);
  CHECK(ok);
  REQUIRE(traces.size() == 9);
  CHECK(traces[7] == second[1].trace_id);
  // A member that names the one before, with none before it that it may
  // name, is damage: the second flight without its first member.
  std::string one;
  internal::span_chain alone;
  internal::append_step_span_member(one, second[0], alone);
  std::string orphan(1, static_cast<char>(internal::span_group_format));
  orphan += b.substr(one.size());
  size_t seen = 0;
  CHECK_FALSE(internal::for_each_span(row_key, orphan, [&](auto, auto) { ++seen; }));
  CHECK(seen == 0);
  // Something else appended between two steps breaks the chain: the next
  // step names its actor and type again, as the first of a flight does.
  std::string mixed;
  internal::span_chain m;
  internal::append_step_span_member(mixed, second[0], m);
  internal::append_span_member(mixed, other_span());
  auto before = mixed.size();
  internal::append_step_span_member(mixed, second[1], m);
  std::string head;
  internal::span_chain fresh;
  internal::append_step_span_member(head, second[1], fresh);
  CHECK(mixed.substr(before) == head);
}

TEST_CASE("random flights of step spans read back as their full encoding, member by member",
          "[trace][codec]") {
  std::mt19937_64 rng{20261206}; // seeded: the same flights every run
  auto pick = [&](uint64_t n) { return static_cast<size_t>(rng() % n); };
  // The last actor's name makes its spans' values longer than a two-byte
  // length holds (written another way).
  const std::vector<std::string> actors{"bench/r1-0", "bench/r1-1", "payment/42",
                                        "long/" + std::string(20'000, 'n')};
  const std::vector<std::string> types{"bench.msg/v1", "payment.charge/v1"};
  const std::vector<internal::sent_view> sent{
    {"01a23794c06b0000f479fd0a8e6a1778", "ledger/7", "ledger.post/v1"}};
  for (int round = 0; round < 200; ++round) {
    INFO("round " << round);
    std::vector<std::string> ids;
    ids.reserve(4 * 4 * 12); // views into it stay valid
    std::string group(1, static_cast<char>(internal::span_group_format));
    std::string full_group = group;
    uint64_t clock = 0x01a23794c06b0000 + rng() % 1000;
    auto requests = 1 + pick(4);
    for (size_t q = 0; q < requests; ++q) {
      std::string members, full, hinted;
      internal::span_chain chain, hinted_chain;
      const auto& actor = actors[pick(actors.size())];
      auto steps = 1 + pick(12);
      for (size_t k = 0; k < steps; ++k) {
        internal::step_span_view v;
        clock +=
          pick(5) == 0 ? static_cast<uint64_t>(-static_cast<int64_t>(pick(300))) : pick(70'000);
        auto roll = pick(20);
        auto envelope = roll == 0   ? std::string{"env-"} + std::to_string(k)
                        : roll == 1 ? hex16(clock) + hex16(rng())
                                    : hex16(clock) + "f479fd0a8e6a1777";
        v.attempt = pick(10) == 0 ? 2 : 0;
        // Half of them a message the node gave its id and trace: its trace,
        // parent and span id are the envelope's (one of each sometimes not).
        uint64_t c = 0, t = 0;
        bool own = pick(2) == 0 && internal::envelope_halves(envelope, c, t);
        auto d = internal::derive_trace(c, t);
        ids.push_back(own && pick(8) != 0 ? hex16(d.trace_hi) + hex16(d.trace_lo)
                                          : hex16(rng()) + hex16(rng())); // trace
        ids.push_back(own && pick(8) != 0 ? step_span_id(envelope, v.attempt)
                                          : hex16(rng())); // span
        ids.push_back(own && pick(8) != 0 ? hex16(d.parent) : "b7ad6b7169203331");
        ids.push_back(envelope);
        v.trace_id = ids[ids.size() - 4];
        v.span_id = ids[ids.size() - 3];
        v.envelope_id = ids.back();
        v.parent_span_id = pick(4) == 0 ? std::string_view{} : ids[ids.size() - 2];
        v.actor = actor;
        v.type = types[pick(6) == 0 ? 1 : 0];
        v.start_us = 1'796'228'825'214'123 + static_cast<int64_t>(rng() % 10'000'000);
        v.end_us = v.start_us + static_cast<int64_t>(pick(3) == 0 ? 0 : rng() % 100'000);
        if (v.attempt > 0)
          v.retry_of = "1111111111111111";
        v.first_event = pick(3) == 0 ? 1 + rng() % 1'000'000 : 0;
        v.events = v.first_event > 0 ? 1 + static_cast<uint32_t>(pick(5)) : 0;
        v.sent = pick(4) == 0 ? &sent : nullptr;
        internal::append_step_span_member(members, v, chain);
        internal::append_step_span_member(full, v);
        // As a step whose accept handed it the id's halves, and said whether
        // it derived the trace (`step_hint`), writes it: the same bytes.
        auto h = v;
        uint64_t hc = 0, ht = 0;
        if (internal::envelope_halves(v.envelope_id, hc, ht)) {
          auto hd = internal::derive_trace(hc, ht);
          h.id_halves_known = true;
          h.id_clock = hc;
          h.id_tag = ht;
          h.trace_derived = v.trace_id == hex16(hd.trace_hi) + hex16(hd.trace_lo)
                            && v.parent_span_id == hex16(hd.parent);
        }
        internal::append_step_span_member(hinted, h, hinted_chain);
      }
      CHECK(hinted == members);
      CHECK(members.size() <= full.size());
      group += members;
      full_group += full;
    }
    auto row_key = keys::span(1, std::string(32, 'a'), std::string(16, 'b'));
    bool whole = false, full_whole = false;
    auto got = read_row(row_key, group, whole);
    auto want = read_row(row_key, full_group, full_whole);
    CHECK(whole);
    CHECK(full_whole);
    CHECK(got == want);
    // The indexer's walk finds every member's trace id, the left-out ones too.
    std::vector<std::string> want_traces;
    for (const auto& [k, v] : want)
      want_traces.push_back(k.substr(8, keys::trace_id_size));
    bool ok = false;
    CHECK(walk_traces(group, ok) == want_traces);
    CHECK(ok);
  }
}

TEST_CASE("a flight of messages the node gave ids and traces leaves those ids out, and reads back "
          "whole",
          "[trace][codec]") {
  // Eight steps of one actor, as a batch of node-made messages runs them:
  // envelope ids of one process, one clock step apart; each message's trace
  // and parent are its id's, its span id its step's.
  std::vector<std::string> ids;
  ids.reserve(32);
  std::vector<internal::step_span_view> steps;
  for (int i = 0; i < 8; ++i) {
    uint64_t clock = 0x01a23794c06b0000 + static_cast<uint64_t>(i), tag = 0xf479fd0a8e6a1777;
    auto d = internal::derive_trace(clock, tag);
    ids.push_back(hex16(clock) + hex16(tag));
    ids.push_back(hex16(d.trace_hi) + hex16(d.trace_lo));
    ids.push_back(hex16(d.parent));
    ids.push_back(step_span_id(ids[ids.size() - 3], 0));
    internal::step_span_view v;
    v.envelope_id = ids[ids.size() - 4];
    v.trace_id = ids[ids.size() - 3];
    v.parent_span_id = ids[ids.size() - 2];
    v.span_id = ids.back();
    v.actor = "bench/r1-0";
    v.type = "bench.msg/v1";
    v.start_us = 1'796'228'825'214'123 + i * 40;
    v.end_us = v.start_us + 9;
    steps.push_back(v);
  }
  std::string members, full, first;
  internal::span_chain chain;
  for (const auto& v : steps) {
    internal::append_step_span_member(members, v, chain);
    internal::append_step_span_member(full, v);
  }
  // As a step encodes them: its span id handed over as the number it was
  // made from, not hashed from the envelope id again. The same bytes.
  std::string known;
  internal::span_chain known_chain;
  for (auto v : steps) {
    v.span_value = internal::step_span_value(v.envelope_id, v.attempt);
    internal::append_step_span_member(known, v, known_chain);
  }
  CHECK(known == members);
  internal::span_chain fresh;
  internal::append_step_span_member(first, steps[0], fresh);
  std::string first_whole;
  internal::append_step_span_member(first_whole, steps[0]);
  // The first refers to nothing before it: it names its actor and type and
  // carries its whole end time and envelope id, yet leaves out its ids.
  REQUIRE(members.compare(0, first.size(), first) == 0);
  CHECK(first.size() + 40 <= first_whole.size());
  // The seven after it: end, two markers, length, format, flags, duration,
  // envelope, attempt, events, sent — 13 bytes each, against 60 whole.
  CHECK(members.size() - first.size() <= 7 * 13);
  CHECK(full.size() - first_whole.size() >= 7 * 60);
  std::string group(1, static_cast<char>(internal::span_group_format));
  std::string full_group = group;
  group += members;
  full_group += full;
  auto row_key = keys::span(1, steps[0].trace_id, steps[0].span_id);
  bool whole = false, full_whole = false;
  auto got = read_row(row_key, group, whole);
  auto want = read_row(row_key, full_group, full_whole);
  CHECK(whole);
  CHECK(full_whole);
  REQUIRE(want.size() == 8);
  CHECK(got == want);
  auto last = internal::decode_span(got[7].first, got[7].second);
  REQUIRE(last);
  CHECK(last->trace_id == steps[7].trace_id);
  CHECK(last->span_id == steps[7].span_id);
  CHECK(last->parent_span_id == steps[7].parent_span_id);
  CHECK(last->end_us == steps[7].end_us);
  bool ok = false;
  auto traces = walk_traces(group, ok);
  CHECK(ok);
  REQUIRE(traces.size() == 8);
  CHECK(traces[5] == steps[5].trace_id);

  // Damaged anywhere, a row stops the reader and the indexer's walk at the
  // same member: cut at every byte, and each byte changed (seeded).
  std::mt19937_64 rng{20261206};
  for (size_t at = 1; at < group.size(); ++at) {
    INFO("at " << at);
    for (int k = 0; k < 4; ++k) {
      auto damaged = group;
      if (k == 0)
        damaged.resize(at);
      else
        damaged[at] = static_cast<char>(damaged[at] ^ static_cast<char>(1 + rng() % 255));
      size_t read = 0;
      bool read_all = internal::for_each_span(row_key, damaged, [&](auto, auto) { ++read; });
      bool walked_ok = false;
      CHECK(walk_traces(damaged, walked_ok).size() == read);
      CHECK(walked_ok == read_all);
    }
  }

  // A span id left out of a step whose envelope id is not the node's (not 32
  // hex digits) cannot be computed back: both stop there.
  std::string odd = group.substr(0, 1 + first.size());
  internal::span_wire::append_member_with(
    odd,
    [&](std::string& o) {
      internal::span_wire::put_varint(o, 5);
      internal::span_wire::put_id(o, steps[1].trace_id);
      o.push_back(static_cast<char>(internal::span_wire::derived_id));
    },
    [&](std::string& o) {
      o.push_back(static_cast<char>(internal::span_step_head_format));
      o.push_back(static_cast<char>(internal::span_wire::has_step));
      internal::span_wire::put_varint(o, 0); // duration
      internal::span_wire::put_str(o, steps[1].actor);
      internal::span_wire::put_str(o, steps[1].type);
      internal::span_wire::put_id(o, "env-1");
      internal::span_wire::put_step_rest(o, 0, 0, 0, std::vector<internal::sent_view>{});
    });
  size_t odd_read = 0;
  CHECK_FALSE(internal::for_each_span(row_key, odd, [&](auto, auto) { ++odd_read; }));
  CHECK(odd_read == 1);
  bool odd_ok = true;
  CHECK(walk_traces(odd, odd_ok).size() == 1);
  CHECK_FALSE(odd_ok);

  // Rows written before (layout 7) began a flight with a whole member; those
  // after it name that one the same way.
  std::string older(1, static_cast<char>(internal::span_group_format));
  older += first_whole + members.substr(first.size());
  bool older_whole = false;
  CHECK(read_row(row_key, older, older_whole) == want);
  CHECK(older_whole);
  CHECK(walk_traces(older, ok) == traces);
  CHECK(ok);

  // A whole member may not leave its ids out: there is no envelope id to
  // take them from before its value is read. Such a row is damage after the
  // members before it.
  std::string bad = group.substr(0, 1 + first.size());
  internal::span_wire::append_member_with(
    bad,
    [](std::string& o) {
      internal::span_wire::put_varint(o, 9);
      o.push_back(static_cast<char>(internal::span_wire::derived_id));
      o.push_back(static_cast<char>(internal::span_wire::derived_id));
    },
    [&](std::string& o) { internal::encode_step_span(o, steps[1]); });
  size_t seen = 0;
  CHECK_FALSE(internal::for_each_span(row_key, bad, [&](auto, auto) { ++seen; }));
  CHECK(seen == 1);
  CHECK(walk_traces(bad, ok).size() == 1);
  CHECK_FALSE(ok);
}
