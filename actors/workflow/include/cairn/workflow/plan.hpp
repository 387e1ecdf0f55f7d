// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

// The plan an agent submits: a bounded DAG of tool calls (format in docs/orchestration.md).
// Plain values and pure functions: any thread may call them at any time.
namespace cairn::workflow {

/// One problem found in a plan: which step (empty for the plan as a whole), where in the plan
/// document (`$.steps[3].arguments.qty`, the schema validator's path form), a stable code
/// (`invalid_arguments`, `cycle`, ...; the list is in docs/orchestration.md) and what is wrong.
/// A plain value.
struct plan_problem {
  std::string step;    ///< the step's id; empty for a problem of the plan as a whole
  std::string path;    ///< where in the plan document, e.g. `$.steps[3].arguments.qty`
  std::string code;    ///< stable code, e.g. `cycle` (see docs/orchestration.md)
  std::string message; ///< what is wrong, for a person

  /// `path [step]: code: message`, the form to show a user.
  std::string to_string() const;
};

/// One step of a path inside a JSON value: an object key or an array index. A plain value.
struct path_segment {
  std::string key;       ///< the object key, when `is_index` is false
  std::size_t index = 0; ///< the array index, when `is_index` is true
  bool is_index = false; ///< true: an array index; false: an object key
};

/// Renders `segments` after `prefix` in the validator's path form: `.name` for identifier keys,
/// `["odd key"]` otherwise, `[2]` for indices.
std::string format_path(std::string prefix, const std::vector<path_segment>& segments);

/// A reference inside a step's arguments, `{"$from": STEP, "pointer": RFC6901}`: the value at
/// `pointer` in the structured output of step `from`. A plain value.
struct step_reference {
  std::vector<path_segment> at; ///< where in the arguments the reference object sits
  std::string from;             ///< the id of the producing step (`$from`)
  std::string pointer;          ///< RFC 6901 pointer into its structured output; "" is all of it
};

/// One step: a call of `tool` with `arguments`, run once every step in `after` has succeeded.
/// A plain value.
struct plan_step {
  std::size_t index = 0;          ///< position in the document's `steps` array
  std::string id;                 ///< unique in the plan, `[A-Za-z0-9_-]{1,64}`
  std::string tool;               ///< the name of the tool it calls
  boost::json::object arguments;  ///< the call's arguments, references in place (default `{}`)
  std::vector<std::string> after; ///< ids of the steps that must succeed first
  std::vector<step_reference> references; ///< found in `arguments`, in document order
};

/// A parsed plan. A plain value.
struct plan {
  std::vector<plan_step> steps; ///< in document order (which says nothing of run order)
  /// A second submission with the same key and caller returns the first plan.
  std::optional<std::string> idempotency_key;
  /// When the plan must have ended; unset: `plan_bounds::default_deadline` from submission.
  std::optional<std::chrono::system_clock::time_point> deadline;
  /// `budget.cost_units`: the most the steps' summed cost may be; unset: no plan budget.
  std::optional<std::uint64_t> budget_cost_units;
};

/// The outcome of `parse_plan`: the plan as far as it could be read, and every problem with its
/// shape. A plain value.
struct plan_parse_result {
  plan value;                         ///< the plan as far as it could be read
  std::vector<plan_problem> problems; ///< every shape problem found; empty: well-formed

  /// True if the document had no shape problem.
  bool ok() const { return problems.empty(); }
};

/// Reads a plan document into typed structs. Never throws and never stops at the first
/// problem: a step with a malformed field is kept (with that field empty) so later checks can
/// still report on the rest of it.
plan_parse_result parse_plan(const boost::json::value& document);

/// Splits an RFC 6901 JSON pointer into its decoded tokens (`~1` → `/`, `~0` → `~`); nothing
/// when it is malformed (not empty and not starting with `/`, or a `~` not followed by 0 or 1).
std::optional<std::vector<std::string>> parse_json_pointer(std::string_view pointer);

/// Parses an RFC 3339 date-time (`2026-12-01T21:00:00Z`, fractions and `+hh:mm` offsets
/// allowed); nothing when malformed.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

/// True for a well-formed step id: `[A-Za-z0-9_-]{1,64}`.
bool valid_step_id(std::string_view id);

} // namespace cairn::workflow
