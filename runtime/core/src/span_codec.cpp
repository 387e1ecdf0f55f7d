// SPDX-License-Identifier: Apache-2.0
// The span value of layout 5 (internal/span_codec.hpp): written by every
// step, so it is built by hand into one string rather than serialized. And
// the span indexer's sort of what it found.
#include "internal/span_codec.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <utility>

#include "cairn/error.hpp"
#include "internal/keys.hpp"

namespace cairn::internal {

namespace {

enum flag : uint8_t {
  has_parent = 1,
  has_name = 2,
  has_message = 4,
  has_step = 8,
  has_attributes = 16,
  has_links = 32,
  envelope_after = 64, ///< in a `span_same_step_format` value: the envelope id as a difference
};

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_str(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

/// A lowercase hex digit's value, -1 for any other byte.
constexpr std::array<int8_t, 256> hex_values = [] {
  std::array<int8_t, 256> t{};
  for (auto& v : t)
    v = -1;
  for (int c = '0'; c <= '9'; ++c)
    t[c] = static_cast<int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c)
    t[c] = static_cast<int8_t>(c - 'a' + 10);
  return t;
}();

int hex_value(char c) {
  return hex_values[static_cast<uint8_t>(c)];
}

/// An id: lowercase hex of even length goes as bytes (half the size),
/// anything else as it is. `varint(length << 1 | packed)`, then the bytes.
void put_id(std::string& out, std::string_view id) {
  if (!id.empty() && id.size() % 2 == 0) {
    // Packed in one pass, checked as it goes (every step packs several ids:
    // the byte-by-byte append, then a checking pass before the packing one,
    // were 2-5 % of a node's samples); undone if a character is not hex.
    auto at = out.size();
    put_varint(out, (id.size() / 2) << 1 | 1);
    auto body = out.size();
    out.resize(body + id.size() / 2);
    auto* to = out.data() + body;
    int bad = 0;
    for (size_t i = 0; i < id.size(); i += 2) {
      int hi = hex_value(id[i]), lo = hex_value(id[i + 1]);
      bad |= hi | lo; // -1 for a character that is not hex
      *to++ = static_cast<char>((hi & 0xf) << 4 | (lo & 0xf));
    }
    if (bad >= 0)
      return;
    out.resize(at);
  }
  put_varint(out, id.size() << 1);
  out.append(id);
}

class reader {
public:
  explicit reader(std::string_view in) : in_(in) {}

  bool ok() const { return ok_; }

  uint8_t byte() {
    if (pos_ >= in_.size())
      return fail(), 0;
    return static_cast<uint8_t>(in_[pos_++]);
  }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      auto b = byte();
      if (!ok_)
        return 0;
      v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0)
        return v;
    }
    return fail(), 0;
  }

  std::string str() {
    auto n = varint();
    if (!ok_ || n > in_.size() - pos_)
      return fail(), std::string{};
    std::string s{in_.substr(pos_, n)};
    pos_ += n;
    return s;
  }

  std::string id() {
    auto v = varint();
    auto n = v >> 1;
    if (!ok_ || n > in_.size() - pos_)
      return fail(), std::string{};
    auto raw = in_.substr(pos_, n);
    pos_ += n;
    if ((v & 1) == 0)
      return std::string{raw};
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    s.reserve(n * 2);
    for (unsigned char c : raw) {
      s.push_back(digits[c >> 4]);
      s.push_back(digits[c & 15]);
    }
    return s;
  }

  double f64() {
    if (in_.size() - pos_ < 8)
      return fail(), 0.0;
    uint64_t bits = keys::read_be64(in_, pos_);
    pos_ += 8;
    double d = 0;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }

  bool at_end() const { return pos_ == in_.size(); }
  size_t remaining() const { return in_.size() - pos_; }
  void skip(uint64_t n) {
    if (!ok_ || n > in_.size() - pos_)
      return fail();
    pos_ += n;
  }

private:
  void fail() { ok_ = false; }

  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

/// What every span value starts with: format, flags, kind, status, start
/// and duration.
void put_head(std::string& out, uint8_t flags, span_kind kind, span_status status, int64_t start_us,
              int64_t end_us) {
  out.push_back(static_cast<char>(span_format));
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>(kind));
  out.push_back(static_cast<char>(status));
  put_varint(out, static_cast<uint64_t>(std::max<int64_t>(start_us, 0)));
  put_varint(out, static_cast<uint64_t>(std::max<int64_t>(end_us - start_us, 0)));
}

