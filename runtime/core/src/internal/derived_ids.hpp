// SPDX-License-Identifier: Apache-2.0
#pragma once
// The trace a message starts when it arrives without one, as a function of
// the envelope id the node gave it. Unique because envelope ids are (for one
// process's tag, the trace id's first half is a bijection of the id's clock),
// and recomputable, so a step span whose trace and parent are its message's
// own need not store them (span_codec.hpp, `span_same_step_format`).

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace cairn::internal {

/// splitmix64's finalizer: a bijection of 64-bit values.
constexpr uint64_t mix64(uint64_t h) {
  h += 0x9e3779b97f4a7c15ULL;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

/// A lowercase hex digit's value, -1 for any other byte.
inline constexpr std::array<int8_t, 256> hex_values = [] {
  std::array<int8_t, 256> t{};
  for (auto& v : t)
    v = -1;
  for (int c = '0'; c <= '9'; ++c)
    t[c] = static_cast<int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c)
    t[c] = static_cast<int8_t>(c - 'a' + 10);
  return t;
}();

/// 8 lowercase hex digits at `in` as a number; false if one is not. Eight
/// bytes at once (a step's span reads five such ids, on the scheduler
/// thread): each byte checked to be in `0-9` or `a-f` by adding to it what
/// sets its high bit at a range's low end, then turned into its value and
/// the eight values packed, the first digit highest.
inline bool read_hex32(const char* in, uint32_t& v) {
  constexpr uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  uint64_t x = 0;
  std::memcpy(&x, in, 8);
  if constexpr (std::endian::native != std::endian::little) {
    x = __builtin_bswap64(x); // the first digit in the lowest byte, as below
  }
  if (x & highs)
    return false; // a byte of 0x80 or more; below it no addition carries into the next
  auto at_least = [&](uint8_t low) { return x + ones * (0x80 - low); };
  uint64_t digit = at_least('0') & ~at_least('9' + 1);
  uint64_t letter = at_least('a') & ~at_least('f' + 1);
  if (((digit | letter) & highs) != highs)
    return false;
  uint64_t n = (x & ones * 0x0f) + ((x >> 6) & ones) * 9; // each byte its digit's value
  n = ((n << 4) | (n >> 8)) & 0x00ff00ff00ff00ffULL;      // pairs of digits, a byte each
  n = (n | (n >> 8)) & 0x0000ffff0000ffffULL;
  n = (n | (n >> 16)) & 0xffffffffULL; // the four bytes, the first lowest
  v = __builtin_bswap32(static_cast<uint32_t>(n));
  return true;
}

/// 16 lowercase hex digits at `in` as a number; false if one is not.
inline bool read_hex64(const char* in, uint64_t& v) {
  uint32_t hi = 0, lo = 0;
  if (!read_hex32(in, hi) || !read_hex32(in + 8, lo))
    return false;
  v = uint64_t{hi} << 32 | lo;
  return true;
}

/// An id of 16 lowercase hex digits as a number.
inline bool hex16_value(std::string_view id, uint64_t& v) {
  return id.size() == 16 && read_hex64(id.data(), v);
}

/// An envelope id (or a trace id) of 32 lowercase hex digits as its two
/// halves: for an envelope id, its clock (time and sequence) and its
/// process's tag.
inline bool envelope_halves(std::string_view id, uint64_t& clock, uint64_t& tag) {
  return id.size() == 32 && read_hex64(id.data(), clock) && read_hex64(id.data() + 16, tag);
}

/// FNV-1a over an envelope id's bytes: where `step_span_value` starts.
inline uint64_t envelope_id_hash(std::string_view envelope_id) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : envelope_id)
    h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

/// `step_span_value` from its envelope id's `envelope_id_hash`.
inline uint64_t step_span_value_of_hash(uint64_t id_hash, uint32_t attempt) {
  return mix64((id_hash ^ attempt) * 0x100000001b3ULL) | 1;
}

/// The span id of a step, `step_span_id` (cairn/envelope.hpp) as a number:
/// FNV-1a over the envelope id and the attempt, then `mix64`, never 0.
inline uint64_t step_span_value(std::string_view envelope_id, uint32_t attempt) {
  return step_span_value_of_hash(envelope_id_hash(envelope_id), attempt);
}

/// What the thread that accepted a message knew of the id and trace it gave
/// it, carried to its steps (`routed`, `mailbox_record`) so they neither read
/// nor parse them again: each is a cache miss on the scheduler thread, which
/// did not write them, and their parsing was a fifth of a step. All zero and
/// false: not known, read from the envelope.
struct step_hint {
  uint64_t id_hash = 0;       ///< `envelope_id_hash` of the id; 0: none of this is known
  uint64_t id_clock = 0;      ///< the id's first 16 hex digits (`envelope_halves`)
  uint64_t id_tag = 0;        ///< its last 16
  bool derived_trace = false; ///< the traceparent is `derived_traceparent(id_clock, id_tag)`
};

/// A new trace for the envelope whose id is `clock` (its first 16 hex
/// digits) and `tag` (its last 16): the trace id's halves and the span id
/// of the message's sender (the step's parent).
struct derived_trace {
  uint64_t trace_hi, trace_lo, parent;
};

constexpr derived_trace derive_trace(uint64_t clock, uint64_t tag) {
  auto hi = mix64(clock ^ mix64(tag));
  auto lo = mix64(hi ^ tag ^ 0x5851f42d4c957f2dULL);
  if (hi == 0 && lo == 0)
    lo = 1; // a trace id is never all zeros
  return {hi, lo, mix64(lo ^ clock ^ 0x2545f4914f6cdd1dULL) | 1};
}

/// Writes the low `digits` hex digits of `v`, lowercase, at `out`.
inline void put_hex(char* out, uint64_t v, int digits) {
  for (int i = digits - 1; i >= 0; --i, v >>= 4)
    out[i] = "0123456789abcdef"[v & 0xf];
}

/// Writes `v` as 16 lowercase hex digits at `out`.
inline void put_hex64(char* out, uint64_t v) {
  put_hex(out, v, 16);
}

/// Takes `n` consecutive values of the envelope id clock (envelope.cpp,
/// shared with `next_envelope_id`); returns the first.
uint64_t take_id_clocks(uint64_t n);

/// The last 16 hex digits of every envelope id this process makes, as a number.
uint64_t process_id_tag();

/// The envelope id of `clock` and this process's tag: `next_envelope_id`'s
/// text, made without taking the clock.
std::string envelope_id_at(uint64_t clock);

/// The traceparent (W3C, version 00, sampled) of `derive_trace`.
inline std::string derived_traceparent(uint64_t clock, uint64_t tag) {
  auto d = derive_trace(clock, tag);
  std::string out = "00-00000000000000000000000000000000-0000000000000000-01";
  put_hex64(out.data() + 3, d.trace_hi);
  put_hex64(out.data() + 19, d.trace_lo);
  put_hex64(out.data() + 36, d.parent);
  return out;
}

} // namespace cairn::internal
