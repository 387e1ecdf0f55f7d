// SPDX-License-Identifier: Apache-2.0
// The typed status of one tool call: the call actor's snapshot and the read
// model of tasks. Not a public header.
#pragma once

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>

namespace cairn::mcp {

/// Where a call stands.
enum class call_status : uint8_t {
  working = 0,
  input_required = 1, ///< a task waits for answers, or a round ended asking
  completed = 2,
  failed = 3,
  cancelled = 4,
};

/// The status's name in MCP (`"working"`, ...).
const char* to_string(call_status s);

/// Completed, failed or cancelled: nothing changes any more.
inline bool terminal(call_status s) {
  return s == call_status::completed || s == call_status::failed || s == call_status::cancelled;
}

/// The status of one call: written with every event of its actor (the
/// actor snapshots after each event), so `tasks/get` is one storage read and
/// never replays a journal. A plain value. Payloads the client gets verbatim
/// stay JSON text; nothing decides on their contents.
struct call_record {
  uint8_t status = 0;    ///< a `call_status`
  bool finished = false; ///< the outcome is recorded (a round's `input_required` is one)
  int64_t updated_ms = 0;
  std::string result;         ///< JSON: the CallToolResult, or a round's input_required result
  std::string error;          ///< JSON: the JSON-RPC error of a call that failed with one
  std::string message;        ///< a status message, if any
  std::string input_requests; ///< JSON: what a waiting task needs answered
  std::string waiting;        ///< JSON: a waiting task's call (arguments, answers, pending)

  call_status state() const { return static_cast<call_status>(status); }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_record& x) {
  return f(caf::meta::type_name("cairn.mcp.call_record"), x.status, x.finished, x.updated_ms,
           x.result, x.error, x.message, x.input_requests, x.waiting);
}

} // namespace cairn::mcp
