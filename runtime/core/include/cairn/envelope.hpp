// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace cairn {

/// How an envelope's payload is encoded.
enum class payload_format : uint8_t {
  binary = 0, ///< a C++ struct serialized with CAF's binary serializer (`codec.hpp`)
  json = 1,   ///< UTF-8 JSON text (tool arguments and external callers)
};

/// One message on its way to an actor, as held in memory, on disk and on the
/// wire. A plain value: copy and move freely; no internal synchronization.
struct envelope {
  std::string id;              ///< unique, time-ordered (see `next_envelope_id`)
  std::string from;            ///< sender actor id, or `"external"`
  std::string to;              ///< receiver actor id, `kind/key`
  std::string type;            ///< versioned message type tag, e.g. `"demo.order/v1"`
  uint8_t format = 0;          ///< a `payload_format`
  std::string payload;         ///< encoded message
  std::string traceparent;     ///< W3C trace context, `00-<trace>-<span>-<flags>`
  std::string idempotency_key; ///< stable across re-runs of the step that sent it
  uint32_t attempt = 0;        ///< failed attempts so far
  int64_t not_before_ms = 0;   ///< do not deliver before this Unix time (ms)
  int64_t deadline_ms = 0;     ///< dead-letter if not handled by then; 0 = none
  int64_t created_ms = 0;      ///< when it was accepted (Unix ms)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, envelope& x) {
  return f(caf::meta::type_name("cairn.envelope"), x.id, x.from, x.to, x.type, x.format, x.payload,
           x.traceparent, x.idempotency_key, x.attempt, x.not_before_ms, x.deadline_ms,
           x.created_ms);
}

/// Returns a new envelope id: 32 hex digits whose first 12 are the Unix time in
/// milliseconds, so ids sort by creation time. Thread-safe; unique per process
/// and, through 64 random bits, across processes.
std::string next_envelope_id();

/// `n` new envelope ids, in order, as `n` calls of `next_envelope_id` would
/// give, taken from the shared clock in one step (a batch's ids).
std::vector<std::string> next_envelope_ids(size_t n);

/// Returns the current Unix time in milliseconds.
int64_t now_ms();

/// Microseconds since the Unix epoch (system clock).
int64_t now_us();

/// A parsed W3C `traceparent`.
struct trace_context {
  std::string trace_id; ///< 32 lowercase hex digits
  std::string span_id;  ///< 16 lowercase hex digits
  uint8_t flags = 1;    ///< W3C trace flags; bit 0 set (the default): sampled
};

/// Parses `00-<32 hex>-<16 hex>-<2 hex>`; returns false for anything else.
bool parse_traceparent(std::string_view text, trace_context& out);

/// The trace id and span id of a traceparent `parse_traceparent` accepts, as
/// views into `t` (no copies); false for anything it refuses.
bool traceparent_ids(std::string_view t, std::string_view& trace_id, std::string_view& span_id);

/// Formats a trace context as a `traceparent` header value.
std::string format_traceparent(const trace_context& ctx);

/// Starts a new trace (random trace id and span id).
trace_context new_trace();

/// `format_traceparent(new_trace())`, written in one string.
std::string new_traceparent();

/// Returns a child of `parent`: same trace id, fresh span id. An invalid
/// parent starts a new trace, so every envelope carries trace context.
trace_context child_of(std::string_view parent_traceparent);

/// The span id of the step that handles envelope `envelope_id` at attempt
/// `attempt` (0 for the first): derived, not drawn, so a retry's span can
/// link the previous attempt's without storing it. 16 hex digits, not all zero.
std::string step_span_id(std::string_view envelope_id, uint32_t attempt);

/// Returns `"kind"` of an actor id `"kind/key"` (the whole id if it has no `/`).
std::string_view kind_of(std::string_view actor_id);

/// True if `id` is a usable actor id: `kind/key`, non-empty parts, no NUL.
bool valid_actor_id(std::string_view id);

} // namespace cairn
