// SPDX-License-Identifier: Apache-2.0
// The edges: JSON-RPC framing, the revisions' rules, Streamable HTTP at
// /mcp and stdio. Everything past here is revision-free (server.cpp).
#include <cstring>
#include <random>

#include <spdlog/spdlog.h>

#include "cairn/text_codec.hpp"
#include "server_impl.hpp"

namespace cairn::mcp {

namespace {

const char* const session_revisions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};

bool known_session_revision(std::string_view v) {
  for (auto* r : session_revisions)
    if (v == r)
      return true;
  return false;
}

std::string random_hex(size_t n) {
  static thread_local std::random_device rd;
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i)
    s.push_back(hex[rd() % 16]);
  return s;
}

int64_t steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

http_response json_response(unsigned status, std::string body) {
  http_response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

/// An HTTP-level refusal carrying a JSON-RPC error with a null id.
http_response refuse(unsigned status, int code, std::string_view message) {
  return json_response(status, rpc_error(nullptr, code, message));
}

/// What one JSON-RPC message is, after the shape checks of JSON-RPC 2.0.
struct parsed {
  enum kind { request, notification, response, invalid } what = invalid;
  json::value id;
  std::string method;
  json::object params;
  json::object msg;
  std::string why; ///< for invalid
};

parsed classify(json::value v) {
  parsed p;
  if (!v.is_object()) {
    p.why = "a JSON-RPC message must be an object";
    return p;
  }
  p.msg = std::move(v.as_object());
  auto& o = p.msg;
  auto jr = o.if_contains("jsonrpc");
  if (!jr || !jr->is_string() || jr->as_string() != "2.0") {
    p.why = "'jsonrpc' must be \"2.0\"";
    if (auto id = o.if_contains("id"); id && (id->is_string() || id->is_int64() || id->is_uint64()))
      p.id = *id;
    return p;
  }
  auto id = o.if_contains("id");
  bool has_id = id != nullptr;
  if (has_id && !id->is_string() && !id->is_int64() && !id->is_uint64()) {
    p.why = "'id' must be a string or an integer";
    return p;
  }
  if (has_id)
    p.id = *id;
  auto method = o.if_contains("method");
  if (!method) {
    if (has_id && (o.contains("result") || o.contains("error"))) {
      p.what = parsed::response;
      return p;
    }
    p.why = "a JSON-RPC request needs a 'method'";
    return p;
  }
  if (!method->is_string()) {
    p.why = "'method' must be a string";
    return p;
  }
  p.method = std::string{method->as_string()};
  if (auto params = o.if_contains("params")) {
    if (!params->is_object()) {
      p.why = "'params' must be an object";
      return p;
    }
    p.params = params->as_object();
  }
  p.what = has_id ? parsed::request : parsed::notification;
  return p;
}

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

bool loopback_origin(std::string_view origin) {
  for (std::string_view prefix : {"http://localhost", "https://localhost", "http://127.0.0.1",
                                  "https://127.0.0.1", "http://[::1]", "https://[::1]"}) {
    if (origin.substr(0, prefix.size()) == prefix) {
      auto rest = origin.substr(prefix.size());
      if (rest.empty() || rest.front() == ':' || rest.front() == '/')
        return true;
    }
  }
  return false;
}

/// The `Accept` header lists `type` (or a wildcard for it).
bool accepts(std::string_view accept, std::string_view type) {
  if (accept.empty())
    return false;
  return accept.find(type) != std::string_view::npos
         || accept.find("*/*") != std::string_view::npos;
}

/// Frames messages of one POST's SSE response, with event ids for resumption.
struct sse_writer {
  std::shared_ptr<http_stream> stream;
  std::string stream_id;
  std::atomic<uint64_t> next{0};

  void event(const std::string& data) {
    stream->write("id: " + stream_id + "-" + std::to_string(next.fetch_add(1)) + "\ndata: " + data
                  + "\n\n");
  }
};

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

/// The hostname part of a Host header value.
std::string host_name(std::string_view host) {
  if (!host.empty() && host.front() == '[')
    return std::string{host.substr(0, host.find(']') + 1)};
  return std::string{host.substr(0, host.find(':'))};
}

std::string trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
    v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
    v.remove_suffix(1);
  return std::string{v};
}

