// SPDX-License-Identifier: Apache-2.0
// The edge rules of 2026-07-28: stateless requests that say who they are
// in `_meta`, routing headers, HTTP statuses, caching fields,
// `server/discover`, `subscriptions/listen` and multi-round requests.
#include <algorithm>
#include <cctype>

#include "internal/request_state.hpp"
#include "internal/revisions.hpp"
#include "internal/server_impl.hpp"

namespace cairn::mcp {

namespace {

std::string trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
    v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
    v.remove_suffix(1);
  return std::string{v};
}

} // namespace

/// The revision a stateless request names in `_meta`, or "".
std::string meta_revision(const json::object& params) {
  if (auto m = params.if_contains("_meta"); m && m->is_object())
    if (auto v = m->as_object().if_contains("io.modelcontextprotocol/protocolVersion");
        v && v->is_string())
      return std::string{v->as_string()};
  return {};
}

json::object meta_capabilities(const json::object& params) {
  if (auto m = params.if_contains("_meta"); m && m->is_object())
    if (auto v = m->as_object().if_contains("io.modelcontextprotocol/clientCapabilities");
        v && v->is_object())
      return v->as_object();
  return {};
}

/// The HTTP status of a 2026-07-28 error response.
unsigned http_status_of(int code) {
  switch (code) {
    case rpc::method_not_found: return 404;
    case rpc::internal_error: return 500;
    case rpc::parse_error:
    case rpc::invalid_request:
    case rpc::invalid_params:
    case rpc::header_mismatch:
    case rpc::missing_capability:
    case rpc::unsupported_version: return 400;
    default: return 200;
  }
}

bool server::impl::known_method(const std::string& m) const {
  static const std::set<std::string> methods{
    "tools/list",      "tools/call",           "resources/list", "resources/templates/list",
    "resources/read",  "prompts/list",         "prompts/get",    "completion/complete",
    "server/discover", "subscriptions/listen", "tasks/get",      "tasks/update",
    "tasks/cancel"};
  return methods.count(m) > 0;
}

std::string server::impl::check_routing_headers(const http_request& req, const std::string& method,
                                                const json::object& params) const {
  auto mm = req.header("mcp-method");
  if (mm.empty())
    return "missing Mcp-Method header";
  if (trim(mm) != method)
    return "Mcp-Method header '" + trim(mm) + "' does not match the method " + method;
  const char* name_key = nullptr;
  if (method == "tools/call" || method == "prompts/get")
    name_key = "name";
  else if (method == "resources/read")
    name_key = "uri";
  else if (method == "tasks/get" || method == "tasks/update" || method == "tasks/cancel")
    name_key = "taskId";
  if (name_key) {
    auto v = params.if_contains(name_key);
    if (v && v->is_string()) {
      bool present = false;
      for (const auto& [k, val] : req.headers)
        present = present || k == "mcp-name";
      if (!present)
        return "missing Mcp-Name header";
      if (trim(req.header("mcp-name")) != v->as_string())
        return "Mcp-Name header does not match params." + std::string{name_key};
    }
  }
  if (method == "tools/call") {
    auto name = params.if_contains("name");
    auto t = name && name->is_string() ? find_tool(std::string{name->as_string()}) : nullptr;
    auto args = params.if_contains("arguments");
    if (!t)
      return {};
    auto props = t->spec.input_schema.if_contains("properties");
    if (!props || !props->is_object())
      return {};
    for (const auto& [pname, pschema] : props->as_object()) {
      if (!pschema.is_object())
        continue;
      auto h = pschema.as_object().if_contains("x-mcp-header");
      if (!h || !h->is_string())
        continue;
      const json::value* value = nullptr;
      if (args && args->is_object())
        value = args->as_object().if_contains(pname);
      if (!value || value->is_null())
        continue;
      std::string hname = "mcp-param-" + std::string{h->as_string()};
      for (auto& c : hname)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      bool present = false;
      for (const auto& [k, val] : req.headers)
        present = present || k == hname;
      if (!present)
        return "missing Mcp-Param-" + std::string{h->as_string()} + " header";
      auto raw = trim(req.header(hname));
      std::string decoded = raw;
      if (raw.size() >= 12 && raw.rfind("=?base64?", 0) == 0
          && raw.substr(raw.size() - 2) == "?=") {
        auto d = base64_decode(std::string_view{raw}.substr(9, raw.size() - 11));
        if (!d)
          return "Mcp-Param-" + std::string{h->as_string()} + " is not valid base64";
        decoded = *d;
      }
      std::string expected;
      if (value->is_string())
        expected = std::string{value->as_string()};
      else if (value->is_bool())
        expected = value->as_bool() ? "true" : "false";
      else
        expected = json::serialize(*value);
      if (decoded != expected)
        return "Mcp-Param-" + std::string{h->as_string()} + " does not match the argument";
    }
  }
  return {};
}

