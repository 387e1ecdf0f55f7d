// SPDX-License-Identifier: Apache-2.0
// The request model: every MCP method, whatever revision or transport
// carried it. Tool calls run as steps of durable call actors (tools_call.cpp).
#include <algorithm>

#include <spdlog/spdlog.h>

#include "cairn/error.hpp"
#include "internal/server_impl.hpp"

namespace cairn::mcp {

// --- dispatch ----------------------------------------------------------------

void server::impl::trace_request(const std::shared_ptr<exchange>& ex) {
  // A span for every tools/call, and for any request that carries a
  // traceparent (the agent asked for it): server kind, a child of the
  // caller's span, and the parent of the work the request starts.
  std::string parent;
  if (auto* meta = ex->params.if_contains("_meta"); meta && meta->is_object())
    if (auto* tp = meta->as_object().if_contains("traceparent"); tp && tp->is_string())
      parent = std::string{tp->as_string()};
  if (ex->method != "tools/call" && parent.empty())
    return;
  trace_context caller;
  bool has_caller = parse_traceparent(parent, caller);
  auto mine = child_of(parent); // a new trace if there is no valid caller
  ex->traceparent = format_traceparent(mine);
  std::string tool;
  if (ex->method == "tools/call")
    if (auto* n = ex->params.if_contains("name"); n && n->is_string())
      tool = std::string{n->as_string()};
  auto start = now_us();
  auto* runtime = &rt;
  ex->on_done = [runtime, mine, caller, has_caller, tool, start](const exchange& e) {
    span_record s;
    s.trace_id = mine.trace_id;
    s.span_id = mine.span_id;
    if (has_caller)
      s.parent_span_id = caller.span_id;
    s.name = e.method + (tool.empty() ? "" : " " + tool);
    s.kind = span_kind::server;
    s.start_us = start;
    s.end_us = std::max(now_us(), start);
    auto code = e.error_code.load();
    s.status = code != 0 ? span_status::error : span_status::unset;
    if (code != 0)
      s.status_message = "JSON-RPC error " + std::to_string(code);
    s.attributes.push_back({"mcp.method.name", e.method});
    s.attributes.push_back({"mcp.protocol.version", e.revision});
    if (e.sess)
      s.attributes.push_back({"mcp.session.id", e.sess->id});
    s.attributes.push_back({"jsonrpc.request.id", e.id.is_string() ? std::string{e.id.as_string()}
                                                                   : json::serialize(e.id)});
    if (!tool.empty()) {
      s.attributes.push_back({"gen_ai.tool.name", tool});
      s.attributes.push_back({"gen_ai.operation.name", std::string{"execute_tool"}});
    }
    if (code != 0)
      s.attributes.push_back({"rpc.jsonrpc.error_code", static_cast<int64_t>(code)});
    runtime->record_spans({std::move(s)});
  };
}

void server::impl::dispatch(std::shared_ptr<exchange> ex) {
  const auto& m = ex->method;
  trace_request(ex);
  try {
    if (m == "ping")
      return ex->reply(json::object{});
    if (m == "tools/list")
      return list_tools(ex);
    if (m == "tools/call")
      return call_tool(ex);
    if (m == "resources/list")
      return list_resources(ex);
    if (m == "resources/templates/list")
      return list_templates(ex);
    if (m == "resources/read")
      return read_resource(ex);
    if (m == "resources/subscribe" || m == "resources/unsubscribe")
      return subscribe(ex, m == "resources/subscribe");
    if (m == "prompts/list")
      return list_prompts(ex);
    if (m == "prompts/get")
      return get_prompt(ex);
    if (m == "completion/complete")
      return complete(ex);
    if (m == "logging/setLevel")
      return set_level(ex);
    if (m == "tasks/get" || m == "tasks/result" || m == "tasks/cancel" || m == "tasks/list"
        || m == "tasks/update")
      return task_method(ex);
    if (m == "server/discover") {
      auto r = discover_result(ex->revision);
      add_cache_fields(ex, r);
      r["ttlMs"] = 0;
      r["cacheScope"] = "private";
      return ex->reply(std::move(r));
    }
    ex->fail(rpc::method_not_found, "method not found: " + m);
  } catch (const std::exception& e) {
    spdlog::error("mcp {} failed: {}", m, e.what());
    ex->fail(rpc::internal_error, std::string{"internal error: "} + e.what());
  }
}

void server::impl::read_resource(const std::shared_ptr<exchange>& ex) {
  auto uri_v = ex->params.if_contains("uri");
  if (!uri_v || !uri_v->is_string())
    return ex->fail(rpc::invalid_params, "resources/read needs a string 'uri'");
  std::string uri{uri_v->as_string()};
  if (uri.rfind(actor_prefix, 0) == 0 && !actor_readable(ex->token, uri))
    return ex->fail(ex->stateless() ? rpc::invalid_params : rpc::resource_not_found,
                    "resource not found: " + uri, json::object{{"uri", uri}});
  resource_reader reader;
  {
    std::shared_lock lock{mu};
    if (auto it = resources.find(uri); it != resources.end()) {
      reader = it->second.read;
    } else {
      for (auto& [t, spec] : templates) {
        std::map<std::string, std::string> vars;
        if (match_template(t, uri, vars)) {
          reader = spec.read;
          break;
        }
      }
    }
  }
  auto not_found = [&] {
    // 2026-07-28 (SEP-2164) says -32602; the session revisions say -32002.
    ex->fail(ex->stateless() ? rpc::invalid_params : rpc::resource_not_found,
             "resource not found: " + uri, json::object{{"uri", uri}});
  };
  if (!reader)
    return not_found();
  auto contents = reader(uri);
  if (!contents) {
    if (code_of(contents.error()) == errc::not_found)
      return not_found();
    return ex->fail(rpc::internal_error, render(contents.error()));
  }
  json::object r{{"contents", std::move(*contents)}};
  add_cache_fields(ex, r);
  ex->reply(std::move(r));
}

void server::impl::subscribe(const std::shared_ptr<exchange>& ex, bool on) {
  auto uri_v = ex->params.if_contains("uri");
  if (!uri_v || !uri_v->is_string())
    return ex->fail(rpc::invalid_params, "needs a string 'uri'");
  if (!ex->sess)
    return ex->fail(rpc::method_not_found,
                    "resources/subscribe needs a session; use subscriptions/listen");
  std::string suri{uri_v->as_string()};
  if (on && suri.rfind(actor_prefix, 0) == 0 && !actor_readable(ex->token, suri))
    return ex->fail(rpc::resource_not_found, "resource not found: " + suri,
                    json::object{{"uri", suri}});
  any_subscription.store(true);
  {
    std::lock_guard lock{ex->sess->mu};
    if (on)
      ex->sess->subscriptions.insert(std::string{uri_v->as_string()});
    else
      ex->sess->subscriptions.erase(std::string{uri_v->as_string()});
  }
  ex->reply(json::object{});
}

void server::impl::get_prompt(const std::shared_ptr<exchange>& ex) {
  auto name_v = ex->params.if_contains("name");
  if (!name_v || !name_v->is_string())
    return ex->fail(rpc::invalid_params, "prompts/get needs a string 'name'");
  std::string name{name_v->as_string()};
  prompt_spec spec;
  {
    std::shared_lock lock{mu};
    auto it = prompts.find(name);
    if (it == prompts.end())
      return ex->fail(rpc::invalid_params, "unknown prompt: " + name);
    spec = it->second;
  }
  json::object args;
  if (auto a = ex->params.if_contains("arguments")) {
    if (!a->is_object())
      return ex->fail(rpc::invalid_params, "'arguments' must be an object");
    args = a->as_object();
  }
  for (const auto& pa : spec.arguments)
    if (pa.required && !args.contains(pa.name))
      return ex->fail(rpc::invalid_params, "prompt " + name + " needs argument '" + pa.name + "'");
  for (const auto& [k, v] : args)
    if (!v.is_string())
      return ex->fail(rpc::invalid_params,
                      "prompt argument '" + std::string{k} + "' must be a string");
  json::object answers;
  if (ex->stateless() && !spec.inputs.empty()) {
    auto got = round_answers(ex, "prompt", name, &spec.inputs);
    if (!got)
      return;
    answers = std::move(*got);
    if (ask_first(ex, spec.inputs, answers, "prompt", name))
      return;
  }
  auto messages = spec.get(args, answers);
  if (!messages)
    return ex->fail(rpc::internal_error, render(messages.error()));
  json::object r{{"messages", std::move(*messages)}};
  if (!spec.description.empty())
    r["description"] = spec.description;
  ex->reply(std::move(r));
}

void server::impl::complete(const std::shared_ptr<exchange>& ex) {
  auto ref = ex->params.if_contains("ref");
  auto arg = ex->params.if_contains("argument");
  if (!ref || !ref->is_object() || !arg || !arg->is_object())
    return ex->fail(rpc::invalid_params, "completion/complete needs 'ref' and 'argument' objects");
  auto type = ref->as_object().if_contains("type");
  auto an = arg->as_object().if_contains("name");
  auto av = arg->as_object().if_contains("value");
  if (!type || !type->is_string() || !an || !an->is_string() || !av || !av->is_string())
    return ex->fail(rpc::invalid_params,
                    "'ref.type', 'argument.name' and 'argument.value' must be strings");
  std::string arg_name{an->as_string()}, value{av->as_string()};
  std::vector<std::string> values;
  bool found = false;
  {
    std::shared_lock lock{mu};
    if (type->as_string() == "ref/prompt") {
      auto n = ref->as_object().if_contains("name");
      if (n && n->is_string())
        if (auto it = prompts.find(std::string{n->as_string()}); it != prompts.end()) {
          found = true;
          if (it->second.complete)
            values = it->second.complete(arg_name, value);
        }
    } else if (type->as_string() == "ref/resource") {
      auto u = ref->as_object().if_contains("uri");
      if (u && u->is_string())
        if (auto it = templates.find(std::string{u->as_string()}); it != templates.end()) {
          found = true;
          if (it->second.complete)
            values = it->second.complete(arg_name, value);
          if (std::string_view{it->first}.substr(0, actor_prefix.size()) == actor_prefix)
            values.erase(std::remove_if(values.begin(), values.end(),
                                        [&](const std::string& v) {
                                          return !actor_readable(ex->token,
                                                                 std::string{actor_prefix} + v);
                                        }),
                         values.end());
        }
    }
  }
  if (!found)
    return ex->fail(rpc::invalid_params, "unknown completion reference");
  auto total = values.size();
  if (values.size() > 100)
    values.resize(100);
  json::array vals;
  for (auto& v : values)
    vals.push_back(json::string{v});
  ex->reply(json::object{
    {"completion",
     json::object{{"values", std::move(vals)}, {"total", total}, {"hasMore", total > 100}}}});
}

void server::impl::set_level(const std::shared_ptr<exchange>& ex) {
  auto lv = ex->params.if_contains("level");
  if (!lv || !lv->is_string() || log_level_index(lv->as_string()) < 0)
    return ex->fail(rpc::invalid_params,
                    "'level' must be one of debug, info, notice, warning, error, critical, "
                    "alert, emergency");
  if (ex->sess)
    ex->sess->log_level.store(log_level_index(lv->as_string()));
  ex->reply(json::object{});
}

server_stats server::stats() const {
  auto& s = *impl_;
  server_stats st;
  for (auto& sess : s.sessions.all()) {
    ++st.sessions;
    st.pending_requests += sess->pending_count();
  }
  {
    std::lock_guard lock{s.calls_mu};
    st.waiting_updates = s.acks.size();
    st.live_calls = s.calls.size();
  }
  {
    std::lock_guard lock{s.waiters_mu};
    st.waiting_results = s.waiters.size();
  }
  st.deadlines = s.timers.size();
  return st;
}

} // namespace cairn::mcp
