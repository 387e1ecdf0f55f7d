// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the node records of its work: journal entries (the audit trail) and
// spans (the traces), as the runtime's readers return them.

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace cairn {

/// One journaled event with where it came from (the audit trail).
struct journal_entry {
  uint64_t seq = 0;     ///< its position in the actor's journal, from 1
  std::string type;     ///< the event's type tag
  std::string payload;  ///< as the actor emitted it (CAF binary)
  int64_t time_ms = 0;  ///< when its step committed (0: written before layout 3)
  std::string cause;    ///< id of the envelope whose step emitted it
  std::string trace_id; ///< that envelope's trace
};

/// How a span relates to its neighbours (OpenTelemetry's SpanKind, same numbers).
enum class span_kind : uint8_t { internal = 1, server = 2, client = 3, producer = 4, consumer = 5 };

/// How a span ended (OpenTelemetry's status codes, same numbers).
enum class span_status : uint8_t { unset = 0, ok = 1, error = 2 };

/// A typed attribute of a span (OpenTelemetry's attribute model).
struct span_attribute {
  std::string key;                                        ///< e.g. `mcp.method.name`
  std::variant<std::string, int64_t, double, bool> value; ///< the attribute's typed value
};

/// A link from a span to another one; `type` says why (`retry_of`, `resumed_from`).
struct span_link {
  std::string trace_id; ///< the linked span's trace (32 hex digits)
  std::string span_id;  ///< the linked span (16 hex digits)
  std::string type;     ///< the relation, e.g. `retry_of`
};

/// A message a step sent.
struct sent_message {
  std::string id;   ///< its envelope id
  std::string to;   ///< its receiver's actor id
  std::string type; ///< its message type tag
};

/// One span as the `trace` column family keeps it (invariant 5;
/// docs/observability.md, "Span model"). A step's span fills the step
/// fields; other spans leave them empty and say what they are in `name`
/// and `attributes`.
struct span_record {
  std::string trace_id;                    ///< 32 lowercase hex digits
  std::string span_id;                     ///< 16 lowercase hex digits
  std::string parent_span_id;              ///< empty for a root
  std::string name;                        ///< low cardinality; a step's is "process {type}"
  span_kind kind = span_kind::internal;    ///< a step's is `consumer`
  int64_t start_us = 0;                    ///< Unix microseconds
  int64_t end_us = 0;                      ///< Unix microseconds
  span_status status = span_status::unset; ///< how it ended
  std::string status_message;              ///< the error, when `status` is error
  // A step's own:
  std::string actor;                      ///< the id of the actor that ran the step
  std::string type;                       ///< the message type it handled
  std::string envelope_id;                ///< the id of the message it handled
  uint32_t attempt = 0;                   ///< 0 for the first
  uint64_t first_event = 0;               ///< journal seq of its first event (0: none)
  uint32_t events = 0;                    ///< events it journaled
  std::vector<sent_message> sent;         ///< messages the step sent, in order
  std::vector<span_attribute> attributes; ///< any span's extra attributes
  std::vector<span_link> links;           ///< related spans (the attempt a retry follows, ...)

  /// `start_us` in Unix milliseconds.
  int64_t start_ms() const { return start_us / 1000; }
  /// `end_us` in Unix milliseconds.
  int64_t end_ms() const { return end_us / 1000; }
  /// "ok", the error, or "unset".
  std::string status_text() const {
    return status == span_status::ok      ? "ok"
           : status == span_status::error ? status_message
                                          : "unset";
  }
};

} // namespace cairn
