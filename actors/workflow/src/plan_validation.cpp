// SPDX-License-Identifier: Apache-2.0
#include "cairn/workflow/plan_validation.hpp"

#include <cairn/schema/validator.hpp>

#include <algorithm>
#include <cstdint>
#include <map>

#include "internal/plan_graph.hpp"
#include "internal/schema_types.hpp"

namespace cairn::workflow {

namespace json = boost::json;

namespace {

std::string step_path(const plan_step& s) {
  return "$.steps[" + std::to_string(s.index) + "]";
}

std::string join_types(const std::vector<std::string>& types) {
  std::string out;
  for (const auto& t : types)
    out += (out.empty() ? "" : " or ") + t;
  return out;
}

// One validation run: the plan, the catalog, and the problems found so far.
class plan_check {
public:
  plan_check(plan p, const tool_catalog& catalog, const validation_options& options,
             plan_report& report)
    : plan_(std::move(p)), catalog_(catalog), options_(options), report_(report) {}

  void run() {
    index_steps();
    check_plan_bounds();
    check_graph();
    for (const auto& s : plan_.steps)
      check_step(s);
    check_cost();
    report_.parsed = std::move(plan_);
  }

private:
  void add(std::string step, std::string path, std::string code, std::string message) {
    report_.problems.push_back(
      {std::move(step), std::move(path), std::move(code), std::move(message)});
  }

  // Positions of the steps by id; a repeated id keeps its first position.
  void index_steps() {
    for (std::size_t i = 0; i < plan_.steps.size(); ++i) {
      const auto& s = plan_.steps[i];
      if (s.id.empty())
        continue;
      auto [it, fresh] = by_id_.emplace(s.id, i);
      if (!fresh)
        add(s.id, step_path(s) + ".id", "duplicate_id",
            "step id " + s.id + " is already used by steps[" + std::to_string(it->second) + "]");
    }
  }

  void check_plan_bounds() {
    const auto& b = options_.bounds;
    if (plan_.steps.size() > b.max_steps) {
      too_many_ = true;
      add({}, "$.steps", "too_many_steps",
          "the plan has " + std::to_string(plan_.steps.size()) + " steps; at most "
            + std::to_string(b.max_steps) + " are allowed");
    }
    if (plan_.deadline) {
      if (*plan_.deadline <= options_.now)
        add({}, "$.deadline", "deadline", "the deadline has already passed");
      else if (*plan_.deadline - options_.now > b.max_deadline)
        add({}, "$.deadline", "deadline",
            "the deadline is more than " + std::to_string(b.max_deadline.count())
              + " seconds from now");
    }
  }

  void check_graph() {
    auto n = plan_.steps.size();
    graph_.deps.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& s = plan_.steps[i];
      for (std::size_t k = 0; k < s.after.size(); ++k) {
        auto it = by_id_.find(s.after[k]);
        if (it == by_id_.end()) {
          add(s.id, step_path(s) + ".after[" + std::to_string(k) + "]", "unknown_step",
              "after names " + s.after[k] + ", which is not a step of this plan");
          continue;
        }
        graph_.deps[i].push_back(it->second);
      }
    }
    if (too_many_)
      return; // the quadratic checks below are not run on an oversized plan
    auto cycles = internal::find_cycles(graph_);
    for (const auto& c : cycles) {
      std::string names;
      for (auto i : c)
        names += (names.empty() ? "" : " -> ") + plan_.steps[i].id;
      const auto& closing = plan_.steps[c.front()];
      add(closing.id, step_path(closing) + ".after", "cycle", "cycle: " + names);
    }
    ancestors_ = internal::ancestors(graph_);
    if (!cycles.empty())
      return;
    report_.depth = internal::depth(graph_);
    report_.width = internal::width(ancestors_);
    const auto& b = options_.bounds;
    if (report_.depth > b.max_depth)
      add({}, "$.steps", "too_deep",
          "the longest after chain has " + std::to_string(report_.depth) + " steps; at most "
            + std::to_string(b.max_depth) + " are allowed");
    if (report_.width > b.max_width)
      add({}, "$.steps", "too_wide",
          std::to_string(report_.width) + " steps could run at once; at most "
            + std::to_string(b.max_width) + " are allowed");
  }

  const schema::validator* input_validator(const std::string& name, const catalog_tool& tool,
                                           const plan_step& s) {
    auto it = compiled_.find(name);
    if (it == compiled_.end()) {
      schema::compile_options opts;
      opts.max_errors = 100;
      auto compiled = schema::validator::compile(tool.input_schema, opts);
      std::optional<schema::validator> v;
      if (compiled)
        v = *compiled;
      else
        add(s.id, step_path(s) + ".tool", "tool_schema",
            "the input schema of tool " + name
              + " does not compile: " + compiled.error().to_string());
      it = compiled_.emplace(name, std::move(v)).first;
    }
    return it->second ? &*it->second : nullptr;
  }

  void check_step(const plan_step& s) {
    step_assessment a{s.id, s.tool, risk_level::low, 0};
    const auto* tool = s.tool.empty() ? nullptr : catalog_.find(s.tool);
    if (!s.tool.empty() && !tool)
      add(s.id, step_path(s) + ".tool", "unknown_tool", "no tool named " + s.tool);
    else if (tool && !tool->allowed)
      add(s.id, step_path(s) + ".tool", "out_of_scope", "the caller may not call tool " + s.tool);
    if (tool) {
      a.risk = tool->risk;
      a.cost = tool->cost;
      if (options_.argument_risk)
        if (auto r = options_.argument_risk(s))
          a.risk = std::max(a.risk, *r);
      check_arguments(s, *tool);
    }
    for (const auto& r : s.references)
      check_reference(s, tool, r);
    report_.risk = std::max(report_.risk, a.risk);
    report_.steps.push_back(std::move(a));
  }