constexpr const char* base64_alphabet =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 (RFC 4648, padded).
std::string base64_encode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size())
      n |= static_cast<uint8_t>(in[i + 1]) << 8;
    if (i + 2 < in.size())
      n |= static_cast<uint8_t>(in[i + 2]);
    out.push_back(base64_alphabet[(n >> 18) & 63]);
    out.push_back(base64_alphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? base64_alphabet[(n >> 6) & 63] : '=');
    out.push_back(i + 2 < in.size() ? base64_alphabet[n & 63] : '=');
  }
  return out;
}

/// Strict base64 (RFC 4648, padded); nullopt if malformed.
std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0)
    return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    int v;
    if (c == '=') {
      if (i + 2 < in.size())
        return std::nullopt;
      ++pad;
      continue;
    }
    if (pad)
      return std::nullopt;
    auto at = c ? std::strchr(base64_alphabet, c) : nullptr;
    if (!at)
      return std::nullopt;
    v = static_cast<int>(at - base64_alphabet);
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

} // namespace

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

json::object server::impl::capabilities(const std::string& revision) const {
  if (revision == latest_revision)
    return json::object{
      {"tools", json::object{{"listChanged", true}}},
      {"resources", json::object{{"listChanged", true}, {"subscribe", true}}},
      {"prompts", json::object{{"listChanged", true}}},
      {"completions", json::object{}},
      {"extensions", json::object{{"io.modelcontextprotocol/tasks", json::object{}}}}};
  json::object caps{{"tools", json::object{{"listChanged", true}}},
                    {"resources", json::object{{"subscribe", true}, {"listChanged", true}}},
                    {"prompts", json::object{{"listChanged", true}}},
                    {"completions", json::object{}},
                    {"logging", json::object{}}};
  if (revision == session_revision) // experimental tasks, 2025-11-25 only
    caps["tasks"] =
      json::object{{"list", json::object{}},
                   {"cancel", json::object{}},
                   {"requests", json::object{{"tools", json::object{{"call", json::object{}}}}}}};
  return caps;
}

