// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

namespace cairn::workflow {

/// How much harm a step can do, lowest first. Mirrors the MCP layer's `risk_class`
/// (runtime/mcp server.hpp) without depending on the MCP server.
enum class risk_level { low, medium, high };

/// `"low"`, `"medium"` or `"high"`.
const char* to_string(risk_level x);

/// What plan validation needs to know about one tool. A plain value.
struct catalog_tool {
  /// JSON Schema literal arguments are checked against (default: any object).
  boost::json::object input_schema = boost::json::object{{"type", "object"}};
  std::optional<boost::json::object> output_schema; ///< none: references into it are unchecked
  risk_level risk = risk_level::low;                ///< the tool's declared risk class
  std::uint64_t cost = 1; ///< cost units one call of the tool counts against a plan's budget
  bool allowed = true;    ///< whether the caller may call it (its token's scope)
};

/// The tools a plan may use, by name, as seen by one caller: the validator's whole view of the
/// tools, so validation does not depend on the MCP server (the plan actor fills it from the
/// server's registry and the caller's token). A plain value; any thread may read a catalog no
/// thread is changing.
struct tool_catalog {
  std::map<std::string, catalog_tool> tools; ///< by tool name

  /// The tool named `name`, or null.
  const catalog_tool* find(const std::string& name) const;

  /// Sets `allowed` on every tool to `in_scope(name)`.
  void restrict_to(const std::function<bool(const std::string&)>& in_scope);
};

/// A scope predicate from MCP tool globs (`*`, `?`, `[...]`), matched the way `/mcp` matches a
/// token's tool globs (`fnmatch`, no flags). No globs: nothing is in scope.
std::function<bool(const std::string&)> scope_from_globs(std::vector<std::string> globs);

} // namespace cairn::workflow
