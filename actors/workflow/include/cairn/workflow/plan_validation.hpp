// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "cairn/workflow/plan.hpp"
#include "cairn/workflow/tool_catalog.hpp"

namespace cairn::workflow {

/// Limits a plan must stay within (node configuration). A plain value.
struct plan_bounds {
  std::size_t max_steps = 64; ///< most steps in a plan (more skip the graph checks)
  /// Most steps that may run at once: the maximum antichain of the `after` order.
  std::size_t max_width = 16;
  /// Most steps on one `after` chain.
  std::size_t max_depth = 16;
  /// How far from now a plan's deadline may be.
  std::chrono::seconds max_deadline = std::chrono::hours(24 * 7);
  /// The deadline of a plan that names none (applied by the plan actor).
  std::chrono::seconds default_deadline = std::chrono::hours(1);
  /// Most cost units a plan may spend, whatever its own budget says.
  std::uint64_t max_cost_units = 10'000;
};

/// How to validate: the bounds, the time the deadline is checked against, and the seam for
/// policy rules that raise a step's risk from its arguments. A plain value.
struct validation_options {
  plan_bounds bounds; ///< the limits to check
  /// The time a deadline is checked against (passed, or too far); default: when the options
  /// were made.
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  /// Optional: a risk for the step from its arguments (policy rules, later). A step's risk is
  /// the higher of this and the tool's declared risk; it is never lowered.
  std::function<std::optional<risk_level>(const plan_step&)> argument_risk;
};

/// What validation concluded about one step. A plain value.
struct step_assessment {
  std::string id;                    ///< the step's id
  std::string tool;                  ///< the tool it calls
  risk_level risk = risk_level::low; ///< low for an unknown tool
  std::uint64_t cost = 0;            ///< 0 for an unknown tool
};

/// The answer to `validate_plan`: every problem (empty: the plan may run), and what the plan
/// would be: per-step risk and cost, the plan's risk (the highest step risk), total cost, depth
/// and width (0 when the graph has a cycle or too many steps). A plain value.
struct plan_report {
  std::vector<plan_problem> problems; ///< every problem found; empty: the plan may run
  std::vector<step_assessment> steps; ///< one per step, in document order
  risk_level risk = risk_level::low;  ///< the highest step risk
  std::uint64_t cost = 0;             ///< the steps' summed cost units
  std::size_t depth = 0;              ///< steps on the longest `after` chain
  std::size_t width = 0;              ///< most steps that may run at once
  plan parsed;                        ///< the plan as parsed (what a submission starts)

  /// True if no problem was found.
  bool ok() const { return problems.empty(); }
  /// One `plan_problem::to_string()` per line.
  std::string to_string() const;
};

/// Checks a whole plan document before anything runs and reports every problem, not just the
/// first: its shape, ids and `after`, cycles (named), tools (known, in scope), literal arguments
/// against each tool's input schema, references (an ancestor step, an RFC 6901 pointer, a type
/// the consuming schema accepts), bounds, deadline and budget. Never throws. Pure: any thread.
plan_report validate_plan(const boost::json::value& document, const tool_catalog& catalog,
                          const validation_options& options = {});

/// The same for a plan already parsed (its parse problems, if any, are not known here).
plan_report validate_plan(plan parsed, const tool_catalog& catalog,
                          const validation_options& options = {});

} // namespace cairn::workflow