json::object server::impl::initialize_result(const std::string& revision) const {
  json::object r{{"protocolVersion", revision},
                 {"capabilities", capabilities(revision)},
                 {"serverInfo", json::object{{"name", opts.name},
                                             {"title", "cairn durable actor runtime"},
                                             {"version", opts.version}}}};
  if (!opts.instructions.empty())
    r["instructions"] = opts.instructions;
  return r;
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

std::string server::impl::seal(const json::object& state) const {
  // requestState = base64(json) "." HMAC: a client that edits either half
  // is refused.
  auto body = json::serialize(state);
  return base64_encode(body) + "." + hmac_hex(opts.state_secret, body);
}

std::optional<json::object> server::impl::unseal(std::string_view sealed) const {
  auto dot = sealed.rfind('.');
  if (dot == std::string_view::npos)
    return std::nullopt;
  auto body = base64_decode(sealed.substr(0, dot));
  if (!body
      || !cairn::constant_time_equal(hmac_hex(opts.state_secret, *body), sealed.substr(dot + 1)))
    return std::nullopt;
  boost::system::error_code ec;
  auto v = json::parse(*body, ec);
  if (ec || !v.is_object())
    return std::nullopt;
  return v.as_object();
}

void server::impl::route_response(const std::shared_ptr<session>& s, const json::object& msg) {
  if (!s)
    return;
  std::string rid;
  auto& id = msg.at("id");
  rid = id.is_string() ? std::string{id.as_string()} : json::serialize(id);
  std::function<void(json::object)> fn;
  {
    std::lock_guard lock{s->mu};
    auto it = s->pending.find(rid);
    if (it == s->pending.end())
      return;
    fn = std::move(it->second);
    s->pending.erase(it);
  }
  fn(msg);
}

void server::impl::on_notification(const std::shared_ptr<session>& s, const std::string& method,
                                   const json::object& params) {
  if (method == "notifications/initialized") {
    if (s)
      s->initialized = true;
    return;
  }
  if (method == "notifications/cancelled") {
    auto rid = params.if_contains("requestId");
    if (!rid)
      return;
    std::lock_guard lock{calls_mu};
    for (auto& [id, live] : calls)
      if (live->ex && live->ex->sess == s && live->ex->id == *rid) {
        live->cancelled.store(true);
        live->ex->cancelled.store(true);
      }
    return;
  }
  // notifications/roots/list_changed, notifications/progress, ...: nothing to do.
}

// --- Streamable HTTP ---------------------------------------------------------

void server::handle_http(const http_request& req, http_responder respond) {
  auto& s = *impl_;
  // DNS rebinding: a browser page from a foreign origin must not reach a
  // loopback server.
  auto host = host_name(req.header("host"));
  if (s.loopback_only && !host.empty() && host != "localhost" && host != "127.0.0.1"
      && host != "[::1]")
    return respond(refuse(403, rpc::invalid_request, "invalid Host: " + req.header("host")));
  auto origin = req.header("origin");
  if (!origin.empty() && !loopback_origin(origin)
      && std::find(s.opts.allowed_origins.begin(), s.opts.allowed_origins.end(), origin)
           == s.opts.allowed_origins.end())
    return respond(refuse(403, rpc::invalid_request, "origin " + origin + " is not allowed"));
  bool auth_ok;
  auto token = s.authenticate(req.header("authorization"), auth_ok);
  if (!auth_ok) {
    auto r = refuse(401, rpc::unauthorized, "a valid bearer token is required");
    r.headers.emplace_back("WWW-Authenticate", req.header("authorization").empty()
                                                 ? "Bearer"
                                                 : "Bearer error=\"invalid_token\"");
    return respond(std::move(r));
  }
  auto sid = req.header("mcp-session-id");
  std::shared_ptr<session> sess;
  if (!sid.empty()) {
    std::lock_guard lock{s.sessions_mu};
    auto it = s.sessions.find(sid);
    if (it == s.sessions.end())
      return respond(refuse(404, rpc::invalid_request, "unknown or expired session"));
    sess = it->second;
    sess->last_used_ms.store(steady_ms());
  }
  if (sess && sess->token != token)
    return respond(refuse(403, rpc::invalid_request, "the session belongs to another token"));
  auto header_version = req.header("mcp-protocol-version");

  if (req.method == "DELETE") {
    if (!sess)
      return respond(refuse(400, rpc::invalid_request, "DELETE needs an Mcp-Session-Id"));
    {
      std::lock_guard lock{s.sessions_mu};
      s.sessions.erase(sess->id);
    }
    std::shared_ptr<http_stream> get;
    {
      std::lock_guard lock{sess->mu};
      get = std::move(sess->get_stream);
    }
    if (get)
      get->close();
    http_response r;
    r.status = 204;
    r.content_type = "text/plain";
    return respond(std::move(r));
  }
  if (req.method == "GET") {
    if (!accepts(req.header("accept"), "text/event-stream"))
      return respond(refuse(406, rpc::invalid_request, "GET /mcp needs Accept: text/event-stream"));
    if (!sess)
      return respond(refuse(400, rpc::invalid_request, "GET /mcp needs an Mcp-Session-Id"));
    auto stream = std::make_shared<http_stream>();
    {
      std::lock_guard lock{sess->mu};
      if (sess->get_stream && sess->get_stream->open())
        return respond(
          refuse(409, rpc::invalid_request, "this session already has a GET stream open"));
      sess->get_stream = stream;
    }
    std::weak_ptr<session> weak = sess;
    stream->on_end([weak, stream] {
      if (auto ss = weak.lock()) {
        std::lock_guard lock{ss->mu};
        if (ss->get_stream == stream)
          ss->get_stream.reset();
      }
    });
    stream->write(": stream open\n\n");
    http_response r;
    r.content_type = "text/event-stream";
    r.stream = stream;
    return respond(std::move(r));
  }
  if (req.method != "POST") {
    auto r = refuse(405, rpc::invalid_request, "use POST, GET or DELETE on /mcp");
    r.headers.emplace_back("Allow", "GET, POST, DELETE");
    return respond(std::move(r));
  }
  auto ctype = req.header("content-type");
  if (ctype.find("application/json") == std::string::npos)
    return respond(
      refuse(415, rpc::invalid_request, "POST /mcp needs Content-Type: application/json"));
  auto accept = req.header("accept");
  bool sse_ok = accepts(accept, "text/event-stream");
  if (!accepts(accept, "application/json") || !sse_ok)
    return respond(refuse(406, rpc::invalid_request,
                          "POST /mcp needs Accept: application/json, text/event-stream"));
  if (req.body.size() > s.opts.max_request_bytes)
    return respond(refuse(413, rpc::invalid_request, "request too large"));
  boost::system::error_code ec;
  auto v = json::parse(req.body, ec);
  if (ec)
    return respond(refuse(400, rpc::parse_error, "parse error: " + ec.message()));
  if (v.is_array())
    return respond(refuse(400, rpc::invalid_request,
                          "JSON-RPC batches are not supported; send one message per request"));
  auto p = classify(std::move(v));
  if (p.what == parsed::invalid)
    return respond(json_response(400, rpc_error(p.id, rpc::invalid_request, p.why)));

  // Which revision is this request?
  std::string revision;
  json::object caps;
  // An initialize sent as a 2026-07-28 request is a removed method there.
  bool initializing = p.what == parsed::request && p.method == "initialize"
                      && header_version != latest_revision
                      && meta_revision(p.params) != latest_revision;
  if (initializing) {
    if (sess)
      return respond(json_response(
        400, rpc_error(p.id, rpc::invalid_request, "this session is already initialized")));
    auto pv = p.params.if_contains("protocolVersion");
    if (!pv || !pv->is_string())
      return respond(json_response(
        400, rpc_error(p.id, rpc::invalid_params, "initialize needs a 'protocolVersion'")));
    revision = known_session_revision(pv->as_string()) ? std::string{pv->as_string()}
                                                       : std::string{session_revision};
    if (auto c = p.params.if_contains("capabilities"); c && c->is_object())
      caps = c->as_object();
  } else if (sess) {
    // The header must name the version this session negotiated.
    if (!header_version.empty() && header_version != sess->protocol)
      return respond(refuse(400, rpc::invalid_request,
                            "MCP-Protocol-Version " + header_version + " is not this session's ("
                              + sess->protocol + ")"));
    revision = sess->protocol;
    caps = sess->client_capabilities;
  } else {
    // 2026-07-28: every request stands alone and says who it is.
    auto mv = p.what == parsed::response ? std::string{} : meta_revision(p.params);
    if (header_version.empty() && mv.empty())
      return respond(refuse(400, rpc::invalid_request,
                            "missing Mcp-Session-Id: send initialize first (or use the "
                            "2026-07-28 revision with _meta)"));
    if (known_session_revision(header_version) || known_session_revision(mv))
      return respond(
        refuse(400, rpc::invalid_request, "missing Mcp-Session-Id: send initialize first"));
    auto err = [&](unsigned status, int code, std::string msg, json::value data = nullptr) {
      respond(json_response(status, rpc_error(p.id, code, msg, data)));
    };
    if (header_version.empty())
      return err(400, rpc::header_mismatch, "missing MCP-Protocol-Version header");
    if (p.what == parsed::request) {
      auto m = p.params.if_contains("_meta");
      if (!m || !m->is_object() || mv.empty()
          || !m->as_object().contains("io.modelcontextprotocol/clientCapabilities"))
        return err(400, rpc::invalid_params,
                   "params._meta needs io.modelcontextprotocol/protocolVersion and "
                   "io.modelcontextprotocol/clientCapabilities");
      if (mv != header_version)
        return err(400, rpc::header_mismatch,
                   "MCP-Protocol-Version header " + header_version + " does not match _meta " + mv);
      if (mv != latest_revision)
        return err(400, rpc::unsupported_version, "unsupported protocol version: " + mv,
                   json::object{{"supported", json::array{latest_revision}}, {"requested", mv}});
      if (!s.known_method(p.method))
        return err(404, rpc::method_not_found, "method not found: " + p.method);
      if (auto why = s.check_routing_headers(req, p.method, p.params); !why.empty())
        return err(400, rpc::header_mismatch, why);
    } else if (header_version != latest_revision) {
      return err(
        400, rpc::unsupported_version, "unsupported protocol version: " + header_version,
        json::object{{"supported", json::array{latest_revision}}, {"requested", header_version}});
    }
    revision = latest_revision;
    caps = meta_capabilities(p.params);
  }

  if (p.what == parsed::response) {
    s.route_response(sess, p.msg);
    http_response r;
    r.status = 202;
    r.content_type = "text/plain";
    return respond(std::move(r));
  }
  if (p.what == parsed::notification) {
    s.on_notification(sess, p.method, p.params);
    http_response r;
    r.status = 202;
    r.content_type = "text/plain";
    return respond(std::move(r));
  }

  if (initializing) {
    auto ns = std::make_shared<session>();
    ns->id = random_hex(32);
    ns->protocol = revision;
    ns->client_capabilities = caps;
    if (auto ci = p.params.if_contains("clientInfo"); ci && ci->is_object())
      ns->client_info = ci->as_object();
    ns->token = token;
    ns->last_used_ms.store(steady_ms());
    std::shared_ptr<session> evicted;
    {
      std::lock_guard lock{s.sessions_mu};
      // Abandoned sessions must not pile up: past the cap, the least
      // recently used one ends (its client gets 404 and starts again).
      if (s.sessions.size() >= s.opts.max_sessions) {
        auto oldest = s.sessions.end();
        for (auto it = s.sessions.begin(); it != s.sessions.end(); ++it)
          if (it->first != "stdio"
              && (oldest == s.sessions.end()
                  || it->second->last_used_ms.load() < oldest->second->last_used_ms.load()))
            oldest = it;
        if (oldest != s.sessions.end()) {
          evicted = oldest->second;
          s.sessions.erase(oldest);
        }
      }
      s.sessions[ns->id] = ns;
    }
    if (evicted) {
      std::shared_ptr<http_stream> get;
      {
        std::lock_guard lock{evicted->mu};
        get = std::move(evicted->get_stream);
      }
      if (get)
        get->close();
    }
    auto r = json_response(200, rpc_result(p.id, s.initialize_result(revision)));
    r.headers.emplace_back("Mcp-Session-Id", ns->id);
    return respond(std::move(r));
  }

  auto ex = std::make_shared<exchange>();
  ex->id = p.id;
  ex->method = p.method;
  ex->params = std::move(p.params);
  ex->sess = sess;
  ex->revision = revision;
  ex->client_capabilities = std::move(caps);
  ex->token = token;
  // Requests that may send messages before their response get an SSE
  // stream; the rest a plain JSON body.
  if (ex->stateless() && ex->method == "subscriptions/listen")
    return s.listen(ex, std::move(respond));
  bool streaming = ex->method == "tools/call";
  if (streaming && ex->stateless()) {
    // Notifications reach a stateless client only on this response: stream
    // when it asked for progress or logs, else answer with one JSON body.
    auto m = ex->params.if_contains("_meta");
    streaming = m && m->is_object()
                && (m->as_object().contains("progressToken")
                    || m->as_object().contains("io.modelcontextprotocol/logLevel"));
  }
  if (!streaming) {
    auto responder = std::make_shared<http_responder>(std::move(respond));
    bool stateless = ex->stateless();
    ex->sink = [responder, stateless](std::string msg, bool final) {
      if (!final)
        return;
      if (msg.empty()) { // cancelled: nothing to say
        http_response r;
        r.status = 204;
        r.content_type = "text/plain";
        return (*responder)(std::move(r));
      }
      unsigned status = 200;
      if (stateless && msg.find("\"error\"") != std::string::npos) {
        boost::system::error_code pec;
        auto parsed_msg = json::parse(msg, pec);
        if (!pec && parsed_msg.is_object() && parsed_msg.as_object().contains("error"))
          status = http_status_of(parsed_msg.at("error").at("code").to_number<int>());
      }
      (*responder)(json_response(status, std::move(msg)));
    };
    return s.dispatch(ex);
  }
  auto writer = std::make_shared<sse_writer>();
  writer->stream = std::make_shared<http_stream>();
  writer->stream_id = random_hex(12);
  ex->can_stream = true;
  ex->sink = [writer](std::string msg, bool final) {
    if (!msg.empty())
      writer->event(msg);
    if (final)
      writer->stream->close();
  };
  std::weak_ptr<exchange> weak = ex;
  writer->stream->on_end([weak] {
    if (auto e = weak.lock(); e && !e->done.load())
      e->cancelled.store(true); // the client went away
  });
  // A priming event with an id and a retry hint lets a client resume.
  writer->stream->write("id: " + writer->stream_id + "-p\nretry: 1000\ndata: \n\n");
  http_response r;
  r.content_type = "text/event-stream";
  r.stream = writer->stream;
  respond(std::move(r));
  s.dispatch(ex);
}

// --- stdio and transport-free messages ---------------------------------------

void server::handle_stdio(const std::string& line, std::function<void(std::string)> write) {
  handle_message(line, std::move(write));
}

void server::handle_message(const std::string& body, std::function<void(std::string)> write) {
  auto& s = *impl_;
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec)
    return write(rpc_error(nullptr, rpc::parse_error, "parse error: " + ec.message()));
  if (v.is_array())
    return write(rpc_error(nullptr, rpc::invalid_request,
                           "JSON-RPC batches are not supported; send one message at a time"));
  auto p = classify(std::move(v));
  if (p.what == parsed::invalid)
    return write(rpc_error(p.id, rpc::invalid_request, p.why));
  // One connection, one session: the first one made on this server.
  std::shared_ptr<session> sess;
  {
    std::lock_guard lock{s.sessions_mu};
    auto it = s.sessions.find("stdio");
    if (it != s.sessions.end())
      sess = it->second;
  }
  if (p.what == parsed::response)
    return s.route_response(sess, p.msg);
  if (p.what == parsed::notification)
    return s.on_notification(sess, p.method, p.params);
  std::string revision;
  json::object caps;
  if (p.method == "initialize") {
    auto pv = p.params.if_contains("protocolVersion");
    if (!pv || !pv->is_string())
      return write(rpc_error(p.id, rpc::invalid_params, "initialize needs a 'protocolVersion'"));
    revision = known_session_revision(pv->as_string()) ? std::string{pv->as_string()}
                                                       : std::string{session_revision};
    auto ns = std::make_shared<session>();
    ns->id = "stdio";
    ns->protocol = revision;
    if (auto c = p.params.if_contains("capabilities"); c && c->is_object())
      ns->client_capabilities = c->as_object();
    ns->write = write;
    {
      std::lock_guard lock{s.sessions_mu};
      s.sessions["stdio"] = ns;
    }
    return write(rpc_result(p.id, s.initialize_result(revision)));
  }
  auto mv = meta_revision(p.params);
  if (!mv.empty() && mv != latest_revision && !known_session_revision(mv))
    return write(rpc_error(p.id, rpc::invalid_request, "unsupported protocol version: " + mv));
  if (mv == latest_revision || !sess) {
    if (mv.empty() && p.method != "ping")
      return write(rpc_error(p.id, rpc::invalid_request,
                             "send initialize first (or use the 2026-07-28 revision with _meta)"));
    revision = latest_revision;
    caps = meta_capabilities(p.params);
    sess = nullptr;
  } else {
    revision = sess->protocol;
    caps = sess->client_capabilities;
  }
  auto ex = std::make_shared<exchange>();
  ex->id = p.id;
  ex->method = p.method;
  ex->params = std::move(p.params);
  ex->sess = sess;
  ex->revision = revision;
  ex->client_capabilities = std::move(caps);
  ex->can_stream = true;
  ex->sink = [write](std::string msg, bool) {
    if (!msg.empty())
      write(std::move(msg));
  };
  s.dispatch(ex);
}

http_handler route_mcp(server& srv, http_handler api) {
  return [&srv, api = std::move(api)](const http_request& req, http_responder respond) {
    auto path = std::string_view{req.target}.substr(0, req.target.find('?'));
    if (path == "/mcp")
      return srv.handle_http(req, std::move(respond));
    api(req, std::move(respond));
  };
}

} // namespace cairn::mcp