/// A step's own part after its envelope id: attempt, events, messages sent
/// (`sent_message`s or `sent_view`s).
template <class Sent>
void put_step_rest(std::string& out, uint32_t attempt, uint64_t first_event, uint32_t events,
                   const std::vector<Sent>& sent) {
  put_varint(out, attempt);
  put_varint(out, first_event);
  put_varint(out, events);
  put_varint(out, sent.size());
  for (const auto& m : sent) {
    put_id(out, m.id);
    put_str(out, m.to);
    put_str(out, m.type);
  }
}

/// A step's own part after its actor and type: envelope, attempt, events,
/// messages sent (`sent_message`s or `sent_view`s).
template <class Sent>
void put_step_tail(std::string& out, std::string_view envelope_id, uint32_t attempt,
                   uint64_t first_event, uint32_t events, const std::vector<Sent>& sent) {
  put_id(out, envelope_id);
  put_step_rest(out, attempt, first_event, events, sent);
}

/// A step's own part: actor, type, envelope, attempt, events, messages sent
/// (`sent_message`s or `sent_view`s).
template <class Sent>
void put_step(std::string& out, std::string_view actor, std::string_view type,
              std::string_view envelope_id, uint32_t attempt, uint64_t first_event, uint32_t events,
              const std::vector<Sent>& sent) {
  put_str(out, actor);
  put_str(out, type);
  put_step_tail(out, envelope_id, attempt, first_event, events, sent);
}

void put_link(std::string& out, std::string_view trace_id, std::string_view span_id,
              std::string_view type) {
  put_id(out, trace_id);
  put_id(out, span_id);
  put_str(out, type);
}

} // namespace

void encode_span(std::string& out, const span_record& s) {
  uint8_t flags = 0;
  flags |= s.parent_span_id.empty() ? 0 : has_parent;
  // A step's name is "process {type}": it is not stored twice.
  bool derived_name = !s.type.empty() && s.name == "process " + s.type;
  flags |= s.name.empty() || derived_name ? 0 : has_name;
  flags |= s.status_message.empty() ? 0 : has_message;
  flags |= s.actor.empty() && s.type.empty() && s.envelope_id.empty() ? 0 : has_step;
  flags |= s.attributes.empty() ? 0 : has_attributes;
  flags |= s.links.empty() ? 0 : has_links;
  put_head(out, flags, s.kind, s.status, s.start_us, s.end_us);
  if (flags & has_parent)
    put_id(out, s.parent_span_id);
  if (flags & has_name)
    put_str(out, s.name);
  if (flags & has_message)
    put_str(out, s.status_message);
  if (flags & has_step)
    put_step(out, s.actor, s.type, s.envelope_id, s.attempt, s.first_event, s.events, s.sent);
  if (flags & has_attributes) {
    put_varint(out, s.attributes.size());
    for (const auto& a : s.attributes) {
      put_str(out, a.key);
      out.push_back(static_cast<char>(a.value.index()));
      if (auto* str = std::get_if<std::string>(&a.value)) {
        put_str(out, *str);
      } else if (auto* i = std::get_if<int64_t>(&a.value)) {
        // zigzag: small negative numbers stay short
        put_varint(out, (static_cast<uint64_t>(*i) << 1) ^ static_cast<uint64_t>(*i >> 63));
      } else if (auto* d = std::get_if<double>(&a.value)) {
        uint64_t bits = 0;
        std::memcpy(&bits, d, sizeof bits);
        keys::append_be64(out, bits);
      } else {
        out.push_back(std::get<bool>(a.value) ? 1 : 0);
      }
    }
  }
  if (flags & has_links) {
    put_varint(out, s.links.size());
    for (const auto& l : s.links)
      put_link(out, l.trace_id, l.span_id, l.type);
  }
}

void encode_step_span(std::string& out, const step_span_view& v) {
  uint8_t flags = has_step;
  flags |= v.parent_span_id.empty() ? 0 : has_parent;
  flags |= v.resumed ? has_attributes : 0;
  flags |= v.retry_of.empty() && v.resumed_from.empty() ? 0 : has_links;
  put_head(out, flags, span_kind::consumer, span_status::ok, v.start_us, v.end_us);
  if (flags & has_parent)
    put_id(out, v.parent_span_id);
  static const std::vector<sent_view> none;
  put_step(out, v.actor, v.type, v.envelope_id, v.attempt, v.first_event, v.events,
           v.sent != nullptr ? *v.sent : none);
  if (flags & has_attributes) {
    put_varint(out, 1);
    put_str(out, "cairn.resumed");
    out.push_back(3); // the variant's index of bool
    out.push_back(1);
  }
  if (flags & has_links) {
    put_varint(out, (v.retry_of.empty() ? 0 : 1) + (v.resumed_from.empty() ? 0 : 1));
    if (!v.retry_of.empty())
      put_link(out, v.trace_id, v.retry_of, "retry_of");
    if (!v.resumed_from.empty())
      put_link(out, v.trace_id, v.resumed_from, "resumed_from");
  }
}

