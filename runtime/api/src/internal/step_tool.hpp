// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string_view>

#include "cairn/runtime.hpp"

namespace cairn::api {

/// The tool a step executes: a step of a tool's call actor (kind
/// `tool.<name>`) handling the call (`mcp.call/v1`) is the tool's execution
/// (`gen_ai.operation.name=execute_tool`). Empty for any other span.
inline std::string_view step_tool(const span_record& s) {
  constexpr std::string_view prefix = "tool.";
  std::string_view actor = s.actor;
  if (s.type != "mcp.call/v1" || actor.substr(0, prefix.size()) != prefix)
    return {};
  auto kind = actor.substr(0, actor.find('/'));
  return kind.substr(prefix.size());
}

} // namespace cairn::api
