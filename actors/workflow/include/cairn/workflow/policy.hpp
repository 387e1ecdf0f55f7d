// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "cairn/workflow/plan.hpp"
#include "cairn/workflow/tool_catalog.hpp"

namespace cairn::schema {
class validator;
} // namespace cairn::schema

// Policy rules as data (docs/orchestration.md, "Policy"): which steps may run, which need an
// approval and which never run. Plain values and pure functions: any thread may call them at any
// time; a `policy_set` no thread is changing may be shared by any number of threads.
namespace cairn::workflow {

/// What a policy says about one step.
enum class verdict { allow, approve, deny };

/// `"allow"`, `"approve"` or `"deny"`.
const char* to_string(verdict x);

struct policy_parse_result;

/// One rule of the `policies` config, as written there. A plain value; only `parse_policies`
/// makes rules that `decide` uses (it compiles `when`), so a rule is read, not built, by callers.
struct policy_rule {
  std::string name;                        ///< unique, `[A-Za-z0-9_.-]{1,64}`
  std::vector<std::string> tools{"*"};     ///< `fnmatch` globs over the tool name
  std::vector<std::string> callers{"*"};   ///< `fnmatch` globs over the caller's token name
  std::optional<boost::json::object> when; ///< JSON Schema the step's arguments must satisfy
  verdict v = verdict::allow;              ///< what the rule says about a step it matches
  std::string reason;                      ///< why, as the decision states it
  std::string approver;                    ///< `operator` or `client`; empty unless `approve`
  std::chrono::seconds expires{0};         ///< how long an approval may wait; 0 unless `approve`
  std::optional<risk_level> risk;          ///< raises the step's risk when the rule matches

  /// True when `tool`, `caller` and `arguments` all match this rule.
  bool matches(const std::string& tool, const std::string& caller,
               const boost::json::object& arguments) const;

private:
  friend policy_parse_result parse_policies(const boost::json::value& config);
  // `when`, compiled once at parse time. Why a shared pointer to a forward-declared type: the
  // schema library is a private dependency of cairn_workflow, and copies of a rule share it.
  std::shared_ptr<const schema::validator> when_validator_;
};

/// What applies when no rule matches a step: a verdict per risk class. A plain value.
struct policy_defaults {
  verdict low = verdict::allow;    ///< for low-risk steps
  verdict medium = verdict::allow; ///< for medium-risk steps
  verdict high = verdict::approve; ///< for high-risk steps
  /// Approver and expiry of a default `approve` (not configurable yet).
  std::string approver = "operator";
  std::chrono::seconds expires = std::chrono::hours(24); ///< how long such an approval may wait

  /// The default verdict for a step of risk `r`.
  verdict for_risk(risk_level r) const;
};

/// What `policy_set::decide` concluded about one step: the verdict, which rule gave it (`rule`
/// empty and `source` `default:<risk>` when none matched, `source` `rule:<name>` otherwise), why,
/// who approves and for how long (empty and 0 unless `approve`), and the step's risk after the
/// rule raised it. A plain value, journaled with the step.
struct policy_decision {
  verdict v = verdict::allow;        ///< the verdict
  std::string rule;                  ///< the matching rule's name; empty: none matched
  std::string source;                ///< `rule:<name>` or `default:<risk>`
  std::string reason;                ///< the rule's reason, or why the default applied
  std::string approver;              ///< `operator` or `client`; empty unless `approve`
  std::chrono::seconds expires{0};   ///< how long the approval may wait; 0 unless `approve`
  risk_level risk = risk_level::low; ///< the step's risk, after the rule raised it
};

/// The rules of one configuration, in order, and the defaults. Made by `parse_policies`; the
/// empty set (no rules, default defaults) is what a node without `policies` uses. A plain value;
/// copies share the compiled `when` schemas, which are immutable.
class policy_set {
public:
  policy_set() = default;

  /// The rules, in the order they are tried.
  const std::vector<policy_rule>& rules() const { return rules_; }
  /// What applies when no rule matches.
  const policy_defaults& defaults() const { return defaults_; }

  /// The first rule matching `tool`, `caller` and `arguments`, or null.
  const policy_rule* first_match(const std::string& tool, const std::string& caller,
                                 const boost::json::object& arguments) const;

  /// The verdict for a call of `tool` (declared risk `tool_risk`) by `caller` with `arguments`:
  /// the first matching rule's, or when none matches the default for `tool_risk`. The decision's
  /// risk is the higher of `tool_risk` and the rule's `risk`. Pure; never throws.
  policy_decision decide(const std::string& tool, const std::string& caller,
                         const boost::json::object& arguments, risk_level tool_risk) const;

private:
  friend policy_parse_result parse_policies(const boost::json::value& config);
  std::vector<policy_rule> rules_;
  policy_defaults defaults_;
};

/// The outcome of `parse_policies`: the set, or every problem found (then `value` is empty).
/// Each error names where and which field: `policies[2].verdict (rule big-charges): must be
/// allow, approve or deny`. A plain value.
struct policy_parse_result {
  policy_set value;                ///< the parsed set; empty if there are errors
  std::vector<std::string> errors; ///< every problem found; empty: the config is valid

  /// True if the config parsed without errors.
  bool ok() const { return errors.empty(); }
};

/// Reads the `policies` config value: an array of rules, or `{"rules": [...], "defaults":
/// {"low"|"medium"|"high": VERDICT}}`. Compiles each `when` schema. Unknown keys are errors, so
/// a misspelt field never silently drops a condition. Never throws; reports every problem.
policy_parse_result parse_policies(const boost::json::value& config);

/// Parses the ISO 8601 duration subset policies use: `P[nD][T[nH][nM][nS]]` (`PT24H`, `PT30M`,
/// `PT90S`, `P2D`, `P1DT12H`), at least one part; nothing when malformed.
std::optional<std::chrono::seconds> parse_iso8601_duration(const std::string& text);

/// The `validation_options::argument_risk` seam from `policies` for `caller`: the `risk` of the
/// first rule matching a step, or nothing. Holds a copy of `policies`. At validation time
/// references are not resolved yet: `when` sees the `{"$from": ...}` object in their place, so a
/// condition that only constrains numbers (`minimum`) matches it and the risk errs high; the
/// plan actor decides again on the resolved arguments with `policy_set::decide`.
std::function<std::optional<risk_level>(const plan_step&)> risk_seam(const policy_set& policies,
                                                                     std::string caller);

} // namespace cairn::workflow
