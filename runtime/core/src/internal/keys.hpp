// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cairn::keys {

/// Appends `v` as 8 big-endian bytes, so byte order equals numeric order and
/// prefix scans run in sequence order.
inline void append_be64(std::string& out, uint64_t v) {
  char be[8];
  for (int i = 7; i >= 0; --i, v >>= 8)
    be[i] = static_cast<char>(v & 0xff);
  out.append(be, sizeof be);
}

/// Reads 8 big-endian bytes at `pos`; `s` must hold them.
inline uint64_t read_be64(std::string_view s, size_t pos = 0) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<uint8_t>(s[pos + i]);
  return v;
}

/// `actor_id \0` — the prefix of an actor's rows in `mailbox` and `journal`.
inline std::string actor_prefix(std::string_view actor_id) {
  std::string out{actor_id};
  out.push_back('\0');
  return out;
}

/// `actor_id \0 be64(seq)` — a row of an actor's mailbox or journal. Sized
/// once: every step builds a few (growing the string twice was 11 % of a
/// step's samples).
inline std::string actor_seq(std::string_view actor_id, uint64_t seq) {
  std::string out;
  out.reserve(actor_id.size() + 9);
  out.append(actor_id);
  out.push_back('\0');
  append_be64(out, seq);
  return out;
}

/// Splits an `actor_seq` key; returns false if it is not one.
inline bool split_actor_seq(std::string_view key, std::string_view& actor_id, uint64_t& seq) {
  if (key.size() < 9 || key[key.size() - 9] != '\0')
    return false;
  actor_id = key.substr(0, key.size() - 9);
  seq = read_be64(key, key.size() - 8);
  return true;
}

/// `be64(due_ms) be64(seq)` — a row of the timer column family, in due order.
inline std::string timer(uint64_t due_ms, uint64_t seq) {
  std::string out;
  append_be64(out, due_ms);
  append_be64(out, seq);
  return out;
}

/// `be64(us) trace_id span_id` — a row of `trace`. Layout 6: `us` is the
/// time of the commit that wrote the row (ascending: the writer appends and
/// retention deletes from the front), the ids those of the row's first span.
/// Before: the row held one span, `us` its end.
inline std::string span(uint64_t end_us, std::string_view trace_id, std::string_view span_id) {
  std::string out;
  out.reserve(8 + trace_id.size() + span_id.size());
  append_be64(out, end_us);
  out.append(trace_id);
  out.append(span_id);
  return out;
}

/// The length of a trace id in span keys (32 lowercase hex digits).
inline constexpr size_t trace_id_size = 32;

/// `trace_id be64(end_us) span_id` — the `trace_index` row of a span in
/// layouts 4 and 5 (the migration to 6 deletes them).
inline std::string span_index(std::string_view trace_id, uint64_t end_us,
                              std::string_view span_id) {
  std::string out{trace_id};
  append_be64(out, end_us);
  out.append(span_id);
  return out;
}

/// The layout-4/5 `trace_index` key of a span from its `trace` key (the
/// same three parts, in the other order); empty if `key` is too short.
inline std::string index_from_span(std::string_view key) {
  if (key.size() < trace_id_size + 8)
    return {};
  return span_index(key.substr(8, trace_id_size), read_be64(key), key.substr(8 + trace_id_size));
}

/// The span index of layout 6 groups its rows by the hour of the `trace`
/// row they point to, so retention deletes whole hours at once.
inline constexpr uint64_t span_bucket_us = 3600ull * 1000 * 1000;

/// `'i' be32(hour) trace_id` — the prefix of a trace's index rows in one hour.
inline std::string span_index_prefix(uint32_t hour, std::string_view trace_id) {
  std::string out{"i"};
  out.reserve(5 + trace_id.size() + 8 + trace_id_size + 16);
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((hour >> shift) & 0xff));
  out.append(trace_id);
  return out;
}

/// Appends `'i' be32(hour) trace_id trace_key` to `out`: "the `trace` row
/// `trace_key` holds spans of `trace_id`" (layout 6). Its hour is the row's.
inline void append_span_index_row(std::string& out, std::string_view trace_id,
                                  std::string_view trace_key) {
  auto hour = static_cast<uint32_t>(read_be64(trace_key) / span_bucket_us);
  out.push_back('i');
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((hour >> shift) & 0xff));
  out.append(trace_id);
  out.append(trace_key);
}

/// The index row of `append_span_index_row`, as a string of its own.
inline std::string span_index_row(std::string_view trace_id, std::string_view trace_key) {
  std::string out;
  out.reserve(5 + trace_id.size() + trace_key.size());
  append_span_index_row(out, trace_id, trace_key);
  return out;
}

/// The `trace_index` row holding the last `trace` key indexed; it sorts
/// after every index row.
inline constexpr std::string_view span_index_cursor = "z";

} // namespace cairn::keys
