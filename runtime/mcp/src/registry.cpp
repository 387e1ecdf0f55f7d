// SPDX-License-Identifier: Apache-2.0
// Registration and listing of tools, resources, templates and prompts,
// the token scopes that filter them, and list-changed notifications.
#include <fnmatch.h>

#include <random>

#include "cairn/auth.hpp"
#include "cairn/error.hpp"
#include "internal/server_impl.hpp"

namespace cairn::mcp {

call::~call() = default;

tool_result tool_result::text(std::string text) {
  tool_result r;
  r.content.push_back(json::object{{"type", "text"}, {"text", std::move(text)}});
  return r;
}

tool_result tool_result::error(std::string message) {
  auto r = text(std::move(message));
  r.is_error = true;
  return r;
}

// --- glob scopes -------------------------------------------------------------

bool server::impl::allowed(const mcp_token* token, const std::string& tool) const {
  if (!token)
    return true;
  for (const auto& g : token->tools)
    if (fnmatch(g.c_str(), tool.c_str(), 0) == 0)
      return true;
  return false;
}

const mcp_token* server::impl::authenticate(std::string_view authorization, bool& ok) const {
  ok = true;
  if (opts.tokens.empty())
    return nullptr;
  if (auto secret = auth::bearer_secret(authorization))
    if (const auto* t = auth::find_token(opts.tokens, *secret))
      return t;
  ok = false;
  return nullptr;
}

// --- registration ------------------------------------------------------------

server::server(runtime& rt, server_options opts) : impl_(std::make_unique<impl>(rt, opts)) {}

server::~server() = default;

server::impl::impl(runtime& r, server_options o)
  : rt(r), opts(std::move(o)), sessions(opts.max_sessions) {
  loopback_only = opts.check_host;
  if (opts.state_secret.empty()) {
    std::random_device rd;
    for (int i = 0; i < 32; ++i)
      opts.state_secret.push_back(static_cast<char>('a' + rd() % 26));
  }
}

void server::add_tool(tool_spec spec) {
  impl_->add_tool(std::move(spec));
}

void server::impl::add_tool(tool_spec spec) {
  auto entry = std::make_shared<tool_entry>();
  auto in = compiled_schema::compile(spec.input_schema);
  if (!in)
    throw std::invalid_argument("tool " + spec.name + ": input schema: " + render(in.error()));
  entry->input = *in;
  if (spec.output_schema) {
    auto out = compiled_schema::compile(*spec.output_schema);
    if (!out)
      throw std::invalid_argument("tool " + spec.name + ": output schema: " + render(out.error()));
    entry->output = *out;
  }
  json::object l{{"name", spec.name}};
  if (!spec.title.empty())
    l["title"] = spec.title;
  if (!spec.description.empty())
    l["description"] = spec.description;
  l["inputSchema"] = spec.input_schema;
  if (spec.output_schema)
    l["outputSchema"] = *spec.output_schema;
  json::object ann;
  if (!spec.title.empty())
    ann["title"] = spec.title;
  if (spec.annotations.read_only)
    ann["readOnlyHint"] = *spec.annotations.read_only;
  if (spec.annotations.destructive)
    ann["destructiveHint"] = *spec.annotations.destructive;
  if (spec.annotations.idempotent)
    ann["idempotentHint"] = *spec.annotations.idempotent;
  if (spec.annotations.open_world)
    ann["openWorldHint"] = *spec.annotations.open_world;
  if (ann.size() > (spec.title.empty() ? 0u : 1u))
    l["annotations"] = std::move(ann);
  if (spec.tasks != task_support::forbidden)
    l["execution"] =
      json::object{{"taskSupport", spec.tasks == task_support::required ? "required" : "optional"}};
  json::object meta = spec.meta;
  static const char* const risks[] = {"low", "medium", "high"};
  meta["io.cairn/risk"] = risks[static_cast<int>(spec.risk)];
  meta["io.cairn/cost"] = spec.cost;
  if (auto t = spec.compensation.if_contains("tool"); t && t->is_string())
    meta["io.cairn/compensation"] = t->as_string();
  l["_meta"] = std::move(meta);
  entry->listing = std::move(l);
  entry->spec = std::move(spec);
  bool existed;
  {
    std::unique_lock lock{mu};
    auto old = tools.find(entry->spec.name);
    existed = old != tools.end();
    if (attached && !existed)
      register_tool_kind(*entry);
    if (existed) {
      for (auto& [seq, t] : tool_order)
        if (t == old->second)
          t = entry;
    } else {
      char seq[24];
      std::snprintf(seq, sizeof seq, "%010llu", static_cast<unsigned long long>(next_tool_seq++));
      tool_order[seq] = entry;
    }
    tools[entry->spec.name] = entry;
    ++generation;
  }
  if (attached)
    broadcast("notifications/tools/list_changed");
}

std::vector<tool_contract> server::contracts() const {
  std::shared_lock lock{impl_->mu};
  std::vector<tool_contract> out;
  out.reserve(impl_->tools.size());
  for (const auto& [name, t] : impl_->tools)
    out.push_back(tool_contract{name, t->spec.input_schema, t->spec.output_schema, t->spec.risk,
                                t->spec.cost, t->spec.compensation});
  return out;
}

json::array server::tool_listing() const {
  std::shared_lock lock{impl_->mu};
  json::array out;
  out.reserve(impl_->tool_order.size());
  for (const auto& [seq, t] : impl_->tool_order) {
    auto l = t->listing;
    l["compensation"] = t->spec.compensation;
    l["max_attempts"] = t->spec.max_attempts;
    out.push_back(std::move(l));
  }
  return out;
}

uint64_t server::tools_generation() const {
  std::shared_lock lock{impl_->mu};
  return impl_->generation;
}

bool server::remove_tool(const std::string& name) {
  {
    std::unique_lock lock{impl_->mu};
    auto it = impl_->tools.find(name);
    if (it == impl_->tools.end())
      return false;
    for (auto o = impl_->tool_order.begin(); o != impl_->tool_order.end(); ++o)
      if (o->second == it->second) {
        impl_->tool_order.erase(o);
        break;
      }
    impl_->tools.erase(it);
    ++impl_->generation;
  }
  impl_->broadcast("notifications/tools/list_changed");
  return true;
}

void server::add_resource(resource_spec spec) {
  std::unique_lock lock{impl_->mu};
  impl_->resources[spec.uri] = std::move(spec);
}

void server::add_resource_template(resource_template_spec spec) {
  std::unique_lock lock{impl_->mu};
  impl_->templates[spec.uri_template] = std::move(spec);
}

void server::add_prompt(prompt_spec spec) {
  bool notify;
  {
    std::unique_lock lock{impl_->mu};
    notify = impl_->attached;
    impl_->prompts[spec.name] = std::move(spec);
  }
  if (notify)
    impl_->broadcast("notifications/prompts/list_changed");
}

void server::notify_list_changed(const std::string& what) {
  impl_->broadcast("notifications/" + what + "/list_changed");
}

void server::resource_updated(const std::string& uri) {
  impl_->resource_updated(uri);
}

void server::impl::resource_updated(const std::string& uri) {
  auto msg = rpc_notification("notifications/resources/updated", json::object{{"uri", uri}});
  for (auto& s : all_sessions()) {
    bool sub;
    {
      std::lock_guard lock{s->mu};
      sub = s->subscriptions.count(uri) > 0;
    }
    if (sub)
      s->push(msg);
  }
  listeners_publish("resources/updated", uri, msg);
}

void server::impl::broadcast(std::string_view method) {
  auto msg = rpc_notification(method, {});
  for (auto& s : all_sessions())
    s->push(msg);
  listeners_publish(method, {}, msg);
}

std::vector<std::shared_ptr<session>> server::impl::all_sessions() {
  return sessions.all();
}

void server::shutdown() {
  impl_->stopping.store(true);
  // No delayed work outlives the server: grace periods end without a
  // handle (the node is going), waiting tasks/result requests are told to poll.
  impl_->timers.stop();
  impl_->fail_waiters();
}

void server::attach() {
  std::unique_lock lock{impl_->mu};
  if (impl_->opts.actor_resources && !impl_->attached)
    impl_->add_actor_resources();
  for (auto& [name, t] : impl_->tools)
    impl_->register_tool_kind(*t);
  impl_->attached = true;
}

std::shared_ptr<tool_entry> server::impl::find_tool(const std::string& name) const {
  std::shared_lock lock{mu};
  auto it = tools.find(name);
  return it == tools.end() ? nullptr : it->second;
}

namespace {

/// Pages through `items` (sorted by key): `cursor` is the last key of the
/// previous page.
template <class Map, class F>
json::object page(const Map& items, const json::object& params, size_t size, const char* field,
                  F&& render_item, bool& bad_cursor) {
  json::array out;
  auto it = items.begin();
  bad_cursor = false;
  if (auto c = params.if_contains("cursor")) {
    if (!c->is_string()) {
      bad_cursor = true;
      return {};
    }
    std::string key{c->as_string()};
    if (items.count(key) == 0) { // not a cursor this server handed out
      bad_cursor = true;
      return {};
    }
    it = items.upper_bound(key);
  }
  std::string last;
  for (; it != items.end() && out.size() < size; ++it) {
    auto v = render_item(it->second);
    if (v.is_null())
      continue;
    out.push_back(std::move(v));
    last = it->first;
  }
  json::object r{{field, std::move(out)}};
  if (it != items.end())
    r["nextCursor"] = last;
  return r;
}

} // namespace

/// Answers a list request with one page of `items`, rendered by `render`
/// (null: not shown to this caller).
template <class Map, class F>
void server::impl::reply_page(const std::shared_ptr<exchange>& ex, const Map& items,
                              const char* field, F&& render) {
  bool bad;
  json::object r;
  {
    std::shared_lock lock{mu};
    r = page(items, ex->params, opts.page_size, field, render, bad);
  }
  if (bad)
    return ex->fail(rpc::invalid_params, "invalid cursor");
  add_cache_fields(ex, r);
  ex->reply(std::move(r));
}

namespace {

/// The optional title, description and mimeType of a listing entry.
json::object described(json::object o, const std::string& title, const std::string& description,
                       const std::string& mime_type = {}) {
  if (!title.empty())
    o["title"] = title;
  if (!description.empty())
    o["description"] = description;
  if (!mime_type.empty())
    o["mimeType"] = mime_type;
  return o;
}

} // namespace

void server::impl::list_tools(const std::shared_ptr<exchange>& ex) {
  reply_page(ex, tool_order, "tools", [&](const std::shared_ptr<tool_entry>& t) -> json::value {
    if (!allowed(ex->token, t->spec.name))
      return nullptr;
    return t->listing;
  });
}

void server::impl::list_resources(const std::shared_ptr<exchange>& ex) {
  reply_page(ex, resources, "resources", [](const resource_spec& s) -> json::value {
    return described({{"uri", s.uri}, {"name", s.name}}, s.title, s.description, s.mime_type);
  });
}

void server::impl::list_templates(const std::shared_ptr<exchange>& ex) {
  reply_page(ex, templates, "resourceTemplates",
             [](const resource_template_spec& s) -> json::value {
               return described({{"uriTemplate", s.uri_template}, {"name", s.name}}, s.title,
                                s.description, s.mime_type);
             });
}

/// Matches `uri` against a `{var}` template; fills `vars`.
bool match_template(std::string_view tmpl, std::string_view uri,
                    std::map<std::string, std::string>& vars) {
  size_t t = 0, u = 0;
  while (t < tmpl.size()) {
    if (tmpl[t] == '{') {
      auto close = tmpl.find('}', t);
      if (close == std::string_view::npos)
        return false;
      auto name = std::string{tmpl.substr(t + 1, close - t - 1)};
      t = close + 1;
      // The variable runs to the next literal character of the template
      // (or the end); it never spans a '/'.
      char stop = t < tmpl.size() ? tmpl[t] : '\0';
      size_t start = u;
      while (u < uri.size() && uri[u] != stop && uri[u] != '/')
        ++u;
      if (u == start)
        return false;
      vars[name] = std::string{uri.substr(start, u - start)};
    } else {
      if (u >= uri.size() || uri[u] != tmpl[t])
        return false;
      ++t;
      ++u;
    }
  }
  return u == uri.size();
}

void server::impl::list_prompts(const std::shared_ptr<exchange>& ex) {
  reply_page(ex, prompts, "prompts", [](const prompt_spec& p) -> json::value {
    auto o = described({{"name", p.name}}, p.title, p.description);
    if (!p.arguments.empty()) {
      json::array args;
      for (const auto& a : p.arguments)
        args.push_back(described({{"name", a.name}, {"required", a.required}}, {}, a.description));
      o["arguments"] = std::move(args);
    }
    return o;
  });
}

} // namespace cairn::mcp
