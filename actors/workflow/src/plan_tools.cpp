// SPDX-License-Identifier: Apache-2.0
// The orchestrator over MCP: `submit_plan` (a task when the plan cannot
// finish at once; approvals the rule leaves to the client are asked through
// elicitation), `plan_status`, `cancel_plan`, and the resource
// `cairn://plans/{id}`.
#include <atomic>
#include <set>

#include <boost/json.hpp>

#include "cairn/error.hpp"
#include "internal/engine_impl.hpp"

namespace cairn::workflow {

namespace {

std::string str(const json::object& o, std::string_view key) {
  auto v = o.if_contains(key);
  return v && v->is_string() ? std::string{v->as_string()} : std::string{};
}

caller caller_of(const mcp::call& c) {
  caller who;
  const auto& info = c.caller();
  who.name = str(info, "name");
  if (who.name.empty())
    who.name = "actor";
  who.traceparent = c.traceparent();
  if (auto t = info.if_contains("tools"); t && t->is_array()) {
    who.tools.emplace();
    for (const auto& g : t->as_array())
      if (g.is_string())
        who.tools->emplace_back(g.as_string());
  }
  return who;
}

/// What a client sees of a plan: the whole state as structured content and
/// one line of text.
mcp::tool_result plan_result(const json::object& p) {
  auto state = str(p, "state");
  mcp::tool_result r =
    mcp::tool_result::text("plan " + str(p, "id") + ": " + state
                           + (p.if_contains("cause") ? " (" + str(p, "cause") + ")" : ""));
  r.structured = json::value(p);
  r.is_error = final_state(state) && state != "succeeded";
  return r;
}

std::string plan_id_arg(const json::object& args) {
  auto id = str(args, "plan_id");
  return id.rfind("plan/", 0) == 0 ? id : "plan/" + id;
}

/// The approvals of `p` waiting for the client, in plan order.
std::vector<json::object> client_approvals(const json::object& p) {
  std::vector<json::object> out;
  auto order = p.if_contains("order");
  auto steps = p.if_contains("steps");
  if (!order || !order->is_array() || !steps || !steps->is_object())
    return out;
  for (const auto& idv : order->as_array()) {
    auto sv = steps->as_object().if_contains(idv.as_string());
    if (!sv || !sv->is_object() || str(sv->as_object(), "state") != "awaiting_approval")
      continue;
    auto a = sv->as_object().if_contains("approval");
    if (!a || !a->is_object() || str(a->as_object(), "approver") != "client")
      continue;
    json::object o = a->as_object();
    o["step"] = idv;
    o["tool"] = sv->as_object().at("tool");
    if (auto ra = sv->as_object().if_contains("resolved_arguments"))
      o["arguments"] = *ra;
    out.push_back(std::move(o));
  }
  return out;
}

/// Submits `doc` for the caller of `c` and follows the plan to its end:
/// progress notifications, approvals the rules leave to the client asked
/// through elicitation. The call's idempotency key is the plan's, so a
/// retried or restarted call follows the same plan.
caf::expected<mcp::tool_result> run_plan(engine* eng, mcp::call& c, json::value doc) {
  auto who = caller_of(c);
  if (!doc.is_object())
    return mcp::tool_result::error("the plan must be a JSON object");
  // Retries and restarts of this call are the same plan.
  if (!doc.as_object().contains("idempotency_key"))
    doc.as_object()["idempotency_key"] = "mcp/" + c.idempotency_key();
  auto s = eng->submit(doc, who);
  if (!s) {
    // A call re-run while its node recovers runs before the node accepts
    // messages: an error to retry (the same plan: the key is the call's).
    if (code_of(s.error()) == errc::shutting_down && !eng->stopping())
      return make_error(errc::busy, "the node is starting; the plan is submitted on a retry");
    return std::move(s.error());
  }
  if (!s->report.ok()) {
    json::array problems;
    for (const auto& p : s->report.problems)
      problems.push_back(
        json::object{{"step", p.step}, {"path", p.path}, {"code", p.code}, {"message", p.message}});
    auto r =
      mcp::tool_result::error("the plan was rejected; nothing ran:\n" + s->report.to_string());
    r.structured =
      json::object{{"id", s->id}, {"state", "rejected"}, {"problems", std::move(problems)}};
    return r;
  }
  // Waiting holds a thread of the blocking pool, which the plan's own
  // steps need too: past a few waiting submissions, answer with the handle.
  // A plan another node owns (a keyed id in a cluster) is not waited for
  // here: the answer is its handle, which any node reads.
  if (!eng->here(s->id))
    return plan_result(s->view);
  static std::atomic<int> waiting{0};
  if (waiting.fetch_add(1) >= 16) {
    waiting.fetch_sub(1);
    auto p = eng->plan(s->id);
    if (!p)
      return std::move(p.error());
    return plan_result(*p);
  }
  struct leave {
    ~leave() { waiting.fetch_sub(1); }
  } on_exit;
  std::set<std::string> asked;
  for (;;) {
    // Short waits: a question for the client (an approval) goes out soon
    // after the plan asks for it.
    auto p = eng->wait(s->id, std::chrono::milliseconds{200}, [&c] { return c.cancelled(); });
    if (!p)
      return std::move(p.error());
    auto state = str(*p, "state");
    if (final_state(state))
      return plan_result(*p);
    if (eng->stopping())
      return make_error(errc::shutting_down, "the node is stopping; the plan goes on");
    if (c.cancelled()) {
      if (auto err = eng->cancel(s->id, who.name, "the client cancelled the request");
          err && code_of(err) != errc::conflict)
        return err;
      return make_error(errc::shutting_down, "cancelled");
    }
    size_t done = 0, total = 0;
    for (const auto& [id, sv] : p->at("steps").as_object()) {
      ++total;
      auto ss = str(sv.as_object(), "state");
      done += ss == "succeeded" || ss == "skipped" || ss == "compensated";
    }
    c.progress(static_cast<double>(done), static_cast<double>(total),
               "plan " + s->id + ": " + state);
    for (const auto& a : client_approvals(*p)) {
      auto sha = str(a, "arguments_sha256");
      auto key = "approve/" + str(a, "step") + "/" + sha.substr(0, 16);
      if (asked.count(key))
        continue;
      asked.insert(key);
      json::object params{
        {"message", "Plan " + s->id + " wants to call " + str(a, "tool") + " with "
                      + json::serialize(a.at("arguments")) + " (" + str(a, "reason")
                      + "). Approve?"},
        {"requestedSchema",
         json::object{
           {"type", "object"},
           {"properties", json::object{{"decision", json::object{{"type", "string"},
                                                                 {"enum", {"approve", "deny"}}}},
                                       {"comment", json::object{{"type", "string"}}}}},
           {"required", json::array{"decision"}}}}};
      auto answer = c.ask(key, "elicitation/create", std::move(params));
      if (!answer) {
        if (code_of(answer.error()) == errc::input_required)
          return std::move(answer.error());
        continue; // no answer: an operator may still decide
      }
      std::string decision = "deny", comment;
      if (answer->is_object()) {
        const auto& ao = answer->as_object();
        if (str(ao, "action") == "accept")
          if (auto content = ao.if_contains("content"); content && content->is_object()) {
            decision = str(content->as_object(), "decision") == "approve" ? "approve" : "deny";
            comment = str(content->as_object(), "comment");
          }
      }
      if (auto err = eng->decide(s->id + "/" + str(a, "step"), decision, sha,
                                 who.name + " (elicitation)", comment);
          err && code_of(err) != errc::conflict)
        return err;
    }
  }
}

/// `tmpl` with every `{"$from": "params", "pointer": P}` replaced by the
/// value at P in `params`; other references stay for the plan to resolve.
caf::expected<json::value> substitute_params(const json::value& tmpl, const json::object& params) {
  json::value whole = params;
  return resolve_references(
    tmpl, [&whole](const std::string& from) { return from == "params" ? &whole : nullptr; }, true);
}

} // namespace

caf::error add_workflow_tools(engine& e, mcp::server& srv, const json::value& config) {
  if (config.is_null())
    return {};
  if (!config.is_array())
    return make_error(errc::invalid_argument, "workflows must be an array");
  std::vector<mcp::tool_spec> tools;
  size_t i = 0;
  for (const auto& wv : config.as_array()) {
    auto where = "workflows[" + std::to_string(i++) + "]";
    if (!wv.is_object())
      return make_error(errc::invalid_argument, where + " must be an object");
    const auto& w = wv.as_object();
    for (const auto& [k, v] : w)
      if (k != "name" && k != "description" && k != "parameters" && k != "steps" && k != "title")
        return make_error(errc::invalid_argument,
                          where + ": unknown key '" + std::string{k}
                            + "' (name, title, description, parameters, steps)");
    auto name = str(w, "name");
    if (name.empty() || name.size() > 128
        || name.find_first_not_of(
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
             != std::string::npos)
      return make_error(errc::invalid_argument, where + ".name must match [A-Za-z0-9_.-]{1,128}");
    auto params = w.if_contains("parameters");
    if (!params || !params->is_object() || params->as_object().if_contains("type") == nullptr
        || params->as_object().at("type") != json::value("object"))
      return make_error(errc::invalid_argument,
                        where + ".parameters must be a JSON Schema with \"type\": \"object\"");
    auto steps = w.if_contains("steps");
    if (!steps || !steps->is_array() || steps->as_array().empty())
      return make_error(errc::invalid_argument, where + ".steps must be a non-empty array");
    mcp::tool_spec t;
    t.name = name;
    t.title = str(w, "title");
    t.description = str(w, "description");
    if (t.description.empty())
      return make_error(errc::invalid_argument,
                        where + " needs a description (clients show it to the model)");
    t.input_schema = params->as_object();
    t.tasks = mcp::task_support::optional;
    t.max_attempts = 10; // retried only while the node cannot accept the plan
    t.meta["io.cairn/workflow"] = true;
    json::value tmpl = *steps;
    auto* eng = &e;
    t.handler = [eng, tmpl, name](mcp::call& c) -> caf::expected<mcp::tool_result> {
      auto filled = substitute_params(tmpl, c.arguments());
      if (!filled)
        return mcp::tool_result::error("workflow " + name + ": " + render(filled.error()));
      json::object doc{{"steps", std::move(*filled)},
                       {"idempotency_key", "workflow/" + name + "/" + c.idempotency_key()}};
      return run_plan(eng, c, std::move(doc));
    };
    tools.push_back(std::move(t));
  }
  for (auto& t : tools)
    srv.add_tool(std::move(t));
  return {};
}

void register_plan_tools(engine& e, engine::impl& d) {
  auto* eng = &e;
  mcp::tool_spec submit;
  submit.name = "submit_plan";
  submit.title = "Submit a plan";
  submit.description =
    "Run a bounded plan of tool calls: {\"steps\": [{\"id\", \"tool\", \"arguments\", \"after\"}], "
    "\"idempotency_key\", \"deadline\", \"budget\": {\"cost_units\"}}. An argument may be "
    "{\"$from\": STEP, \"pointer\": \"/json/pointer\"} into an earlier step's structured "
    "result. The whole plan is checked before anything runs; every problem is listed. Steps "
    "policy marks for approval wait for it; when a step fails, completed steps are undone in "
    "reverse order.";
  submit.input_schema = json::object{
    {"type", "object"},
    {"properties",
     json::object{{"plan", json::object{{"type", "object"}, {"description", "The plan."}}}}},
    {"required", json::array{"plan"}},
    {"additionalProperties", false}};
  submit.risk = mcp::risk_class::low;
  submit.tasks = mcp::task_support::optional;
  submit.max_attempts = 10; // retried only while the node cannot accept the plan
  submit.handler = [eng](mcp::call& c) -> caf::expected<mcp::tool_result> {
    return run_plan(eng, c, c.arguments().at("plan"));
  };
  d.srv.add_tool(std::move(submit));

  mcp::tool_spec status;
  status.name = "plan_status";
  status.title = "A plan's status";
  status.description = "The state of a plan and of each step: risk, verdict, approval, "
                       "result, timing.";
  status.input_schema =
    json::object{{"type", "object"},
                 {"properties", json::object{{"plan_id", json::object{{"type", "string"}}}}},
                 {"required", json::array{"plan_id"}},
                 {"additionalProperties", false}};
  status.annotations.read_only = true;
  status.tasks = mcp::task_support::forbidden;
  status.handler = [eng](mcp::call& c) -> caf::expected<mcp::tool_result> {
    auto p = eng->plan(plan_id_arg(c.arguments()));
    if (!p)
      return mcp::tool_result::error(render(p.error()));
    auto r = plan_result(*p);
    r.is_error = false;
    return r;
  };
  d.srv.add_tool(std::move(status));

  mcp::tool_spec cancel;
  cancel.name = "cancel_plan";
  cancel.title = "Cancel a plan";
  cancel.description = "Stops a plan: running steps are cancelled, pending ones skipped and "
                       "completed ones undone in reverse order.";
  cancel.input_schema =
    json::object{{"type", "object"},
                 {"properties", json::object{{"plan_id", json::object{{"type", "string"}}},
                                             {"reason", json::object{{"type", "string"}}}}},
                 {"required", json::array{"plan_id"}},
                 {"additionalProperties", false}};
  cancel.tasks = mcp::task_support::forbidden;
  cancel.risk = mcp::risk_class::medium;
  cancel.handler = [eng](mcp::call& c) -> caf::expected<mcp::tool_result> {
    auto id = plan_id_arg(c.arguments());
    auto reason = str(c.arguments(), "reason");
    if (auto err = eng->cancel(id, caller_of(c).name, reason))
      return mcp::tool_result::error(render(err));
    auto p = eng->plan(id);
    if (!p)
      return mcp::tool_result::error(render(p.error()));
    auto r = plan_result(*p);
    r.is_error = false;
    return r;
  };
  d.srv.add_tool(std::move(cancel));

  mcp::resource_template_spec res;
  res.uri_template = "cairn://plans/{id}";
  res.name = "plan";
  res.title = "A plan";
  res.description = "A plan's state and steps (the id without its plan/ prefix).";
  res.mime_type = "application/json";
  res.read = [eng](const std::string& uri) -> caf::expected<json::array> {
    const std::string prefix = "cairn://plans/";
    if (uri.rfind(prefix, 0) != 0)
      return make_error(errc::not_found, "no plan at " + uri);
    auto p = eng->plan("plan/" + uri.substr(prefix.size()));
    if (!p)
      return std::move(p.error());
    return json::array{
      json::object{{"uri", uri}, {"mimeType", "application/json"}, {"text", json::serialize(*p)}}};
  };
  d.srv.add_resource_template(std::move(res));
}

} // namespace cairn::workflow
