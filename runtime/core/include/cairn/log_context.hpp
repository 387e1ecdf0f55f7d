// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string_view>

// What a log line is about, as fields rather than text: the runtime sets it
// on the thread that runs a step (around the handler, and where it logs
// about the step), and log sinks read it (`trace_id`, `span_id`, `actor`
// fields in JSON, `key=value` at the end of a text line).
namespace cairn {

/// The trace, span and actor of the calling thread's current work. Views:
/// valid while the `log_scope` that set them lives. Empty: none.
struct log_context {
  std::string_view trace_id; ///< 32 hex digits; empty: no trace
  std::string_view span_id;  ///< 16 hex digits of the step's span; empty: none
  std::string_view actor;    ///< the id of the actor the work is for; empty: none

  /// True if no field is set: the thread is doing no traced work.
  bool empty() const { return trace_id.empty() && span_id.empty() && actor.empty(); }
};

/// The calling thread's context.
const log_context& current_log_context();

/// Sets the calling thread's context for its lifetime, then restores the
/// one before. The strings must outlive it.
class log_scope {
public:
  /// Makes `trace_id`, `span_id` and `actor` the calling thread's context.
  log_scope(std::string_view trace_id, std::string_view span_id, std::string_view actor);
  ~log_scope();
  log_scope(const log_scope&) = delete;
  log_scope& operator=(const log_scope&) = delete;

private:
  log_context previous_;
};

/// The trace id inside a `traceparent` value (`00-<32 hex>-...`), without
/// parsing the rest; empty if it has no such shape.
std::string_view trace_id_of(std::string_view traceparent);

} // namespace cairn
