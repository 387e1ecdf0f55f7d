// SPDX-License-Identifier: Apache-2.0
// A plan's state: one JSON object rebuilt from the plan actor's JSON events
// (the audit trail, docs/orchestration.md "Execution"), and the references
// inside a step's arguments resolved against it.
#include <chrono>
#include <cstdlib>
#include <string>

#include <boost/json.hpp>

#include "cairn/error.hpp"
#include "cairn/workflow/plan.hpp"
#include "internal/engine_impl.hpp"

namespace cairn::workflow {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

caf::expected<json::value>
resolve_references(const json::value& tmpl,
                   const std::function<const json::value*(const std::string&)>& source,
                   bool keep_unknown) {
  if (tmpl.is_array()) {
    json::array out;
    for (const auto& v : tmpl.as_array()) {
      auto r = resolve_references(v, source, keep_unknown);
      if (!r)
        return r;
      out.push_back(std::move(*r));
    }
    return json::value(std::move(out));
  }
  if (!tmpl.is_object())
    return tmpl;
  const auto& o = tmpl.as_object();
  if (auto from = o.if_contains("$from")) {
    auto p = o.if_contains("pointer");
    if (!from->is_string() || !p || !p->is_string())
      return make_error(errc::invalid_argument, "malformed reference " + json::serialize(o));
    std::string name{from->as_string()};
    const json::value* at = source(name);
    if (!at && keep_unknown)
      return tmpl; // for a later pass
    if (!at)
      return make_error(errc::invalid_argument, "reference to " + name + ": it has no output");
    auto tokens = parse_json_pointer(p->as_string());
    if (!tokens)
      return make_error(errc::invalid_argument, "malformed pointer in " + json::serialize(o));
    for (const auto& t : *tokens) {
      if (at->is_object()) {
        at = at->as_object().if_contains(t);
      } else if (at->is_array()) {
        char* end = nullptr;
        auto i = std::strtoull(t.c_str(), &end, 10);
        bool digits = !t.empty() && *end == '\0' && (t == "0" || t[0] != '0');
        at = digits && i < at->as_array().size() ? &at->as_array()[i] : nullptr;
      } else {
        at = nullptr;
      }
      if (!at)
        return make_error(errc::invalid_argument, "reference " + json::serialize(o)
                                                    + " leads nowhere in the output of " + name);
    }
    return *at;
  }
  json::object out;
  for (const auto& [k, v] : o) {
    auto r = resolve_references(v, source, keep_unknown);
    if (!r)
      return r;
    out[k] = std::move(*r);
  }
  return json::value(std::move(out));
}

json::object& member_object(json::object& o, std::string_view key) {
  auto& v = o[key];
  if (!v.is_object())
    v = json::object{};
  return v.as_object();
}

std::string member_string(const json::object& o, std::string_view key) {
  auto v = o.if_contains(key);
  return v && v->is_string() ? std::string{v->as_string()} : std::string{};
}

namespace {

caf::error apply_event(json::object& st_, std::string_view type, std::string_view payload) {
  boost::system::error_code ec;
  auto v = json::parse(payload, ec);
  if (ec || !v.is_object())
    return make_error(errc::corrupt_record,
                      "plan event " + std::string{type} + " is not a JSON object");
  auto& e = v.as_object();
  auto at = e.if_contains("at_ms");
  if (at && at->is_int64())
    st_["updated_ms"] = at->as_int64();
  if (type == accepted_event) {
    st_ = std::move(e);
    return {};
  }
  if (type == rejected_event) {
    st_ = std::move(e);
    st_["state"] = "rejected";
    return {};
  }
  if (type == finished_event) {
    st_["state"] = e["state"];
    return {};
  }
  if (type == stopping_event) {
    st_["state"] = e["state"];
    st_["cause"] = e["cause"];
    for (auto& [id, sv] : member_object(st_, "steps")) {
      auto& s = sv.as_object();
      auto state = member_string(s, "state");
      if (state == "pending" || state == "awaiting_approval")
        s["state"] = "skipped";
    }
    return {};
  }
  if (type == decision_refused_event) {
    st_["refused_decisions"] =
      st_["refused_decisions"].is_int64() ? st_["refused_decisions"].as_int64() + 1 : int64_t{1};
    return {};
  }
  auto id = member_string(e, "step");
  auto& steps = member_object(st_, "steps");
  auto sv = steps.if_contains(id);
  if (!sv || !sv->is_object())
    return make_error(errc::corrupt_record,
                      std::string{type} + " names step '" + id + "', which the plan lacks");
  auto& s = sv->as_object();
  if (type == step_started_event) {
    s["state"] = "running";
    s["call_id"] = e["call_id"];
    s["resolved_arguments"] = e["arguments"];
    s["started_ms"] = e["at_ms"];
  } else if (type == approval_requested_event) {
    s["state"] = "awaiting_approval";
    s["resolved_arguments"] = e["arguments"];
    e.erase("step");
    e.erase("arguments");
    e["state"] = "pending";
    s["approval"] = std::move(e);
  } else if (type == approval_decided_event) {
    auto& a = member_object(s, "approval");
    auto decision = member_string(e, "decision");
    a["state"] = decision == "approve" ? "approved" : decision == "deny" ? "denied" : "expired";
    a["decided_by"] = e["by"];
    a["decided_ms"] = e["at_ms"];
    if (auto c = e.if_contains("comment"))
      a["comment"] = *c;
    s["state"] = decision == "approve" ? "approved" : decision == "deny" ? "denied" : "expired";
  } else if (type == step_finished_event) {
    s["state"] = e["status"];
    s["ended_ms"] = e["at_ms"];
    s["result"] = e["result"];
    if (auto o = e.if_contains("output"))
      s["output"] = *o;
    if (auto err = e.if_contains("error"))
      s["error"] = *err;
    if (member_string(e, "status") == "succeeded") {
      auto& done = st_["completed"];
      if (!done.is_array())
        done = json::array{};
      done.as_array().emplace_back(id);
    }
  } else if (type == compensation_started_event) {
    auto& c = member_object(s, "compensation_call");
    c["state"] = "running";
    c["tool"] = e["tool"];
    c["call_id"] = e["call_id"];
    c["arguments"] = e["arguments"];
    c["started_ms"] = e["at_ms"];
    s["state"] = "compensating";
  } else if (type == compensation_finished_event) {
    auto& c = member_object(s, "compensation_call");
    auto status = member_string(e, "status");
    c["state"] = status;
    c["result"] = e["result"];
    c["ended_ms"] = e["at_ms"];
    s["state"] = status == "compensated" ? "compensated" : "compensation_failed";
  } else {
    return make_error(errc::corrupt_record, "unknown plan event " + std::string{type});
  }
  return {};
}

} // namespace

caf::error apply_plan_event(json::object& state, std::string_view type, std::string_view payload) {
  auto version = state["version"].is_int64() ? state["version"].as_int64() : int64_t{0};
  auto err = apply_event(state, type, payload);
  if (!err)
    state["version"] = version + 1; // events applied: orders summaries of the state
  return err;
}

} // namespace cairn::workflow
