// SPDX-License-Identifier: Apache-2.0
// Deciding: the first matching rule, or the default for the tool's risk. Parsing is in
// policy_parse.cpp.
#include "cairn/workflow/policy.hpp"

#include <algorithm>
#include <fnmatch.h>
#include <utility>

#include <cairn/schema/validator.hpp>

namespace cairn::workflow {

namespace json = boost::json;

namespace {

bool any_glob_matches(const std::vector<std::string>& globs, const std::string& name) {
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) {
    return fnmatch(g.c_str(), name.c_str(), 0) == 0;
  });
}

} // namespace

const char* to_string(verdict x) {
  switch (x) {
    case verdict::allow: return "allow";
    case verdict::approve: return "approve";
    case verdict::deny: return "deny";
  }
  return "deny";
}

bool policy_rule::matches(const std::string& tool, const std::string& caller,
                          const json::object& arguments) const {
  if (!any_glob_matches(tools, tool) || !any_glob_matches(callers, caller))
    return false;
  if (!when)
    return true;
  if (when_validator_)
    return when_validator_->is_valid(arguments);
  // A rule built by hand rather than by parse_policies: compile its condition now. A condition
  // that does not compile matches nothing, as parse_policies would have refused it.
  auto compiled = schema::validator::compile(*when);
  return compiled && compiled->is_valid(arguments);
}

verdict policy_defaults::for_risk(risk_level r) const {
  switch (r) {
    case risk_level::low: return low;
    case risk_level::medium: return medium;
    case risk_level::high: return high;
  }
  return high;
}

const policy_rule* policy_set::first_match(const std::string& tool, const std::string& caller,
                                           const json::object& arguments) const {
  for (const auto& r : rules_)
    if (r.matches(tool, caller, arguments))
      return &r;
  return nullptr;
}

policy_decision policy_set::decide(const std::string& tool, const std::string& caller,
                                   const json::object& arguments, risk_level tool_risk) const {
  policy_decision d;
  if (const auto* r = first_match(tool, caller, arguments)) {
    d.v = r->v;
    d.rule = r->name;
    d.source = "rule:" + r->name;
    d.reason = r->reason;
    d.approver = r->approver;
    d.expires = r->expires;
    d.risk = r->risk ? std::max(tool_risk, *r->risk) : tool_risk;
    return d;
  }
  // No rule matched, so nothing raised the risk: the tool's own class picks the default.
  d.v = defaults_.for_risk(tool_risk);
  d.source = std::string("default:") + to_string(tool_risk);
  d.reason = std::string("no rule matched; the default for ") + to_string(tool_risk)
             + "-risk steps is " + to_string(d.v);
  if (d.v == verdict::approve) {
    d.approver = defaults_.approver;
    d.expires = defaults_.expires;
  }
  d.risk = tool_risk;
  return d;
}

std::function<std::optional<risk_level>(const plan_step&)> risk_seam(const policy_set& policies,
                                                                     std::string caller) {
  return [policies, caller = std::move(caller)](const plan_step& s) -> std::optional<risk_level> {
    if (const auto* r = policies.first_match(s.tool, caller, s.arguments))
      return r->risk;
    return std::nullopt;
  };
}

} // namespace cairn::workflow
