// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <vector>

#include "cairn/mcp/server.hpp"

namespace cairn::mcp {

/// Builds the tools declared in a node's configuration (`mcp_tools`), no
/// C++ needed:
///
///     {"name": "word_count", "description": "...", "type": "exec",
///      "command": ["/usr/bin/wc-tool", "--json"], "timeout_ms": 5000,
///      "input_schema": {...}, "output_schema": {...},
///      "annotations": {"read_only": true}, "risk": "low",
///      "max_attempts": 3, "tasks": "optional"}
///
/// `exec` runs the command with the JSON arguments on stdin and reads a JSON
/// result from stdout (a CallToolResult, or any JSON value, which becomes
/// structured content); a non-zero exit is a tool error with the tail of
/// stderr; a timeout kills it and the call is retried. `http` (`"url"`)
/// POSTs the arguments and maps the response the same way: 2xx is the
/// result, 4xx a tool error, 5xx or no answer a retried failure. Both pass
/// the call's idempotency key (`CAIRN_IDEMPOTENCY_KEY`, `Idempotency-Key`).
/// An error names the declaration and the field at fault.
caf::expected<std::vector<tool_spec>> tools_from_config(const json::value& declarations);

} // namespace cairn::mcp
