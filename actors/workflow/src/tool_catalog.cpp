// SPDX-License-Identifier: Apache-2.0
#include "cairn/workflow/tool_catalog.hpp"

#include <fnmatch.h>

namespace cairn::workflow {

const char* to_string(risk_level x) {
  switch (x) {
    case risk_level::low: return "low";
    case risk_level::medium: return "medium";
    case risk_level::high: return "high";
  }
  return "low";
}

const catalog_tool* tool_catalog::find(const std::string& name) const {
  auto i = tools.find(name);
  return i == tools.end() ? nullptr : &i->second;
}

void tool_catalog::restrict_to(const std::function<bool(const std::string&)>& in_scope) {
  for (auto& [name, tool] : tools)
    tool.allowed = in_scope(name);
}

std::function<bool(const std::string&)> scope_from_globs(std::vector<std::string> globs) {
  return [globs = std::move(globs)](const std::string& name) {
    for (const auto& g : globs)
      if (fnmatch(g.c_str(), name.c_str(), 0) == 0)
        return true;
    return false;
  };
}

} // namespace cairn::workflow
