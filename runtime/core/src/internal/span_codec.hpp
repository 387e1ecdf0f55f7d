// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "cairn/runtime.hpp"

namespace cairn::internal {

/// The first byte of a span value in layout 5. A CAF-serialized span of
/// an older layout starts with its trace id's length (32), never this.
inline constexpr uint8_t span_format = 0xC5;

/// The first byte of a `trace` row holding the spans of one commit (layout
/// 6): then, per span, its end time, trace id and span id (the three parts
/// of its own key) and its value, each with its length.
inline constexpr uint8_t span_group_format = 0xC6;

/// The first byte of a group member's value that names the same actor and
/// message type as the step span before it in its group row (layout 7):
/// then its flags, its duration (its start is its end less that), its
/// parent's id if it has one, and the rest of a step's part after the type,
/// byte for byte as a full value has them, except that an envelope id of
/// 32 hex digits sharing its last 16 with the member before's is the
/// difference of their first 16 (flag 64). When the envelope id is 32 hex
/// digits and the step's trace is the one that id starts (a message the node
/// gave its id and trace, internal/derived_ids.hpp), the parent's id is left
/// out (flag 128), and the head holds `span_wire::derived_id` for the trace
/// id (then its end time is a difference from the member before's) and for
/// a span id that is `step_span_id` of its envelope and attempt (layout 8).
/// Only a step that ended `ok` with
/// no attributes and no links is written so, after a short step span of its
/// own string of members (a commit request's `spans`), never first in it: the
/// writer concatenates such strings whole, so the member before is always the
/// one its encoder saw. Readers get the full value back (`next_in_group`).
inline constexpr uint8_t span_same_step_format = 0xC7;

/// The first byte of a group member's value that is a step span which ended
/// `ok` with no attributes and no links, written short (layout 8): as
/// `span_same_step_format`, but with its actor and type (as a full value has
/// them) after the parent's id, and its envelope id always whole. It leaves
/// out the ids its envelope id gives as that format does, except that its
/// end time stays whole. Members of `span_same_step_format` may follow it.
inline constexpr uint8_t span_step_head_format = 0xC8;

/// What the next step span of a string of members (a commit request's
/// `spans`) may refer to: it names the one before (`span_same_step_format`)
/// only if that was a short step span of the same actor and type, appended
/// last (nothing came between).
struct span_chain {
  bool named = false;      ///< the last member is a short step span
  std::string actor, type; ///< the actor and type it names
  size_t end = 0;          ///< the string's size after the chain's last member
  /// The last member's envelope id, if it is 32 lowercase hex digits: its
  /// first 16 as a number (time and sequence), its last 16 (the process's).
  uint64_t envelope_clock = 0, envelope_tag = 0;
  bool envelope_hex = false;
  uint64_t end_us = 0; ///< the last member's end time, as written
};

/// Per group row, what `next_in_group` carries from one member to the next.
struct span_group_reader {
  std::string same;      ///< the last full step span's actor and type, as encoded
  bool has_same = false; ///< the member before is a step span others may name
  uint64_t envelope_clock = 0, envelope_tag = 0; ///< its envelope id, as `span_chain` has it
  bool envelope_hex = false;
  uint64_t end_us = 0;  ///< the member before's end time
  std::string expanded; ///< the full value of a member that names the one before
};

/// Per group row, what `next_trace_in_group` carries from one member to the
/// next: the envelope id and end time of the member before, as `span_chain`
/// has them.
struct span_trace_walk {
  uint64_t envelope_clock = 0, envelope_tag = 0;
  bool envelope_hex = false;
  bool has_same = false; ///< the member before is a step span others may name
  uint64_t end_us = 0;   ///< the member before's end time
};

/// Appends one span (its `keys::span` key and value) to a group row's
/// members (the row's value is the format byte, then its members).
void append_to_group(std::string& out, std::string_view span_key, std::string_view value);

/// Appends `s` as a group row's member, encoded in place.
void append_span_member(std::string& out, const span_record& s);

/// Calls `fn(span_key, span_value)` for each span of a `trace` row: a group
/// row's members, or the row itself if it holds one span. False if a group
/// does not parse (the spans before the damage were visited).
template <class F>
bool for_each_span(std::string_view key, std::string_view value, F&& fn);

/// Appends the value of `s`'s `trace` row (docs/observability.md, "Span
/// model"): the format byte, flags, kind, status, start and duration as
/// varints, hex ids packed to bytes, strings with varint lengths, and only
/// the parts a span has. Its trace and span ids are in the row's key.
void encode_span(std::string& out, const span_record& s);

/// A message a step sent, as views (for `encode_step_span`).
struct sent_view {
  std::string_view id, to, type;
};

/// A step that succeeded, as views of the step's own values. Every commit
/// writes one of these, so it is encoded straight from them, without the
/// copies a `span_record` would make. Its name is "process {type}", its
/// kind consumer, its status ok.
struct step_span_view {
  std::string_view trace_id; ///< its trace, and its links
  std::string_view span_id;
  std::string_view parent_span_id;
  std::string_view actor, type, envelope_id;
  int64_t start_us = 0, end_us = 0;
  uint32_t attempt = 0;
  uint64_t first_event = 0;
  uint32_t events = 0;
  const std::vector<sent_view>* sent = nullptr;
  bool resumed = false;          ///< adds `cairn.resumed=true`
  std::string_view retry_of;     ///< the attempt before it, or empty
  std::string_view resumed_from; ///< the accept it resumes from, or empty
  /// Not 0: `span_id` as a number, known to be `step_span_value` of
  /// `envelope_id` and `attempt` (its maker derived it), so not checked again.
  uint64_t span_value = 0;
  /// Set: `envelope_id` is known to be 32 lowercase hex digits, these its
  /// halves (`envelope_halves`), so it is neither read nor parsed again.
  bool id_halves_known = false;
  uint64_t id_clock = 0, id_tag = 0;
  /// Set (with `id_halves_known`): `trace_id` and `parent_span_id` are known
  /// to be the ones `derive_trace` gives for the id (its accept made them).
  bool trace_derived = false;
};

/// Appends what `encode_span` would for the equivalent `span_record`.
void encode_step_span(std::string& out, const step_span_view& v);

/// Appends `v` as a group row's member, encoded in place (what
/// `append_span_member` would for the equivalent `span_record`).
void append_step_span_member(std::string& out, const step_span_view& v);

/// The same, shorter when the member before in `out` is a step span of the
/// same actor and type (`span_same_step_format`); `chain` is `out`'s own,
/// kept by the caller from one member to the next.
void append_step_span_member(std::string& out, const step_span_view& v, span_chain& chain);

/// A span from its `trace` key (`keys::span`) and value.
caf::expected<span_record> decode_span(std::string_view key, std::string_view value);

/// One member of a group row, or false at its end or on damage (`ok` false).
/// `span` is the member's full value: a view into `value`, or for a member
/// that names the one before, into `reader` (valid until the next call).
bool next_in_group(std::string_view value, size_t& pos, std::string& key, std::string_view& span,
                   bool& ok, span_group_reader& reader);

/// The trace id (32 hex digits) of the group member at `pos`, which moves
/// past it; false at the end or on damage (`ok` false). Nothing allocated:
/// for the indexer, which reads every span once.
bool next_trace_in_group(std::string_view value, size_t& pos, char (&trace_id)[32], bool& ok,
                         span_trace_walk& walk);

/// One span the span indexer found (services.cpp): the hour of its row,
/// its trace id, and its row's place in the pass, as plain values.
struct span_index_entry {
  uint32_t hour;
  char trace_id[32];
  uint32_t row;
};

/// Sorts a pass's entries by hour, trace id and row. `entries` must come in
/// row order (as a pass reads them); `scratch` is working memory, kept by
/// the caller between passes.
void sort_span_entries(std::vector<span_index_entry>& entries,
                       std::vector<span_index_entry>& scratch);

template <class F>
bool for_each_span(std::string_view key, std::string_view value, F&& fn) {
  if (value.empty() || static_cast<uint8_t>(value[0]) != span_group_format) {
    fn(key, value);
    return true;
  }
  size_t pos = 1;
  std::string member;
  std::string_view span;
  bool ok = true;
  span_group_reader reader;
  while (next_in_group(value, pos, member, span, ok, reader))
    fn(std::string_view{member}, span);
  return ok;
}

} // namespace cairn::internal
