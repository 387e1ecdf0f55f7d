// SPDX-License-Identifier: Apache-2.0
// The request model: every MCP method, whatever revision or transport
// carried it. Tool calls run as steps of durable call actors.
#include "server_impl.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <random>

#include <boost/uuid/detail/sha1.hpp>
#include <spdlog/spdlog.h>

#include "cairn/auth.hpp"
#include "cairn/error.hpp"

namespace cairn::mcp {

namespace {

const char* const levels[] = {"debug", "info",     "notice", "warning",
                              "error", "critical", "alert",  "emergency"};

} // namespace

namespace {

std::string percent_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out.push_back(static_cast<char>(c));
    else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1]))
        && std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string{s.substr(i + 1, 2)}, nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

constexpr std::string_view actor_prefix = "cairn://actors/";

} // namespace

std::string hmac_hex(std::string_view key, std::string_view msg) {
  using boost::uuids::detail::sha1;
  auto digest = [](std::string_view a, std::string_view b) {
    sha1 h;
    h.process_bytes(a.data(), a.size());
    h.process_bytes(b.data(), b.size());
    sha1::digest_type d;
    h.get_digest(d);
    std::string out;
    for (unsigned w : d)
      for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>((w >> shift) & 0xff));
    return out;
  };
  std::string k{key};
  if (k.size() > 64)
    k = digest(k, {});
  k.resize(64, '\0');
  std::string ipad = k, opad = k;
  for (auto& c : ipad)
    c = static_cast<char>(c ^ 0x36);
  for (auto& c : opad)
    c = static_cast<char>(c ^ 0x5c);
  auto mac = digest(opad, digest(ipad, msg));
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : mac) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

int log_level_index(std::string_view level) {
  for (int i = 0; i < 8; ++i)
    if (level == levels[i])
      return i;
  return -1;
}

std::string rpc_error(const json::value& id, int code, std::string_view message,
                      const json::value& data) {
  json::object err{{"code", code}, {"message", message}};
  if (!data.is_null())
    err["data"] = data;
  return json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(err)}});
}

std::string rpc_result(const json::value& id, json::value result) {
  return json::serialize(
    json::object{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}});
}

