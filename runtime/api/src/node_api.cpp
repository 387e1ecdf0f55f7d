// SPDX-License-Identifier: Apache-2.0
// The node's HTTP API: the router and authorization. Transport-free: it
// maps an http_request to a response; the endpoints are in
// read_endpoints.cpp, write_endpoints.cpp and metrics.cpp.
#include "cairn/node_api.hpp"

#include <boost/json.hpp>

#include "cairn/auth.hpp"
#include "cairn/text_codec.hpp"
#include "internal/node_api_impl.hpp"

namespace cairn {

namespace api {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size()
         && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The scope a request needs: redrive/discard are admin, sending is write,
// everything else (reads) is read.
std::string needed_scope(const http_request& req, const std::string& path) {
  if (path.rfind("/api/v1/dead-letters/", 0) == 0 && req.method != "GET")
    return "admin";
  if (path == "/api/v1/cluster/drain" || path == "/api/v1/cluster/forget")
    return "admin";
  if (req.method != "GET")
    return "write";
  return "read";
}

} // namespace

node_api::node_api(runtime& rt, node_api_options opts)
  : rt_(rt), opts_(std::move(opts)), started_(std::chrono::steady_clock::now()),
    reads_(std::make_unique<read_pool>(opts_.read_threads, opts_.read_queue)) {}

void node_api::handle(const http_request& req, const http_responder& respond) {
  auto path = req.target.substr(0, req.target.find('?'));
  const std::string prefix = "/api/v1/actors/", suffix = "/messages";
  if (req.method == "POST" && path.rfind(prefix, 0) == 0
      && path.size() > prefix.size() + suffix.size() && ends_with(path, suffix)) {
    if (auto denied = authorize(req, path))
      return respond(*denied);
    auto id =
      percent_decode(path.substr(prefix.size(), path.size() - prefix.size() - suffix.size()));
    if (!id)
      return respond(bad_encoding(path));
    return post_message(req, *id, respond);
  }
  if (path == "/api/v1/messages:batch") {
    if (req.method != "POST")
      return respond(not_allowed("POST"));
    if (auto denied = authorize(req, path))
      return respond(*denied);
    return post_batch(req, respond);
  }
  // Redrive and discard answer from the commit callback, like a message.
  const std::string dead_prefix = "/api/v1/dead-letters/", redrive_suffix = "/redrive";
  bool redrive = req.method == "POST" && path.rfind(dead_prefix, 0) == 0
                 && path.size() > dead_prefix.size() + redrive_suffix.size()
                 && ends_with(path, redrive_suffix);
  bool discard = req.method == "DELETE" && path.rfind(dead_prefix, 0) == 0
                 && path.size() > dead_prefix.size()
                 && path.find('/', dead_prefix.size()) == std::string::npos;
  if (redrive || discard) {
    if (auto denied = authorize(req, path))
      return respond(*denied);
    auto raw = path.substr(dead_prefix.size(), path.size() - dead_prefix.size()
                                                 - (redrive ? redrive_suffix.size() : 0));
    auto id = percent_decode(raw);
    if (!id)
      return respond(bad_encoding(path));
    return redrive ? redrive_async(*id, respond) : discard_async(*id, respond);
  }
  // Actor lists and summaries rebuild state from storage, dead-letter pages
  // and traces scan: never on an I/O thread (authorized here first, so a
  // stranger cannot fill the pool's queue).
  if (req.method == "GET"
      && (path == "/api/v1/actors" || path.rfind(prefix, 0) == 0 || path == "/api/v1/dead-letters"
          || path.rfind("/api/v1/traces", 0) == 0)) {
    if (auto denied = authorize(req, path))
      return respond(*denied);
    if (!reads_->submit([this, req, respond] { respond((*this)(req)); }))
      respond(
        problem(503, "busy", "too many reads are waiting; retry later", {{"Retry-After", "1"}}));
    return;
  }
  respond((*this)(req));
}

http_response node_api::operator()(const http_request& req) {
  auto q = req.target.find('?');
  std::string path = req.target.substr(0, q);
  auto parsed = parse_query(q == std::string::npos ? std::string_view{}
                                                   : std::string_view{req.target}.substr(q + 1));
  if (path != "/healthz" && path != "/readyz") {
    if (auto denied = authorize(req, path))
      return *denied;
  }
  if (!parsed.error.empty())
    return problem(400, "invalid_parameter", parsed.error);
  const auto& params = parsed.values;
  if (path == "/healthz")
    return only(req, "GET", [&] { return http_response{200, "text/plain", "ok\n", {}, nullptr}; });
  if (path == "/readyz")
    return only(req, "GET", [&] { return readiness(); });
  if (path == "/metrics")
    return only(req, "GET", [&] { return metrics(); });
  if (path == "/api/v1/status")
    return only(req, "GET", [&] { return status(); });
  if (path == "/api/v1/cluster")
    return only(req, "GET", [&] {
      if (!opts_.cluster_status)
        return problem(404, "not_clustered",
                       "this node runs alone (no cluster_etcd setting): it has no cluster");
      return http_response{200, "application/json", opts_.cluster_status(), {}, nullptr};
    });
  if (path == "/api/v1/tools")
    return only(req, "GET", [&] {
      if (!opts_.tools)
        return problem(404, "not_found", "this node serves no MCP tools");
      return http_response{200, "application/json", opts_.tools(), {}, nullptr};
    });
  if (path.rfind("/api/v1/bench/", 0) == 0)
    return only(req, "GET", [&] {
      auto run = path.substr(std::string_view{"/api/v1/bench/"}.size());
      auto text = opts_.bench_report ? opts_.bench_report(run) : std::string{};
      if (text.empty())
        return problem(404, "not_found",
                       "no message of bench run '" + run
                         + "' has been handled on this node (it keeps its 32 newest runs)");
      return http_response{200, "application/json", std::move(text), {}, nullptr};
    });
  if (path == "/api/v1/cluster/drain" || path == "/api/v1/cluster/forget")
    return only(req, "POST", [&] {
      bool drain = path == "/api/v1/cluster/drain";
      auto& act = drain ? opts_.cluster_drain : opts_.cluster_forget;
      if (!act)
        return problem(404, "not_clustered",
                       "this node runs alone (no cluster_etcd setting): it has no cluster");
      boost::system::error_code ec;
      auto body = boost::json::parse(req.body, ec);
      auto* node = !ec && body.is_object() ? body.as_object().if_contains("node") : nullptr;
      if (node == nullptr || !node->is_string())
        return problem(400, "invalid_body", "expected {\"node\": \"<node id>\"}");
      std::string id{node->as_string()};
      if (auto why = act(id); !why.empty())
        return drain ? problem(404, "unknown_node", why) : problem(409, "cannot_forget", why);
      return http_response{202,
                           "application/json",
                           boost::json::serialize(boost::json::object{
                             {"node", id}, {drain ? "draining" : "forgotten", true}}),
                           {},
                           nullptr};
    });
  if (path == "/api/v1/timers")
    return only(req, "GET", [&] { return timers(params); });
  if (path == "/api/v1/dead-letters")
    return only(req, "GET", [&] { return dead_letters(params); });
  if (path.rfind("/api/v1/dead-letters/", 0) == 0)
    return dead_letter_route(req, path);
  if (path.rfind("/api/v1/actors/", 0) == 0)
    return actor_route(req, path, params);
  if (path == "/api/v1/actors")
    return only(req, "GET", [&] { return actors(params); });
  if (path == "/api/v1/topics")
    return only(req, "GET", [&] { return topics(); });
  if (path == "/api/v1/traces")
    return only(req, "GET", [&] {
      return params.count("idempotency_key") != 0 ? trace_by_key(params) : trace_list(params);
    });
  const std::string traces_prefix = "/api/v1/traces/";
  if (path.rfind(traces_prefix, 0) == 0) {
    auto rest = path.substr(traces_prefix.size());
    const std::string steps_suffix = "/steps";
    if (ends_with(rest, steps_suffix)) {
      rest.resize(rest.size() - steps_suffix.size());
      return only(req, "GET", [&] { return trace(rest, {}); });
    }
    return only(req, "GET", [&] { return trace_tree(rest); });
  }
  const std::string topics_prefix = "/api/v1/topics/";
  const std::string subs_suffix = "/subscriptions";
  if (path.rfind(topics_prefix, 0) == 0 && path.size() > topics_prefix.size() + subs_suffix.size()
      && ends_with(path, subs_suffix)) {
    auto name = percent_decode(
      path.substr(topics_prefix.size(), path.size() - topics_prefix.size() - subs_suffix.size()));
    if (!name)
      return bad_encoding(path);
    return only(req, "GET", [&] { return subscriptions(*name); });
  }
  return problem(404, "not_found", "no route for " + path);
}

http_response node_api::dead_letter_route(const http_request& req, const std::string& path) {
  auto rest = path.substr(std::string_view{"/api/v1/dead-letters/"}.size());
  const std::string redrive_suffix = "/redrive";
  if (ends_with(rest, redrive_suffix)) {
    auto id = percent_decode(rest.substr(0, rest.size() - redrive_suffix.size()));
    if (!id)
      return bad_encoding(path);
    return only(req, "POST", [&] { return redrive(*id); });
  }
  auto id = percent_decode(rest);
  if (!id)
    return bad_encoding(path);
  if (req.method == "GET")
    return dead_letter(*id);
  if (req.method == "DELETE")
    return discard(*id);
  return not_allowed("GET, DELETE");
}

http_response node_api::actor_route(const http_request& req, const std::string& path,
                                    const query& q) {
  auto rest = path.substr(std::string_view{"/api/v1/actors/"}.size());
  for (std::string suffix : {"/messages", "/journal"}) {
    if (ends_with(rest, suffix)) {
      auto id = percent_decode(rest.substr(0, rest.size() - suffix.size()));
      if (!id)
        return bad_encoding(path);
      if (suffix == "/messages")
        return not_allowed("POST"); // POSTs are answered by handle()
      return only(req, "GET", [&] { return journal(*id, q); });
    }
  }
  auto id = percent_decode(rest);
  if (!id)
    return bad_encoding(path);
  return only(req, "GET", [&] { return actor(*id); });
}

std::optional<http_response> node_api::authorize(const http_request& req,
                                                 const std::string& path) const {
  if (opts_.tokens.empty())
    return std::nullopt;
  auto authorization = req.header("authorization"); // `secret` points into it
  auto secret = auth::bearer_secret(authorization);
  if (!secret)
    return problem(401, "unauthorized", "send Authorization: Bearer <token>",
                   {{"WWW-Authenticate", "Bearer realm=\"cairn\""}});
  const auto* token = auth::find_token(opts_.tokens, *secret);
  if (token == nullptr)
    return problem(401, "unauthorized", "unknown token",
                   {{"WWW-Authenticate", "Bearer realm=\"cairn\", error=\"invalid_token\""}});
  auto scope = needed_scope(req, path);
  if (!auth::grants(*token, scope))
    return problem(403, "forbidden", "this token lacks the '" + scope + "' scope");
  return std::nullopt;
}

http_response node_api::bad_encoding(const std::string& path) {
  return problem(400, "invalid_argument",
                 "malformed percent-encoding in path " + path + ": use %XX with two hex digits");
}

http_response node_api::not_allowed(const std::string& allow) {
  return problem(405, "method_not_allowed", "this resource allows " + allow, {{"Allow", allow}});
}

} // namespace api

http_handler make_node_api(runtime& rt, node_api_options opts) {
  auto impl = std::make_shared<api::node_api>(rt, std::move(opts));
  return [impl](const http_request& req, http_responder respond) { impl->handle(req, respond); };
}

} // namespace cairn
