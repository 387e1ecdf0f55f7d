// SPDX-License-Identifier: Apache-2.0
// A commit's `trace` row (layouts 6 to 8, internal/span_codec.hpp): short
// step spans that name the one before them and leave out the ids their
// envelope id gives, written and read back whole; the indexer's walk over a
// row's trace ids (its sort of what it found is in span_sort.cpp).
#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <utility>

#include "internal/derived_ids.hpp"
#include "internal/keys.hpp"
#include "internal/span_codec.hpp"
#include "internal/span_wire.hpp"

namespace cairn::internal {

using namespace span_wire;

void append_step_span_member(std::string& out, const step_span_view& v) {
  append_member(out, static_cast<uint64_t>(v.end_us < 0 ? 0 : v.end_us), v.trace_id, v.span_id,
                [&](std::string& o) { encode_step_span(o, v); });
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

/// 32 hex digits of an envelope id's halves.
std::string envelope_text(uint64_t clock, uint64_t tag) {
  std::string id(32, '0');
  put_hex64(id.data(), clock);
  put_hex64(id.data() + 16, tag);
  return id;
}

} // namespace

void append_step_span_member(std::string& out, const step_span_view& v, span_chain& chain) {
  bool short_form = nameable(v);
  bool same = short_form && chain.named && chain.end == out.size() && v.actor == chain.actor
              && v.type == chain.type;
  uint64_t clock = v.id_clock, tag = v.id_tag;
  bool hex = v.id_halves_known || envelope_halves(v.envelope_id, clock, tag);
  auto end = static_cast<uint64_t>(v.end_us < 0 ? 0 : v.end_us);
  // What the envelope id gives and need not be written: the trace it started
  // (and so the parent), the step's span id.
  bool trace_given = false, parent_given = false, span_given = false;
  if (short_form && hex && v.id_halves_known && v.trace_derived) {
    trace_given = true; // as its maker knows: nothing read or derived here
    parent_given = !v.parent_span_id.empty();
  } else if (short_form && hex) {
    auto d = derive_trace(clock, tag);
    uint64_t hi = 0, lo = 0, parent = 0;
    trace_given = envelope_halves(v.trace_id, hi, lo) && hi == d.trace_hi && lo == d.trace_lo;
    parent_given = hex16_value(v.parent_span_id, parent) && parent == d.parent;
  }
  if (short_form && hex) {
    uint64_t span = 0;
    span_given =
      v.span_value != 0
      || (hex16_value(v.span_id, span) && span == step_span_value(v.envelope_id, v.attempt));
  }
  if (!short_form) {
    append_member_with(
      out,
      [&](std::string& o) {
        put_varint(o, end);
        put_id(o, v.trace_id);
        put_id(o, v.span_id);
      },
      [&](std::string& o) { encode_step_span(o, v); });
  } else {
    // Written through raw stores into room made first (what
    // `append_member_with` and the `put_` helpers would write): a member
    // per step, on the scheduler thread.
    static const std::vector<sent_view> none;
    const auto& sent = v.sent != nullptr ? *v.sent : none;
    size_t room = 16 * raw_writer::varint_room + v.trace_id.size() + v.span_id.size()
                  + v.parent_span_id.size() + v.actor.size() + v.type.size() + v.envelope_id.size();
    for (const auto& m : sent)
      room += 3 * raw_writer::varint_room + m.id.size() + m.to.size() + m.type.size();
    auto begin = out.size();
    out.resize(begin + room);
    raw_writer w{out.data() + begin};
    if (trace_given) {
      w.varint(same ? zigzag(static_cast<int64_t>(end - chain.end_us)) : end);
      w.byte(derived_id);
    } else {
      w.varint(end);
      w.id(v.trace_id);
    }
    if (span_given)
      w.byte(derived_id);
    else
      w.id(v.span_id);
    auto length_at = static_cast<size_t>(w.p - out.data());
    w.p += 2;
    auto value_at = static_cast<size_t>(w.p - out.data());
    // What a full value has, less its kind, status and start; after a step
    // of the same actor and type, less those too.
    bool after = same && chain.envelope_hex && hex && tag == chain.envelope_tag;
    uint8_t flags = has_step | (v.parent_span_id.empty() ? 0 : has_parent)
                    | (after ? envelope_after : 0) | (parent_given ? parent_derived : 0);
    w.byte(same ? span_same_step_format : span_step_head_format);
    w.byte(flags);
    w.varint(static_cast<uint64_t>(v.end_us - v.start_us));
    if (!v.parent_span_id.empty() && !parent_given)
      w.id(v.parent_span_id);
    if (!same) {
      w.str(v.actor);
      w.str(v.type);
    }
    if (after)
      w.varint(zigzag(static_cast<int64_t>(clock - chain.envelope_clock)));
    else if (v.id_halves_known)
      w.packed_id(clock, tag); // what `id` writes for the id's 32 digits
    else
      w.id(v.envelope_id);
    w.varint(v.attempt);
    w.varint(v.first_event);
    w.varint(v.events);
    w.varint(sent.size());
    for (const auto& m : sent) {
      w.id(m.id);
      w.str(m.to);
      w.str(m.type);
    }
    auto n = static_cast<size_t>(w.p - out.data()) - value_at;
    out.resize(value_at + n);
    if (n < (1u << 14)) {
      out[length_at] = static_cast<char>(0x80 | (n & 0x7f));
      out[length_at + 1] = static_cast<char>(n >> 7);
    } else { // as `append_member_with` writes a long value
      std::string value = out.substr(value_at);
      out.resize(length_at);
      put_str(out, value);
    }
  }
  chain.envelope_hex = hex;
  chain.envelope_clock = clock;
  chain.envelope_tag = tag;
  chain.end_us = end;
  chain.end = out.size();
  chain.named = short_form;
  if (short_form && !same) {
    chain.actor.assign(v.actor);
    chain.type.assign(v.type);
  }
}

namespace {

/// The parts of a short step span value (`span_step_head_format` or
/// `span_same_step_format`), its envelope id resolved against the member
/// before's (`clock`, `tag`, `hex` on entry).
struct short_step_parts {
  bool head = false; ///< `span_step_head_format`: names its actor and type
  uint8_t flags = 0;
  uint64_t duration = 0;
  size_t parent_at = 0, names_at = 0, envelope_at = 0, rest_at = 0;
  uint64_t attempt = 0;
};

/// Reads `span` (a short step span value) into `p`, and its envelope id into
/// `clock`, `tag` and `hex` (which hold the member before's); false if it
/// does not parse or breaks a rule of its format.
bool read_short_step(std::string_view span, short_step_parts& p, uint64_t& clock, uint64_t& tag,
                     bool& hex) {
  reader in{span.substr(1)};
  p.head = static_cast<uint8_t>(span[0]) == span_step_head_format;
  p.flags = in.byte();
  p.duration = in.varint();
  p.parent_at = span.size() - in.remaining();
  if ((p.flags & has_parent) && !(p.flags & parent_derived))
    in.skip(in.varint() >> 1);
  p.names_at = span.size() - in.remaining();
  if (p.head) {
    in.skip(in.varint()); // actor
    in.skip(in.varint()); // type
  }
  p.envelope_at = span.size() - in.remaining();
  if (p.flags & envelope_after) {
    clock += static_cast<uint64_t>(unzigzag(in.varint()));
  } else {
    hex = packed_envelope(span, p.envelope_at, clock, tag);
    in.skip(in.varint() >> 1);
  }
  p.rest_at = span.size() - in.remaining();
  p.attempt = in.varint();
  constexpr uint8_t known = has_step | has_parent | envelope_after | parent_derived;
  return in.ok() && (p.flags & ~known & 0xff) == 0 && (p.flags & has_step)
         && !(p.head && (p.flags & envelope_after))
         && !((p.flags & parent_derived) && !(p.flags & has_parent))
         && !((p.flags & (envelope_after | parent_derived)) && !hex);
}

bool short_step(std::string_view span) {
  if (span.empty())
    return false;
  auto format = static_cast<uint8_t>(span[0]);
  return format == span_same_step_format || format == span_step_head_format;
}

/// An id's head and bytes as `reader::id` would give them, or the marker.
struct head_id {
  uint64_t v = 0;
  std::string_view raw;
  bool given() const { return v == derived_id; }
};

head_id read_head_id(reader& in, std::string_view whole) {
  head_id h;
  h.v = in.varint();
  if (h.given())
    return h;
  auto n = h.v >> 1;
  if (!in.ok() || n > in.remaining()) {
    in.skip(n); // fails the reader
    return h;
  }
  h.raw = whole.substr(whole.size() - in.remaining(), n);
  in.skip(n);
  return h;
}

/// Writes a head id's 32 hex digits (a trace id) at `out`; false if it is
/// not one.
bool trace_hex(const head_id& h, char* out) {
  static constexpr char digits[] = "0123456789abcdef";
  auto n = h.v >> 1;
  if ((h.v & 1) != 0 && n == 16) {
    for (size_t i = 0; i < 16; ++i) {
      auto c = static_cast<uint8_t>(h.raw[i]);
      out[2 * i] = digits[c >> 4];
      out[2 * i + 1] = digits[c & 15];
    }
    return true;
  }
  if ((h.v & 1) == 0 && n == 32) {
    std::memcpy(out, h.raw.data(), 32);
    return true;
  }
  return false;
}

std::string head_text(const head_id& h) {
  if ((h.v & 1) == 0)
    return std::string{h.raw};
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(h.raw.size() * 2);
  for (unsigned char c : h.raw) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

} // namespace

bool next_in_group(std::string_view value, size_t& pos, std::string& key, std::string_view& span,
                   bool& ok, span_group_reader& r) {
  if (pos >= value.size())
    return false;
  auto whole = value.substr(pos);
  reader in{whole};
  auto end_us = in.varint();
  auto trace = read_head_id(in, whole);
  auto span_head = read_head_id(in, whole);
  auto n = in.varint();
  size_t used = whole.size() - in.remaining();
  auto fail = [&] {
    ok = false;
    return false;
  };
  if (!in.ok() || n > in.remaining())
    return fail();
  span = value.substr(pos + used, n);
  bool is_short = short_step(span);
  if ((trace.given() || span_head.given()) && !is_short)
    return fail(); // only a short member leaves them out
  char trace_id[keys::trace_id_size];
  if (!trace.given() && !trace_hex(trace, trace_id))
    return fail();
  std::string span_id;
  if (is_short) {
    // Its full value is built back, from the member before if it names it.
    short_step_parts p;
    uint64_t clock = r.envelope_clock, tag = r.envelope_tag;
    bool hex = r.envelope_hex;
    if (!read_short_step(span, p, clock, tag, hex) || (!p.head && !r.has_same)
        || ((trace.given() || span_head.given()) && !hex))
      return fail();
    if (trace.given() && !p.head)
      end_us = r.end_us + static_cast<uint64_t>(unzigzag(end_us));
    if (p.duration > end_us)
      return fail();
    auto d = derive_trace(clock, tag);
    auto& full = r.expanded;
    full.clear();
    full.push_back(static_cast<char>(span_format));
    full.push_back(static_cast<char>(p.flags & ~(envelope_after | parent_derived)));
    full.push_back(static_cast<char>(span_kind::consumer));
    full.push_back(static_cast<char>(span_status::ok));
    put_varint(full, end_us - p.duration);
    put_varint(full, p.duration);
    if (p.flags & parent_derived) {
      put_varint(full, 8u << 1 | 1);
      keys::append_be64(full, d.parent);
    } else {
      full.append(span.substr(p.parent_at, p.names_at - p.parent_at));
    }
    if (p.head)
      r.same.assign(span.substr(p.names_at, p.envelope_at - p.names_at));
    full.append(r.same);
    if (p.flags & envelope_after) {
      put_varint(full, 16u << 1 | 1);
      keys::append_be64(full, clock);
      keys::append_be64(full, tag);
    } else {
      full.append(span.substr(p.envelope_at, p.rest_at - p.envelope_at));
    }
    full.append(span.substr(p.rest_at));
    span = full;
    r.has_same = true;
    r.envelope_hex = hex;
    r.envelope_clock = clock;
    r.envelope_tag = tag;
    if (trace.given()) {
      put_hex64(trace_id, d.trace_hi);
      put_hex64(trace_id + 16, d.trace_lo);
    }
    if (span_head.given()) {
      span_id.resize(16);
      put_hex64(span_id.data(),
                step_span_value(envelope_text(clock, tag), static_cast<uint32_t>(p.attempt)));
    }
  } else if (auto names = nameable_step(span)) {
    // A whole step span (as layout 7 wrote the first of a flight).
    r.same.assign(*names);
    r.has_same = true;
    auto after_names = static_cast<size_t>(names->data() + names->size() - span.data());
    r.envelope_hex = packed_envelope(span, after_names, r.envelope_clock, r.envelope_tag);
  } else {
    r.has_same = false;
    r.envelope_hex = false;
  }
  if (!span_head.given())
    span_id = head_text(span_head);
  r.end_us = end_us;
  key = keys::span(end_us, std::string_view{trace_id, sizeof trace_id}, span_id);
  pos += used + n;
  return true;
}

bool next_trace_in_group(std::string_view value, size_t& pos, char (&trace_id)[32], bool& ok,
                         span_trace_walk& w) {
  if (pos >= value.size())
    return false;
  auto whole = value.substr(pos);
  reader in{whole};
  auto end_us = in.varint();
  auto trace = read_head_id(in, whole);
  auto span_head = in.varint();
  if (span_head != derived_id)
    in.skip(span_head >> 1);
  auto len = in.varint();
  auto fail = [&] {
    ok = false;
    return false;
  };
  if (!in.ok() || len > in.remaining())
    return fail();
  auto span = whole.substr(whole.size() - in.remaining(), len);
  in.skip(len);
  if (!trace.given() && !trace_hex(trace, trace_id))
    return fail();
  // The envelope ids, for the members that leave their trace out, and the
  // checks `next_in_group` makes: damage stops both at the same member.
  if (short_step(span)) {
    short_step_parts p;
    if (!read_short_step(span, p, w.envelope_clock, w.envelope_tag, w.envelope_hex)
        || (!p.head && !w.has_same)
        || ((trace.given() || span_head == derived_id) && !w.envelope_hex))
      return fail();
    if (trace.given() && !p.head)
      end_us = w.end_us + static_cast<uint64_t>(unzigzag(end_us));
    if (p.duration > end_us)
      return fail();
    w.has_same = true;
    if (trace.given()) {
      auto d = derive_trace(w.envelope_clock, w.envelope_tag);
      put_hex64(trace_id, d.trace_hi);
      put_hex64(trace_id + 16, d.trace_lo);
    }
  } else if (trace.given() || span_head == derived_id) {
    return fail();
  } else if (auto names = nameable_step(span)) {
    w.has_same = true;
    auto after_names = static_cast<size_t>(names->data() + names->size() - span.data());
    w.envelope_hex = packed_envelope(span, after_names, w.envelope_clock, w.envelope_tag);
  } else {
    w.has_same = false;
    w.envelope_hex = false;
  }
  w.end_us = end_us;
  pos += whole.size() - in.remaining();
  return true;
}

} // namespace cairn::internal