  void check_arguments(const plan_step& s, const catalog_tool& tool) {
    const auto* v = input_validator(s.tool, tool, s);
    if (!v)
      return;
    std::vector<std::string> reference_paths;
    for (const auto& r : s.references)
      reference_paths.push_back(format_path("$", r.at));
    auto under_reference = [&](const std::string& p) {
      for (const auto& rp : reference_paths)
        if (p.compare(0, rp.size(), rp) == 0
            && (p.size() == rp.size() || p[rp.size()] == '.' || p[rp.size()] == '['))
          return true;
      return false;
    };
    auto result = v->validate(json::value(s.arguments));
    for (const auto& e : result.errors()) {
      if (under_reference(e.instance_path))
        continue; // the value is not known until the producing step has run
      add(s.id, step_path(s) + ".arguments" + e.instance_path.substr(1), "invalid_arguments",
          e.message + " (schema " + e.schema_path + ")");
    }
  }

  void check_reference(const plan_step& s, const catalog_tool* tool, const step_reference& r) {
    auto path = format_path(step_path(s) + ".arguments", r.at);
    auto tokens = parse_json_pointer(r.pointer);
    if (!tokens)
      add(s.id, path + ".pointer", "bad_pointer",
          "pointer " + r.pointer
            + " is not an RFC 6901 JSON pointer (\"\" or /a/b, ~ only as ~0 or ~1)");
    auto it = by_id_.find(r.from);
    if (it == by_id_.end()) {
      add(s.id, path, "bad_reference", "$from names " + r.from + ", which is not a step");
      return;
    }
    const auto& producer = plan_.steps[it->second];
    if (producer.index == s.index) {
      add(s.id, path, "bad_reference", "step " + s.id + " cannot use its own output");
      return;
    }
    if (too_many_)
      return; // no graph checks on an oversized plan (reported as too_many_steps)
    if (!ancestors_[s.index][producer.index]) {
      add(s.id, path, "bad_reference",
          "step " + r.from + " is not an ancestor of " + s.id
            + " through after, so its output may not exist when " + s.id + " runs");
      return;
    }
    if (!tokens)
      return;
    const auto* made_by = catalog_.find(producer.tool);
    if (!made_by || !made_by->output_schema)
      return; // nothing declared: checked when the value exists
    const auto& out_root = *made_by->output_schema;
    auto produced = internal::subschema_at(out_root, *tokens);
    if (produced.closed) {
      add(s.id, path + ".pointer", "bad_pointer",
          "the output of tool " + producer.tool + " has nothing at " + r.pointer);
      return;
    }
    if (!produced.schema || !tool)
      return;
    auto consumed = internal::subschema_at(tool->input_schema, r.at);
    if (!consumed.schema)
      return;
    auto given = internal::declared_types(out_root, *produced.schema);
    auto wanted = internal::declared_types(tool->input_schema, *consumed.schema);
    if (given.empty() || wanted.empty())
      return;
    if (auto refused = internal::first_refused(wanted, given); !refused.empty())
      add(s.id, path, "type_mismatch",
          "step " + r.from + " (tool " + producer.tool + ") gives " + join_types(given) + " at "
            + (r.pointer.empty() ? "its whole output" : r.pointer) + "; tool " + s.tool
            + " expects " + join_types(wanted) + " here");
  }

  void check_cost() {
    for (const auto& a : report_.steps) // saturating: catalog costs are not trusted to be small
      report_.cost = a.cost > UINT64_MAX - report_.cost ? UINT64_MAX : report_.cost + a.cost;
    if (plan_.budget_cost_units && report_.cost > *plan_.budget_cost_units)
      add({}, "$.budget.cost_units", "over_budget",
          "the steps cost " + std::to_string(report_.cost) + " units; the budget is "
            + std::to_string(*plan_.budget_cost_units));
    if (report_.cost > options_.bounds.max_cost_units)
      add({}, "$.steps", "over_budget",
          "the steps cost " + std::to_string(report_.cost) + " units; a plan may spend at most "
            + std::to_string(options_.bounds.max_cost_units));
  }

  plan plan_;
  const tool_catalog& catalog_;
  const validation_options& options_;
  plan_report& report_;
  std::map<std::string, std::size_t> by_id_;
  internal::plan_graph graph_;
  std::vector<std::vector<bool>> ancestors_;
  bool too_many_ = false;
  std::map<std::string, std::optional<schema::validator>> compiled_;
};

} // namespace

std::string plan_report::to_string() const {
  std::string out;
  for (const auto& p : problems)
    out += p.to_string() + "\n";
  return out;
}

plan_report validate_plan(plan parsed, const tool_catalog& catalog,
                          const validation_options& options) {
  plan_report report;
  plan_check(std::move(parsed), catalog, options, report).run();
  return report;
}

plan_report validate_plan(const json::value& document, const tool_catalog& catalog,
                          const validation_options& options) {
  auto parsed = parse_plan(document);
  auto report = validate_plan(std::move(parsed.value), catalog, options);
  report.problems.insert(report.problems.begin(), parsed.problems.begin(), parsed.problems.end());
  return report;
}

} // namespace cairn::workflow
