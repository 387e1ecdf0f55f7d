// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

#include <caf/meta/type_name.hpp>

#include "cairn/codec.hpp"

namespace cairn::mcp {

/// The outcome of a tool call, delivered to the actor named as the call's
/// `reply_to` in the same commit as the call actor journals it: an actor (a
/// plan, a workflow) waits for a tool call durably, across restarts, and
/// hears of it exactly once. A plain value.
struct tool_outcome {
  std::string call_id;     ///< the call actor, `tool.<name>/<id>`
  std::string tool;        ///< the tool's name
  std::string status;      ///< `completed`, `failed` or `cancelled`
  std::string result;      ///< JSON text: the CallToolResult (`isError` for tool errors)
  std::string correlation; ///< what the caller passed to `server::call`, verbatim
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tool_outcome& x) {
  return f(caf::meta::type_name("cairn.mcp.tool_outcome"), x.call_id, x.tool, x.status, x.result,
           x.correlation);
}

} // namespace cairn::mcp

CAIRN_MESSAGE_TYPE(cairn::mcp::tool_outcome, "mcp.call.outcome/v1");
