// SPDX-License-Identifier: Apache-2.0
// Streamable HTTP at /mcp: POST (JSON or an SSE stream per request), GET
// (the session's standalone stream), DELETE (ends a session), and the
// checks every request passes first (Host, Origin, bearer token).
#include <algorithm>

#include "internal/revisions.hpp"
#include "internal/secure_random.hpp"
#include "internal/server_impl.hpp"

namespace cairn::mcp {

namespace {

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

/// The hostname part of a Host header value.
std::string host_name(std::string_view host) {
  if (!host.empty() && host.front() == '[')
    return std::string{host.substr(0, host.find(']') + 1)};
  return std::string{host.substr(0, host.find(':'))};
}

} // namespace

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
    sess = s.sessions.find(sid);
    if (!sess)
      return respond(refuse(404, rpc::invalid_request, "unknown or expired session"));
  }
  if (sess && sess->token != token)
    return respond(refuse(403, rpc::invalid_request, "the session belongs to another token"));
  auto header_version = req.header("mcp-protocol-version");

  if (req.method == "DELETE") {
    if (!sess)
      return respond(refuse(400, rpc::invalid_request, "DELETE needs an Mcp-Session-Id"));
    s.sessions.erase(sess->id); // ends it: its stream and waiting requests
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
  } else if (auto proxied = req.header("cairn-session-revision");
             !proxied.empty() && !req.header("cairn-proxied-by").empty()
             && known_session_revision(proxied) && p.what == parsed::request
             && p.method.rfind("tasks/", 0) == 0) {
    // A task request of a session held by another member of the cluster,
    // sent on to this node because it owns the task. Tasks are bound to the
    // token, not the session, so the session's revision is all it needs.
    revision = proxied;
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
    ns->id = secure_random_hex(32);
    ns->protocol = revision;
    ns->client_capabilities = caps;
    if (auto ci = p.params.if_contains("clientInfo"); ci && ci->is_object())
      ns->client_info = ci->as_object();
    ns->token = token;
    // Past the cap, the least recently used session ends.
    s.sessions.insert(ns);
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
    // The sink runs inside the exchange's own reply or fail: `self` is alive.
    auto* self = ex.get();
    ex->sink = [responder, stateless, self](std::string msg, bool final) {
      if (!final)
        return;
      if (msg.empty()) { // cancelled: nothing to say
        http_response r;
        r.status = 204;
        r.content_type = "text/plain";
        return (*responder)(std::move(r));
      }
      unsigned status = 200;
      if (auto code = self->error_code.load(); stateless && code != 0)
        status = http_status_of(code);
      (*responder)(json_response(status, std::move(msg)));
    };
    return s.dispatch(ex);
  }
  auto writer = std::make_shared<sse_writer>();
  writer->stream = std::make_shared<http_stream>();
  writer->stream_id = secure_random_hex(12);
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

http_handler route_mcp(server& srv, http_handler api) {
  return [&srv, api = std::move(api)](const http_request& req, http_responder respond) {
    auto path = std::string_view{req.target}.substr(0, req.target.find('?'));
    if (path == "/mcp")
      return srv.handle_http(req, std::move(respond));
    api(req, std::move(respond));
  };
}

} // namespace cairn::mcp
