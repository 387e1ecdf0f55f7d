// SPDX-License-Identifier: Apache-2.0
// stdio: one JSON-RPC message per line, one implicit session per server.
#include "internal/revisions.hpp"
#include "internal/server_impl.hpp"

namespace cairn::mcp {

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
  auto sess = s.sessions.find("stdio");
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
    s.sessions.insert(ns);
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

} // namespace cairn::mcp