namespace {

/// Appends a member: end time, ids, then the value `write` appends, behind
/// its length. The length takes two bytes (a varint may be written long)
/// unless the value needs more, so the value is written in place.
template <class Write>
void append_member(std::string& out, uint64_t end_us, std::string_view trace_id,
                   std::string_view span_id, Write&& write) {
  put_varint(out, end_us);
  put_id(out, trace_id);
  put_id(out, span_id);
  auto at = out.size();
  out.append(2, '\0');
  write(out);
  auto n = out.size() - at - 2;
  if (n < (1u << 14)) {
    out[at] = static_cast<char>(0x80 | (n & 0x7f));
    out[at + 1] = static_cast<char>(n >> 7);
    return;
  }
  std::string value = out.substr(at + 2);
  out.resize(at);
  put_str(out, value);
}

} // namespace

void append_to_group(std::string& out, std::string_view span_key, std::string_view value) {
  if (span_key.size() < 8 + keys::trace_id_size)
    return;
  append_member(out, keys::read_be64(span_key), span_key.substr(8, keys::trace_id_size),
                span_key.substr(8 + keys::trace_id_size), [&](std::string& o) { o.append(value); });
}

void append_span_member(std::string& out, const span_record& s) {
  append_member(out, static_cast<uint64_t>(std::max<int64_t>(s.end_us, 0)), s.trace_id, s.span_id,
                [&](std::string& o) { encode_span(o, s); });
}

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

caf::expected<span_record> decode_span(std::string_view key, std::string_view value) {
  auto bad = [&](const char* what) {
    return make_error(errc::corrupt_record, std::string{"span row does not decode: "} + what);
  };
  if (key.size() <= 8 + keys::trace_id_size)
    return bad("its key is too short");
  if (value.empty() || static_cast<uint8_t>(value[0]) != span_format)
    return bad("not a layout-5 span (written by an older build?)");
  span_record s;
  s.trace_id = key.substr(8, keys::trace_id_size);
  s.span_id = key.substr(8 + keys::trace_id_size);
  reader in{value.substr(1)};
  auto flags = in.byte();
  auto kind = in.byte();
  auto status = in.byte();
  if (kind < 1 || kind > 5 || status > 2)
    return bad("unknown kind or status");
  s.kind = static_cast<span_kind>(kind);
  s.status = static_cast<span_status>(status);
  s.start_us = static_cast<int64_t>(in.varint());
  s.end_us = s.start_us + static_cast<int64_t>(in.varint());
  if (flags & has_parent)
    s.parent_span_id = in.id();
  if (flags & has_name)
    s.name = in.str();
  if (flags & has_message)
    s.status_message = in.str();
  if (flags & has_step) {
    s.actor = in.str();
    s.type = in.str();
    s.envelope_id = in.id();
    s.attempt = static_cast<uint32_t>(in.varint());
    s.first_event = in.varint();
    s.events = static_cast<uint32_t>(in.varint());
    auto n = in.varint();
    for (uint64_t i = 0; in.ok() && i < n; ++i) {
      sent_message m;
      m.id = in.id();
      m.to = in.str();
      m.type = in.str();
      s.sent.push_back(std::move(m));
    }
    if (s.name.empty() && !s.type.empty())
      s.name = "process " + s.type;
  }
  if (flags & has_attributes) {
    auto n = in.varint();
    for (uint64_t i = 0; in.ok() && i < n; ++i) {
      span_attribute a;
      a.key = in.str();
      switch (in.byte()) {
        case 0: a.value = in.str(); break;
        case 1: {
          auto z = in.varint();
          a.value = static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
          break;
        }
        case 2: a.value = in.f64(); break;
        case 3: a.value = in.byte() != 0; break;
        default: return bad("an attribute of unknown type");
      }
      s.attributes.push_back(std::move(a));
    }
  }
  if (flags & has_links) {
    auto n = in.varint();
    for (uint64_t i = 0; in.ok() && i < n; ++i) {
      span_link l;
      l.trace_id = in.id();
      l.span_id = in.id();
      l.type = in.str();
      s.links.push_back(std::move(l));
    }
  }
  if (!in.ok())
    return bad("it ends early");
  return s;
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