void server::impl::listen(const std::shared_ptr<exchange>& ex, http_responder respond) {
  auto l = std::make_shared<listener>();
  l->stream = std::make_shared<http_stream>();
  l->id = ex->id.is_string() ? std::string{ex->id.as_string()} : json::serialize(ex->id);
  json::object honoured;
  if (auto n = ex->params.if_contains("notifications"); n && n->is_object()) {
    for (const char* k : {"toolsListChanged", "promptsListChanged", "resourcesListChanged"})
      if (auto v = n->as_object().if_contains(k); v && v->is_bool() && v->as_bool()) {
        honoured[k] = true;
        l->kinds.insert(k);
      }
    if (auto v = n->as_object().if_contains("resourceSubscriptions"); v && v->is_array()) {
      json::array uris;
      for (auto& u : v->as_array())
        // Only what this token may read: an actor it cannot see is left out.
        if (u.is_string()
            && (std::string_view{u.as_string()}.substr(0, 15) != "cairn://actors/"
                || actor_readable(ex->token, std::string{u.as_string()}))) {
          l->uris.insert(std::string{u.as_string()});
          uris.push_back(u);
        }
      honoured["resourceSubscriptions"] = std::move(uris);
      any_subscription.store(true);
    }
  }
  {
    std::lock_guard lock{listeners_mu};
    listeners.push_back(l);
  }
  std::weak_ptr<listener> weak = l;
  l->stream->on_end([this, weak] {
    std::lock_guard lock{listeners_mu};
    listeners.erase(std::remove_if(listeners.begin(), listeners.end(),
                                   [&](const auto& x) { return x == weak.lock() || !x; }),
                    listeners.end());
  });
  json::object p{{"_meta", json::object{{"io.modelcontextprotocol/subscriptionId", l->id}}},
                 {"notifications", std::move(honoured)}};
  l->stream->write(
    "data: " + rpc_notification("notifications/subscriptions/acknowledged", std::move(p)) + "\n\n");
  http_response r;
  r.content_type = "text/event-stream";
  r.stream = l->stream;
  respond(std::move(r));
}

json::object server::impl::discover_result(const std::string&) const {
  json::object r{
    {"supportedVersions", json::array{latest_revision}},
    {"capabilities", capabilities(latest_revision)},
    {"_meta", json::object{{"io.modelcontextprotocol/serverInfo",
                            json::object{{"name", opts.name}, {"version", opts.version}}}}}};
  if (!opts.instructions.empty())
    r["instructions"] = opts.instructions;
  return r;
}

void server::impl::add_cache_fields(const std::shared_ptr<exchange>& ex,
                                    json::object& result) const {
  if (!ex->stateless())
    return;
  // Lists change only when tools are registered; reads may differ per token.
  bool read = ex->method == "resources/read";
  result["ttlMs"] = read ? 0 : 60'000;
  result["cacheScope"] = read || !opts.tokens.empty() ? "private" : "public";
}

void server::impl::listeners_publish(std::string_view what, const std::string& uri,
                                     const std::string& msg) {
  (void)msg;
  std::string kind;
  if (what == "notifications/tools/list_changed")
    kind = "toolsListChanged";
  else if (what == "notifications/prompts/list_changed")
    kind = "promptsListChanged";
  else if (what == "notifications/resources/list_changed")
    kind = "resourcesListChanged";
  std::vector<std::shared_ptr<listener>> targets;
  {
    std::lock_guard lock{listeners_mu};
    for (auto& l : listeners)
      if ((!kind.empty() && l->kinds.count(kind)) || (kind.empty() && l->uris.count(uri)))
        targets.push_back(l);
  }
  for (auto& l : targets) {
    json::object p{{"_meta", json::object{{"io.modelcontextprotocol/subscriptionId", l->id}}}};
    if (kind.empty())
      p["uri"] = uri;
    auto method = kind.empty() ? std::string{"notifications/resources/updated"} : std::string{what};
    l->stream->write("data: " + rpc_notification(method, std::move(p)) + "\n\n");
  }
}

std::optional<json::object> server::impl::round_answers(const std::shared_ptr<exchange>& ex,
                                                        const char* owner, const std::string& name,
                                                        const json::object* accepted) {
  json::object answers;
  if (auto rs = ex->params.if_contains("requestState")) {
    auto state = rs->is_string() ? unseal(rs->as_string()) : std::nullopt;
    if (!state || !state->contains(owner) || state->at(owner) != json::value(name)) {
      ex->fail(rpc::invalid_params, "requestState integrity check failed");
      return std::nullopt;
    }
    if (auto a = state->if_contains("answers"); a && a->is_object())
      answers = a->as_object();
  }
  if (auto ir = ex->params.if_contains("inputResponses")) {
    if (!ir->is_object()) {
      ex->fail(rpc::invalid_params, "'inputResponses' must be an object");
      return std::nullopt;
    }
    for (auto& [k, v] : ir->as_object()) {
      if (accepted && !accepted->contains(k))
        continue; // an answer to nothing we asked: ignored
      if (!v.is_object()) {
        ex->fail(rpc::invalid_params, "inputResponses." + std::string{k} + " must be an object");
        return std::nullopt;
      }
      answers[k] = v;
    }
  }
  return answers;
}

bool server::impl::ask_first(const std::shared_ptr<exchange>& ex, const json::object& questions,
                             const json::object& answers, const char* owner,
                             const std::string& name) {
  json::object missing;
  for (auto& [k, v] : questions)
    if (!answers.contains(k))
      missing[k] = v;
  if (missing.empty())
    return false;
  ex->reply(
    json::object{{"resultType", "input_required"},
                 {"inputRequests", std::move(missing)},
                 {"requestState", seal(json::object{{owner, name}, {"answers", answers}})}});
  return true;
}

} // namespace cairn::mcp
