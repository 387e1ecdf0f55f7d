// SPDX-License-Identifier: Apache-2.0
#pragma once
// The pieces span values and group rows are built from and read with
// (span_codec.cpp, span_group.cpp): varints, strings, ids packed from hex, a
// bounds-checked reader, and the parts every span value has.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cairn/runtime.hpp"
#include "internal/derived_ids.hpp"
#include "internal/keys.hpp"
#include "internal/span_codec.hpp"

namespace cairn::internal::span_wire {

enum flag : uint8_t {
  has_parent = 1,
  has_name = 2,
  has_message = 4,
  has_step = 8,
  has_attributes = 16,
  has_links = 32,
  envelope_after = 64,  ///< in a `span_same_step_format` value: the envelope id as a difference
  parent_derived = 128, ///< in a short step span value: the parent is the envelope's own
};

/// In a short step span member's head (`span_step_head_format` or
/// `span_same_step_format`), in place of its trace id: the trace its
/// envelope id starts (internal/derived_ids.hpp), and in a
/// `span_same_step_format` member its end time before it is the difference
/// from the member before's; in place of its span id: `step_span_id` of its
/// envelope and attempt. `put_id` never writes it (an empty id is not packed).
inline constexpr uint8_t derived_id = 1;

inline void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

inline void put_str(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

inline int hex_value(char c) {
  return hex_values[static_cast<uint8_t>(c)];
}

/// An id: lowercase hex of even length goes as bytes (half the size),
/// anything else as it is. `varint(length << 1 | packed)`, then the bytes.
inline void put_id(std::string& out, std::string_view id) {
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

/// Writes what `put_varint`, `put_str` and `put_id` would, into bytes made
/// room for beforehand: a step span's member written this way costs a store
/// a byte, not a capacity check (every step writes one, on the scheduler
/// thread). The caller makes the room and gives back what it did not use.
struct raw_writer {
  char* p;

  void byte(uint8_t b) { *p++ = static_cast<char>(b); }

  void varint(uint64_t v) {
    while (v >= 0x80) {
      *p++ = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<char>(v);
  }

  void bytes(std::string_view s) {
    if (!s.empty())
      std::memcpy(p, s.data(), s.size());
    p += s.size();
  }

  void str(std::string_view s) {
    varint(s.size());
    bytes(s);
  }

  void id(std::string_view id) {
    if (!id.empty() && id.size() % 2 == 0) {
      auto* start = p;
      varint((id.size() / 2) << 1 | 1);
      int bad = 0;
      for (size_t i = 0; i < id.size(); i += 2) {
        int hi = hex_value(id[i]), lo = hex_value(id[i + 1]);
        bad |= hi | lo;
        *p++ = static_cast<char>((hi & 0xf) << 4 | (lo & 0xf));
      }
      if (bad >= 0)
        return;
      p = start;
    }
    varint(id.size() << 1);
    bytes(id);
  }

  /// What `id` writes for 32 lowercase hex digits whose halves are `hi`
  /// and `lo`: their sixteen bytes, the first digits first.
  void packed_id(uint64_t hi, uint64_t lo) {
    varint(16 << 1 | 1);
    for (int shift = 56; shift >= 0; shift -= 8)
      *p++ = static_cast<char>(hi >> shift);
    for (int shift = 56; shift >= 0; shift -= 8)
      *p++ = static_cast<char>(lo >> shift);
  }

  /// The most bytes `varint` writes.
  static constexpr size_t varint_room = 10;
};

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

  std::string id() { return id_of(varint()); }

  /// An id whose head varint (`put_id`'s) was read already.
  std::string id_of(uint64_t v) {
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
inline void put_head(std::string& out, uint8_t flags, span_kind kind, span_status status,
                     int64_t start_us, int64_t end_us) {
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
inline void put_step_rest(std::string& out, uint32_t attempt, uint64_t first_event, uint32_t events,
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
inline void put_step_tail(std::string& out, std::string_view envelope_id, uint32_t attempt,
                          uint64_t first_event, uint32_t events, const std::vector<Sent>& sent) {
  put_id(out, envelope_id);
  put_step_rest(out, attempt, first_event, events, sent);
}

/// A step's own part: actor, type, envelope, attempt, events, messages sent
/// (`sent_message`s or `sent_view`s).
template <class Sent>
inline void put_step(std::string& out, std::string_view actor, std::string_view type,
                     std::string_view envelope_id, uint32_t attempt, uint64_t first_event,
                     uint32_t events, const std::vector<Sent>& sent) {
  put_str(out, actor);
  put_str(out, type);
  put_step_tail(out, envelope_id, attempt, first_event, events, sent);
}

inline void put_link(std::string& out, std::string_view trace_id, std::string_view span_id,
                     std::string_view type) {
  put_id(out, trace_id);
  put_id(out, span_id);
  put_str(out, type);
}

/// Appends a member: the head `head` appends (end time and ids), then the
/// value `write` appends, behind its length. The length takes two bytes (a
/// varint may be written long) unless the value needs more, so the value is
/// written in place.
template <class Head, class Write>
inline void append_member_with(std::string& out, Head&& head, Write&& write) {
  head(out);
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

/// Appends a member: end time, ids, then the value `write` appends.
template <class Write>
inline void append_member(std::string& out, uint64_t end_us, std::string_view trace_id,
                          std::string_view span_id, Write&& write) {
  append_member_with(
    out,
    [&](std::string& o) {
      put_varint(o, end_us);
      put_id(o, trace_id);
      put_id(o, span_id);
    },
    std::forward<Write>(write));
}

} // namespace cairn::internal::span_wire
