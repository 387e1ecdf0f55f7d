// SPDX-License-Identifier: Apache-2.0
// A commit's `trace` row (layout 6 and 7, internal/span_codec.hpp): step
// spans that name the one before them, written and read back whole; the
// indexer's walk over a row's trace ids, and its sort of what it found.
#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <utility>

#include "internal/keys.hpp"
#include "internal/span_codec.hpp"
#include "internal/span_wire.hpp"

namespace cairn::internal {

using namespace span_wire;

void append_step_span_member(std::string& out, const step_span_view& v) {
  span_chain none;
  append_step_span_member(out, v, none);
}

namespace {

/// The bytes of `value`'s actor and type if it is a step span others may
/// name (ended `ok`, no attributes, no links, times that come back), else
/// nothing. `value` is a full span value.
std::optional<std::string_view> nameable_step(std::string_view value) {
  reader in{value};
  if (in.byte() != span_format)
    return std::nullopt;
  auto flags = in.byte();
  auto kind = in.byte();
  auto status = in.byte();
  if ((flags & ~has_parent) != has_step || kind != static_cast<uint8_t>(span_kind::consumer)
      || status != static_cast<uint8_t>(span_status::ok))
    return std::nullopt;
  in.varint(); // start
  in.varint(); // duration
  if (flags & has_parent)
    in.skip(in.varint() >> 1);
  auto from = value.size() - in.remaining();
  in.skip(in.varint()); // actor
  in.skip(in.varint()); // type
  if (!in.ok())
    return std::nullopt;
  return value.substr(from, value.size() - in.remaining() - from);
}

/// The value of the member at `at` in `out`, if it is a whole member.
std::optional<std::string_view> member_value(std::string_view out, size_t at) {
  if (at >= out.size())
    return std::nullopt;
  reader in{out.substr(at)};
  in.varint();               // end
  in.skip(in.varint() >> 1); // trace id
  in.skip(in.varint() >> 1); // span id
  auto n = in.varint();
  if (!in.ok() || n > in.remaining())
    return std::nullopt;
  auto from = out.size() - in.remaining();
  return out.substr(from, n);
}

/// An envelope id of 32 lowercase hex digits as its two halves.
bool envelope_halves(std::string_view id, uint64_t& clock, uint64_t& tag) {
  if (id.size() != 32)
    return false;
  uint64_t halves[2] = {0, 0};
  for (size_t i = 0; i < 32; ++i) {
    int d = hex_value(id[i]);
    if (d < 0)
      return false;
    halves[i / 16] = halves[i / 16] << 4 | static_cast<uint64_t>(d);
  }
  clock = halves[0];
  tag = halves[1];
  return true;
}

uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

int64_t unzigzag(uint64_t z) {
  return static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
}

/// The envelope id of a full step span value (after its actor and type,
/// which `from` points past), if packed from 32 hex digits.
bool packed_envelope(std::string_view value, size_t from, uint64_t& clock, uint64_t& tag) {
  reader in{value.substr(from)};
  auto v = in.varint();
  if (!in.ok() || v != (16u << 1 | 1) || in.remaining() < 16)
    return false;
  auto at = value.size() - in.remaining();
  clock = keys::read_be64(value, at);
  tag = keys::read_be64(value, at + 8);
  return true;
}

bool nameable(const step_span_view& v) {
  return !v.resumed && v.retry_of.empty() && v.resumed_from.empty() && v.start_us >= 0
         && v.end_us >= v.start_us;
}

} // namespace

void append_step_span_member(std::string& out, const step_span_view& v, span_chain& chain) {
  bool same = false;
  if (nameable(v) && chain.full != std::string::npos && chain.end == out.size()) {
    auto before = member_value(out, chain.full);
    auto names = before ? nameable_step(*before) : std::nullopt;
    if (names) {
      std::string expected;
      put_str(expected, v.actor);
      put_str(expected, v.type);
      same = *names == expected;
    }
  }
  uint64_t clock = 0, tag = 0;
  bool hex = envelope_halves(v.envelope_id, clock, tag);
  auto at = out.size();
  append_member(
    out, static_cast<uint64_t>(v.end_us < 0 ? 0 : v.end_us), v.trace_id, v.span_id,
    [&](std::string& o) {
      if (!same)
        return encode_step_span(o, v);
      // What a full value has, less its kind, status, start, actor and type.
      o.push_back(static_cast<char>(span_same_step_format));
      o.push_back(static_cast<char>(has_step | (v.parent_span_id.empty() ? 0 : has_parent)));
      bool after = chain.envelope_hex && hex && tag == chain.envelope_tag;
      o.back() = static_cast<char>(o.back() | (after ? envelope_after : 0));
      put_varint(o, static_cast<uint64_t>(v.end_us - v.start_us));
      if (!v.parent_span_id.empty())
        put_id(o, v.parent_span_id);
      if (after)
        put_varint(o, zigzag(static_cast<int64_t>(clock - chain.envelope_clock)));
      else
        put_id(o, v.envelope_id);
      static const std::vector<sent_view> none;
      put_step_rest(o, v.attempt, v.first_event, v.events, v.sent != nullptr ? *v.sent : none);
    });
  chain.envelope_hex = hex;
  chain.envelope_clock = clock;
  chain.envelope_tag = tag;
  if (same) {
    chain.end = out.size();
  } else if (nameable(v)) {
    chain.full = at;
    chain.end = out.size();
  } else {
    chain.full = std::string::npos;
  }
}

bool next_in_group(std::string_view value, size_t& pos, std::string& key, std::string_view& span,
                   bool& ok, span_group_reader& r) {
  if (pos >= value.size())
    return false;
  reader in{value.substr(pos)};
  auto end_us = in.varint();
  auto trace_id = in.id();
  auto span_id = in.id();
  auto n = in.varint();
  size_t used = value.size() - pos - in.remaining();
  if (!in.ok() || n > in.remaining() || trace_id.size() != keys::trace_id_size) {
    ok = false;
    return false;
  }
  span = value.substr(pos + used, n);
  if (!span.empty() && static_cast<uint8_t>(span[0]) == span_same_step_format) {
    // Names the step span before it: its full value is built back.
    reader in_value{span.substr(1)};
    auto flags = in_value.byte();
    auto duration = in_value.varint();
    auto parent_at = span.size() - in_value.remaining();
    if (flags & has_parent)
      in_value.skip(in_value.varint() >> 1);
    auto envelope_at = span.size() - in_value.remaining();
    uint64_t clock = 0, tag = 0;
    bool hex = false;
    if (flags & envelope_after) {
      clock = r.envelope_clock + static_cast<uint64_t>(unzigzag(in_value.varint()));
      tag = r.envelope_tag;
      hex = r.envelope_hex;
    } else {
      hex = packed_envelope(span, envelope_at, clock, tag);
      in_value.skip(in_value.varint() >> 1);
    }
    auto rest_at = span.size() - in_value.remaining();
    if (!r.has_same || !in_value.ok() || (flags & ~(has_parent | envelope_after)) != has_step
        || duration > end_us || ((flags & envelope_after) && !hex)) {
      ok = false;
      return false;
    }
    auto& full = r.expanded;
    full.clear();
    full.push_back(static_cast<char>(span_format));
    full.push_back(static_cast<char>(flags & ~envelope_after));
    full.push_back(static_cast<char>(span_kind::consumer));
    full.push_back(static_cast<char>(span_status::ok));
    put_varint(full, end_us - duration);
    put_varint(full, duration);
    full.append(span.substr(parent_at, envelope_at - parent_at));
    full.append(r.same);
    if (flags & envelope_after) {
      put_varint(full, 16u << 1 | 1);
      keys::append_be64(full, clock);
      keys::append_be64(full, tag);
    } else {
      full.append(span.substr(envelope_at, rest_at - envelope_at));
    }
    full.append(span.substr(rest_at));
    span = full;
    r.envelope_hex = hex;
    r.envelope_clock = clock;
    r.envelope_tag = tag;
  } else if (auto names = nameable_step(span)) {
    r.same.assign(*names);
    r.has_same = true;
    auto after_names = static_cast<size_t>(names->data() + names->size() - span.data());
    r.envelope_hex = packed_envelope(span, after_names, r.envelope_clock, r.envelope_tag);
  } else {
    r.has_same = false;
    r.envelope_hex = false;
  }
  key = keys::span(end_us, trace_id, span_id);
  pos += used + n;
  return true;
}

bool next_trace_in_group(std::string_view value, size_t& pos, char (&trace_id)[32], bool& ok) {
  if (pos >= value.size())
    return false;
  reader in{value.substr(pos)};
  in.varint(); // its end
  auto id = in.varint();
  auto n = id >> 1;
  if (!in.ok() || n > in.remaining()) {
    ok = false;
    return false;
  }
  auto raw = value.substr(value.size() - in.remaining(), n);
  static constexpr char digits[] = "0123456789abcdef";
  if ((id & 1) != 0 && n == 16) {
    for (size_t i = 0; i < 16; ++i) {
      auto c = static_cast<uint8_t>(raw[i]);
      trace_id[2 * i] = digits[c >> 4];
      trace_id[2 * i + 1] = digits[c & 15];
    }
  } else if ((id & 1) == 0 && n == 32) {
    std::memcpy(trace_id, raw.data(), 32);
  } else {
    ok = false;
    return false;
  }
  in.skip(n);
  auto span = in.varint();
  in.skip(span >> 1);
  auto len = in.varint();
  in.skip(len);
  if (!in.ok()) {
    ok = false;
    return false;
  }
  pos = value.size() - in.remaining();
  return true;
}

static_assert(sizeof(span_index_entry::trace_id) == keys::trace_id_size);

// Sorts a pass's entries by hour, trace id and row. They come in row
// order, so a stable radix sort on the hour and the trace id's first 8 bytes
// (least significant byte first, skipping bytes every entry shares) keeps
// rows in order; entries whose first 8 bytes tie (the same trace, almost
// always) are then sorted by the rest. It replaced a comparison sort that
// was a ninth of the indexer's time.
void sort_span_entries(std::vector<span_index_entry>& entries,
                       std::vector<span_index_entry>& scratch) {
  constexpr size_t head = 8;          // trace id bytes in the radix key
  constexpr size_t digits = head + 4; // then the hour's, most significant last
  auto digit = [](const span_index_entry& e, size_t d) -> uint8_t {
    if (d < head)
      return static_cast<uint8_t>(e.trace_id[head - 1 - d]);
    return static_cast<uint8_t>(e.hour >> (8 * (d - head)));
  };
  std::vector<std::array<uint32_t, 256>> counts(digits);
  for (auto& c : counts)
    c.fill(0);
  for (const auto& e : entries)
    for (size_t d = 0; d < digits; ++d)
      ++counts[d][digit(e, d)];
  if (scratch.capacity() < entries.size())
    scratch.reserve(entries.size() + entries.size() / 2); // as `entries` grows: not each pass
  scratch.resize(entries.size());
  for (size_t d = 0; d < digits; ++d) {
    auto& c = counts[d];
    if (std::any_of(c.begin(), c.end(), [&](uint32_t n) { return n == entries.size(); }))
      continue; // every entry has this byte: nothing to order
    uint32_t at = 0;
    for (auto& n : c)
      at += std::exchange(n, at);
    for (const auto& e : entries)
      scratch[c[digit(e, d)]++] = e;
    entries.swap(scratch);
  }
  auto tail_less = [](const span_index_entry& a, const span_index_entry& b) {
    if (int c = std::memcmp(a.trace_id + head, b.trace_id + head, sizeof a.trace_id - head); c != 0)
      return c < 0;
    return a.row < b.row;
  };
  for (size_t i = 0; i < entries.size();) {
    size_t j = i + 1;
    while (j < entries.size() && entries[j].hour == entries[i].hour
           && std::memcmp(entries[j].trace_id, entries[i].trace_id, head) == 0)
      ++j;
    if (j - i > 1)
      std::sort(entries.begin() + static_cast<std::ptrdiff_t>(i),
                entries.begin() + static_cast<std::ptrdiff_t>(j), tail_less);
    i = j;
  }
}

} // namespace cairn::internal