std::string rpc_notification(std::string_view method, json::object params) {
  return json::serialize(
    json::object{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
}

bool session::push(const std::string& message) {
  std::shared_ptr<http_stream> s;
  std::function<void(std::string)> w;
  {
    std::lock_guard lock{mu};
    s = get_stream;
    w = write;
  }
  if (w) {
    w(message);
    return true;
  }
  return s && s->write("data: " + message + "\n\n");
}

void exchange::reply(json::value result) {
  if (done.exchange(true))
    return;
  if (stateless() && result.is_object() && !result.as_object().contains("resultType"))
    result.as_object()["resultType"] = "complete";
  sink(rpc_result(id, std::move(result)), true);
}

void exchange::fail(int code, std::string_view message, const json::value& data) {
  if (done.exchange(true))
    return;
  sink(rpc_error(id, code, message, data), true);
}

void exchange::abandon() {
  if (done.exchange(true))
    return;
  sink({}, true);
}

void exchange::notify(std::string_view m, json::object p) {
  if (done.load() || !can_stream)
    return;
  sink(rpc_notification(m, std::move(p)), false);
}

bool exchange::request(std::string_view m, json::object p,
                       std::function<void(json::object)> answer) {
  if (done.load() || !can_stream || !sess)
    return false;
  std::string rid;
  {
    std::lock_guard lock{sess->mu};
    rid = "s" + std::to_string(sess->next_request++);
    sess->pending[rid] = std::move(answer);
  }
  sink(json::serialize(
         json::object{{"jsonrpc", "2.0"}, {"id", rid}, {"method", m}, {"params", std::move(p)}}),
       false);
  return true;
}

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

server::impl::impl(runtime& r, server_options o) : rt(r), opts(std::move(o)) {
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
  }
  if (attached)
    broadcast("notifications/tools/list_changed");
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
  std::vector<std::shared_ptr<session>> out;
  std::lock_guard lock{sessions_mu};
  for (auto& [id, s] : sessions)
    out.push_back(s);
  return out;
}

void server::shutdown() {
  impl_->stopping.store(true);
}

void server::impl::add_actor_resources() {
  auto complete = [this](const std::string&, const std::string& value) {
    std::vector<std::string> out;
    auto prefix = percent_decode(value);
    auto slash = prefix.find('/');
    auto kind = slash == std::string::npos ? std::string{} : prefix.substr(0, slash);
    if (auto ids = rt.actor_ids(kind, {}, 1000))
      for (auto& id : *ids)
        if (id.rfind(prefix, 0) == 0 && out.size() < 100)
          out.push_back(percent_encode(id));
    return out;
  };
  resource_template_spec state;
  state.uri_template = "cairn://actors/{id}";
  state.name = "actor";
  state.title = "Actor state";
  state.description = "An actor's state as storage holds it: mailbox depth, journal length, "
                      "last error and, for kinds that show it, the state itself";
  state.mime_type = "application/json";
  state.complete = complete;
  state.read = [this](const std::string& uri) -> caf::expected<json::array> {
    auto id = percent_decode(std::string_view{uri}.substr(actor_prefix.size()));
    auto d = rt.describe(id);
    if (!d)
      return std::move(d.error());
    json::object o{{"id", d->id},
                   {"active", d->active},
                   {"mailbox_depth", d->mailbox_depth},
                   {"journal_length", d->journal_length},
                   {"snapshot_seq", d->snapshot_seq}};
    if (!d->last_error.empty())
      o["last_error"] = d->last_error;
    if (!d->state_json.empty()) {
      boost::system::error_code ec;
      auto v = json::parse(d->state_json, ec);
      if (!ec)
        o["state"] = std::move(v);
    }
    return json::array{
      json::object{{"uri", uri}, {"mimeType", "application/json"}, {"text", json::serialize(o)}}};
  };
  templates[state.uri_template] = std::move(state);
  resource_template_spec journal;
  journal.uri_template = "cairn://actors/{id}/journal";
  journal.name = "actor-journal";
  journal.title = "Actor journal";
  journal.description = "The last 100 events of an actor's journal, oldest first";
  journal.mime_type = "application/json";
  journal.complete = complete;
  journal.read = [this](const std::string& uri) -> caf::expected<json::array> {
    auto rest = std::string_view{uri}.substr(actor_prefix.size());
    auto id = percent_decode(rest.substr(0, rest.rfind("/journal")));
    auto d = rt.describe(id);
    if (!d)
      return std::move(d.error());
    json::array events;
    uint64_t from = d->journal_length > 100 ? d->journal_length - 99 : 1;
    auto err = rt.read_journal(id, from, 100,
                               [&](uint64_t seq, std::string_view type, std::string_view payload) {
                                 json::object e{{"seq", seq}, {"type", type}};
                                 boost::system::error_code ec;
                                 auto v = json::parse(payload, ec);
                                 if (!ec)
                                   e["data"] = std::move(v);
                                 else
                                   e["bytes"] = payload.size();
                                 events.push_back(std::move(e));
                               });
    if (err)
      return err;
    return json::array{
      json::object{{"uri", uri},
                   {"mimeType", "application/json"},
                   {"text", json::serialize(json::object{{"id", id}, {"events", events}})}}};
  };
  templates[journal.uri_template] = std::move(journal);
  // Subscribers of an actor's resources hear of every committed step.
  rt.observe_steps([this](const std::string& id) {
    if (!any_subscription.load(std::memory_order_relaxed))
      return;
    auto uri = std::string{actor_prefix} + percent_encode(id);
    resource_updated(uri);
    resource_updated(uri + "/journal");
  });
}

// With tokens, actor resources are for full-access tokens (glob "*"), and a
// tool call's actor only for the token that made the call.
bool server::impl::actor_readable(const mcp_token* token, const std::string& uri) const {
  if (!token)
    return opts.tokens.empty();
  if (std::find(token->tools.begin(), token->tools.end(), "*") == token->tools.end())
    return false;
  auto id = percent_decode(std::string_view{uri}.substr(actor_prefix.size()));
  if (auto j = id.rfind("/journal"); j != std::string::npos && j + 8 == id.size())
    id.resize(j);
  return id.rfind("tool.", 0) != 0 || owns(token, id);
}

void server::attach() {
  std::unique_lock lock{impl_->mu};
  if (impl_->opts.actor_resources && !impl_->attached)
    impl_->add_actor_resources();
  for (auto& [name, t] : impl_->tools)
    impl_->register_tool_kind(*t);
  impl_->attached = true;
}

// --- dispatch ----------------------------------------------------------------

void server::impl::dispatch(std::shared_ptr<exchange> ex) {
  const auto& m = ex->method;
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

} // namespace cairn::mcp
