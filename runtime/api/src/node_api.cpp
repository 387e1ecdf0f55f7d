// SPDX-License-Identifier: Apache-2.0
// The node's HTTP API: routes, JSON bodies and RFC 9457 problems over the
// runtime's C++ API. Transport-free: it maps an http_request to a response.
#include "cairn/node_api.hpp"

#include <chrono>
#include <cstdio>
#include <map>
#include <optional>

#include <boost/json.hpp>

#include "cairn/runtime.hpp"

namespace cairn {

namespace json = boost::json;

namespace {

http_response problem(unsigned status, std::string code, std::string detail,
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
  json::object o;
  o["type"] = "about:blank";
  o["title"] = code;
  o["status"] = status;
  o["code"] = code;
  o["detail"] = detail;
  return http_response{status, "application/problem+json", json::serialize(o), std::move(headers),
                       nullptr};
}

http_response json_response(unsigned status, const json::value& v) {
  return http_response{status, "application/json", json::serialize(v), {}, nullptr};
}

/// Maps a runtime error to its HTTP status and problem.
http_response from_error(const caf::error& err) {
  auto detail = render(err);
  switch (code_of(err)) {
    case errc::busy: return problem(429, "busy", detail, {{"Retry-After", "1"}});
    case errc::shutting_down: return problem(503, "shutting_down", detail, {{"Retry-After", "1"}});
    case errc::storage_write_failed:
      return problem(503, "storage_write_failed", detail, {{"Retry-After", "1"}});
    case errc::not_found: return problem(404, "not_found", detail);
    case errc::unknown_actor_kind: return problem(404, "unknown_actor_kind", detail);
    case errc::invalid_argument: return problem(400, "invalid_argument", detail);
    case errc::conflict: return problem(409, "conflict", detail);
    default: return problem(500, to_string(code_of(err)), detail);
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// Decodes `%XX` escapes (and `+` as a space in queries); nothing for a
/// malformed escape (`%`, `%z1`, `%-1`), which the caller answers with a 400.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size())
        return std::nullopt;
      auto hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
      continue;
    }
    out.push_back(plus_is_space && s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

/// A parsed query string, or why it is malformed.
struct query_params {
  std::map<std::string, std::string> values;
  std::string error;
};

query_params parse_query(std::string_view q) {
  query_params out;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    auto eq = part.find('=');
    auto name = percent_decode(part.substr(0, eq), true);
    auto value = eq == std::string_view::npos ? std::optional<std::string>{std::string{}}
                                              : percent_decode(part.substr(eq + 1), true);
    if (!name || !value) {
      out.error = "malformed percent-encoding in query parameter '" + std::string{part} + "'";
      return out;
    }
    if (!name->empty() && !out.values.emplace(*name, *value).second) {
      out.error = "query parameter '" + *name + "' is given more than once";
      return out;
    }
    if (amp == std::string_view::npos)
      break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

std::string base64(std::string_view in) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8)
                 | static_cast<uint8_t>(in[i + 2]);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += table[n & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t n = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

/// Parses an integer query parameter from `min` to `max` (plain decimal
/// digits only: no sign, space or overflow), or fails with a 400.
bool number_param(const std::map<std::string, std::string>& q, const std::string& name,
                  uint64_t fallback, uint64_t min, uint64_t max, uint64_t& out,
                  http_response& error) {
  auto it = q.find(name);
  if (it == q.end() || it->second.empty()) {
    out = fallback;
    return true;
  }
  const auto& text = it->second;
  uint64_t v = 0;
  bool ok = text.size() <= 20 && text.find_first_not_of("0123456789") == std::string::npos;
  for (size_t i = 0; ok && i < text.size(); ++i) {
    auto digit = static_cast<uint64_t>(text[i] - '0');
    ok = v <= (UINT64_MAX - digit) / 10;
    v = v * 10 + digit;
  }
  if (!ok || v < min || v > max) {
    error = problem(400, "invalid_parameter",
                    "query parameter '" + name + "' must be an integer from " + std::to_string(min)
                      + " to " + std::to_string(max));
    return false;
  }
  out = v;
  return true;
}

std::string fmt_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string trace_id_of(const envelope& env) {
  trace_context tc;
  return parse_traceparent(env.traceparent, tc) ? tc.trace_id : std::string{};
}

json::object dead_letter_json(const dead_letter& dl, bool full) {
  json::object o;
  o["id"] = dl.env.id;
  o["to"] = dl.env.to;
  o["type"] = dl.env.type;
  o["error"] = dl.error;
  o["attempts"] = dl.attempts;
  o["failed_ms"] = dl.failed_ms;
  o["trace_id"] = trace_id_of(dl.env);
  if (full) {
    o["from"] = dl.env.from;
    o["traceparent"] = dl.env.traceparent;
    o["idempotency_key"] = dl.env.idempotency_key;
    o["created_ms"] = dl.env.created_ms;
    json::array times;
    for (auto t : dl.attempt_ms)
      times.push_back(t);
    o["attempt_ms"] = std::move(times);
    if (dl.env.format == static_cast<uint8_t>(payload_format::json))
      o["payload"] = dl.env.payload;
    else
      o["payload_base64"] = base64(dl.env.payload);
    if (!dl.raw.empty())
      o["raw_base64"] = base64(dl.raw);
  }
  return o;
}

class node_api {
public:
  node_api(runtime& rt, node_api_options opts)
    : rt_(rt), opts_(std::move(opts)), started_(std::chrono::steady_clock::now()) {}

  /// Answers at once, except sending a message (see post_message).
  void handle(const http_request& req, const http_responder& respond) {
    auto path = req.target.substr(0, req.target.find('?'));
    const std::string prefix = "/api/v1/actors/", suffix = "/messages";
    if (req.method == "POST" && path.rfind(prefix, 0) == 0
        && path.size() > prefix.size() + suffix.size()
        && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
      if (auto denied = authorize(req, path))
        return respond(*denied);
      auto id =
        percent_decode(path.substr(prefix.size(), path.size() - prefix.size() - suffix.size()));
      if (!id)
        return respond(bad_encoding(path));
      return post_message(req, *id, respond);
    }
    respond((*this)(req));
  }

  http_response operator()(const http_request& req) {
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
    const auto& query = parsed.values;
    if (path == "/healthz")
      return only(req, "GET", [&] {
        return http_response{200, "text/plain", "ok\n", {}, nullptr};
      });
    if (path == "/readyz")
      return only(req, "GET", [&] {
        if (!rt_.ready())
          return problem(503, "not_ready", "the node is recovering or stopping",
                         {{"Retry-After", "1"}});
        auto health = rt_.store().health();
        if (!health.writable)
          return problem(503, "storage_unwritable",
                         "storage is not writable (" + health.reason
                           + "); new work is refused until it recovers (free disk space)",
                         {{"Retry-After", "1"}});
        return http_response{200, "text/plain", "ready\n", {}, nullptr};
      });
    if (path == "/metrics")
      return only(req, "GET", [&] { return metrics(); });
    if (path == "/api/v1/status")
      return only(req, "GET", [&] { return status(); });
    if (path == "/api/v1/timers")
      return only(req, "GET", [&] { return timers(query); });
    if (path == "/api/v1/dead-letters")
      return only(req, "GET", [&] { return dead_letters(query); });
    const std::string dl_prefix = "/api/v1/dead-letters/";
    if (path.rfind(dl_prefix, 0) == 0) {
      auto rest = path.substr(dl_prefix.size());
      const std::string redrive_suffix = "/redrive";
      if (rest.size() > redrive_suffix.size()
          && rest.compare(rest.size() - redrive_suffix.size(), redrive_suffix.size(),
                          redrive_suffix)
               == 0) {
        auto decoded = percent_decode(rest.substr(0, rest.size() - redrive_suffix.size()));
        if (!decoded)
          return bad_encoding(path);
        auto id = *decoded;
        return only(req, "POST", [&] {
          if (auto err = rt_.redrive(id))
            return from_error(err);
          json::object o;
          o["id"] = id;
          o["redriven"] = true;
          return json_response(200, o);
        });
      }
      auto decoded = percent_decode(rest);
      if (!decoded)
        return bad_encoding(path);
      auto id = *decoded;
      if (req.method == "GET") {
        auto dl = rt_.find_dead_letter(id);
        if (!dl)
          return from_error(dl.error());
        return json_response(200, dead_letter_json(*dl, true));
      }
      if (req.method == "DELETE") {
        if (auto err = rt_.discard(id))
          return from_error(err);
        return http_response{204, "application/json", "", {}, nullptr};
      }
      return not_allowed("GET, DELETE");
    }
    const std::string actors_prefix = "/api/v1/actors/";
    if (path.rfind(actors_prefix, 0) == 0) {
      auto rest = path.substr(actors_prefix.size());
      for (std::string suffix : {"/messages", "/journal"}) {
        if (rest.size() > suffix.size()
            && rest.compare(rest.size() - suffix.size(), suffix.size(), suffix) == 0) {
          auto id = percent_decode(rest.substr(0, rest.size() - suffix.size()));
          if (!id)
            return bad_encoding(path);
          if (suffix == "/messages")
            return not_allowed("POST"); // POSTs are answered by handle()
          return only(req, "GET", [&] { return journal(*id, query); });
        }
      }
      auto id = percent_decode(rest);
      if (!id)
        return bad_encoding(path);
      return only(req, "GET", [&] { return actor(*id); });
    }
    if (path == "/api/v1/actors")
      return only(req, "GET", [&] { return actors(query); });
    if (path == "/api/v1/topics")
      return only(req, "GET", [&] { return topics(); });
    const std::string topics_prefix = "/api/v1/topics/";
    const std::string subs_suffix = "/subscriptions";
    if (path.rfind(topics_prefix, 0) == 0 && path.size() > topics_prefix.size() + subs_suffix.size()
        && path.compare(path.size() - subs_suffix.size(), subs_suffix.size(), subs_suffix) == 0) {
      auto name = percent_decode(
        path.substr(topics_prefix.size(), path.size() - topics_prefix.size() - subs_suffix.size()));
      if (!name)
        return bad_encoding(path);
      return only(req, "GET", [&] { return subscriptions(*name); });
    }
    return problem(404, "not_found", "no route for " + path);
  }

private:
  // The scope a request needs: redrive/discard are admin, sending is write,
  // everything else (reads) is read.
  static std::string needed_scope(const http_request& req, const std::string& path) {
    if (path.rfind("/api/v1/dead-letters/", 0) == 0 && req.method != "GET")
      return "admin";
    if (req.method != "GET")
      return "write";
    return "read";
  }

  static bool grants(const api_token& t, const std::string& scope) {
    if (t.scopes.count("admin"))
      return true;
    if (scope == "read" && t.scopes.count("write"))
      return true;
    return t.scopes.count(scope) != 0;
  }

  // Compares without an early exit, so response time does not leak a prefix.
  static bool same_secret(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size(); ++i)
      diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
    return diff == 0;
  }

  std::optional<http_response> authorize(const http_request& req, const std::string& path) {
    if (opts_.tokens.empty())
      return std::nullopt;
    auto auth = req.header("authorization");
    const std::string bearer = "Bearer ";
    if (auth.rfind(bearer, 0) != 0)
      return problem(401, "unauthorized", "send Authorization: Bearer <token>",
                     {{"WWW-Authenticate", "Bearer realm=\"cairn\""}});
    auto secret = std::string_view{auth}.substr(bearer.size());
    const api_token* token = nullptr;
    for (const auto& t : opts_.tokens)
      if (same_secret(t.secret, secret))
        token = &t;
    if (token == nullptr)
      return problem(401, "unauthorized", "unknown token",
                     {{"WWW-Authenticate", "Bearer realm=\"cairn\", error=\"invalid_token\""}});
    auto scope = needed_scope(req, path);
    if (!grants(*token, scope))
      return problem(403, "forbidden", "this token lacks the '" + scope + "' scope");
    return std::nullopt;
  }

  template <class F>
  http_response only(const http_request& req, const char* method, F f) {
    if (req.method != method)
      return not_allowed(method);
    return f();
  }

  static http_response bad_encoding(const std::string& path) {
    return problem(400, "invalid_argument",
                   "malformed percent-encoding in path " + path + ": use %XX with two hex digits");
  }

  static http_response not_allowed(const std::string& allow) {
    return problem(405, "method_not_allowed", "this resource allows " + allow, {{"Allow", allow}});
  }

  http_response status() {
    auto s = rt_.stats();
    json::object o;
    o["node_id"] = opts_.node_id;
    o["version"] = opts_.version;
    o["durability"] = opts_.durability;
    o["ready"] = rt_.ready();
    o["storage_writable"] = s.storage_writable;
    if (!s.storage_writable)
      o["storage_reason"] = s.storage_unwritable_reason;
    o["uptime_s"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    json::object t;
    t["accepted"] = s.accepted;
    t["duplicates"] = s.duplicates;
    t["busy"] = s.busy;
    t["processed"] = s.processed;
    t["failed"] = s.failed;
    t["retried"] = s.retried;
    t["dead_lettered"] = s.dead_lettered;
    t["pending"] = s.pending;
    t["active_actors"] = s.active;
    t["passivations"] = s.passivations;
    t["timers"] = s.timers;
    t["commits"] = s.commits;
    o["totals"] = std::move(t);
    return json_response(200, o);
  }

  http_response metrics() {
    auto s = rt_.stats();
    std::string out;
    auto metric = [&](const char* name, const char* type, const char* help, uint64_t value) {
      out += std::string{"# HELP "} + name + " " + help + "\n# TYPE " + name + " " + type + "\n"
             + name + " " + std::to_string(value) + "\n";
    };
    metric("cairn_accepted_total", "counter", "Envelopes accepted from outside.", s.accepted);
    metric("cairn_duplicates_total", "counter", "Accepts answered from the dedupe store.",
           s.duplicates);
    metric("cairn_busy_total", "counter", "Accepts refused because the node was saturated.",
           s.busy);
    metric("cairn_processed_total", "counter", "Steps committed.", s.processed);
    metric("cairn_failed_total", "counter", "Handler failures (each attempt).", s.failed);
    metric("cairn_retried_total", "counter", "Failures scheduled for another attempt.", s.retried);
    metric("cairn_dead_lettered_total", "counter", "Envelopes moved to dead letters.",
           s.dead_lettered);
    metric("cairn_commits_total", "counter", "Storage writes by the commit coordinator.",
           s.commits);
    metric("cairn_commit_requests_total", "counter", "Commit requests in those writes.",
           s.commit_ops);
    metric("cairn_passivations_total", "counter", "Activations passivated.", s.passivations);
    metric("cairn_mailbox_depth", "gauge", "Envelopes waiting in mailboxes.", s.pending);
    metric("cairn_active_actors", "gauge", "Activations in memory.", s.active);
    metric("cairn_timers_pending", "gauge", "Durable timers not yet fired.", s.timers);
    metric("cairn_storage_writable", "gauge",
           "1 while storage takes writes, 0 while it does not (a full disk).",
           s.storage_writable ? 1 : 0);
    metric("cairn_storage_write_failures_total", "counter",
           "Storage writes that failed or were refused while storage was unwritable.",
           s.storage_write_failures);
    metric("cairn_storage_outages_total", "counter", "Times storage became unwritable.",
           s.storage_outages);
    metric("cairn_actors_stopped", "gauge",
           "Actors stopped because their journal or snapshot cannot be replayed.",
           s.stopped_actors);
    auto family = [&](const char* name, const char* help, auto field) {
      out += std::string{"# HELP "} + name + " " + help + "\n# TYPE " + name + " counter\n";
      for (const auto& [kind, ks] : s.by_kind)
        out += std::string{name} + "{kind=\"" + kind + "\"} " + std::to_string(ks.*field) + "\n";
    };
    family("cairn_kind_accepted_total", "Envelopes accepted from outside, by actor kind.",
           &kind_stats::accepted);
    family("cairn_kind_processed_total", "Steps committed, by actor kind.", &kind_stats::processed);
    family("cairn_kind_failed_total", "Handler failures, by actor kind.", &kind_stats::failed);
    family("cairn_kind_retried_total", "Failures scheduled for another attempt, by actor kind.",
           &kind_stats::retried);
    family("cairn_kind_dead_lettered_total", "Envelopes dead-lettered, by actor kind.",
           &kind_stats::dead_lettered);
    auto hist = [&](const char* name, const char* help, const histogram& h) {
      out += std::string{"# HELP "} + name + " " + help + "\n# TYPE " + name + " histogram\n";
      for (size_t i = 0; i < h.bounds.size(); ++i)
        out += std::string{name} + "_bucket{le=\"" + fmt_double(h.bounds[i]) + "\"} "
               + std::to_string(h.counts[i]) + "\n";
      out += std::string{name} + "_bucket{le=\"+Inf\"} " + std::to_string(h.count) + "\n";
      out += std::string{name} + "_sum " + fmt_double(h.sum) + "\n";
      out += std::string{name} + "_count " + std::to_string(h.count) + "\n";
    };
    hist("cairn_commit_batch_size", "Commit requests per storage write.", s.commit.batch_size);
    hist("cairn_commit_latency_seconds", "Duration of one storage write, fsync included.",
         s.commit.latency_seconds);
    for (const auto& [name, value] : rt_.store().properties()) {
      std::string m = "cairn_" + name;
      for (auto& c : m)
        if (c == '.' || c == '-')
          c = '_';
      metric(m.c_str(), "gauge", ("RocksDB property " + name + ".").c_str(), value);
    }
    return http_response{200, "text/plain; version=0.0.4", std::move(out), {}, nullptr};
  }

  static json::object summary_json(const runtime::actor_summary& a) {
    json::object o;
    o["id"] = a.id;
    o["kind"] = std::string{kind_of(a.id)};
    o["active"] = a.active;
    o["mailbox_depth"] = a.mailbox_depth;
    o["journal_length"] = a.journal_length;
    o["snapshot_seq"] = a.snapshot_seq;
    o["head_attempts"] = a.head_attempts;
    o["last_error"] = a.last_error.empty() ? json::value(nullptr) : json::value(a.last_error);
    o["status"] = a.stopped ? "stopped" : (a.active ? "active" : "idle");
    if (a.stopped)
      o["stop_reason"] = a.stop_reason;
    if (!a.state_error.empty())
      o["state_error"] = a.state_error;
    if (!a.state_json.empty()) {
      boost::system::error_code ec;
      auto state = json::parse(a.state_json, ec);
      o["state"] = ec ? json::value(a.state_json) : std::move(state);
    }
    return o;
  }

  http_response actor(const std::string& id) {
    if (!valid_actor_id(id))
      return problem(400, "invalid_argument", "invalid actor id '" + id + "': expected kind/key");
    auto a = rt_.describe(id);
    if (!a)
      return from_error(a.error());
    return json_response(200, summary_json(*a));
  }

  http_response actors(const std::map<std::string, std::string>& q) {
    uint64_t limit = 0;
    http_response err;
    if (!number_param(q, "limit", 100, 1, 1'000, limit, err))
      return err;
    auto kind = q.count("kind") ? q.at("kind") : std::string{};
    auto cursor = q.count("cursor") ? q.at("cursor") : std::string{};
    auto ids = rt_.actor_ids(kind, cursor, limit);
    if (!ids)
      return from_error(ids.error());
    json::array arr;
    for (const auto& id : *ids)
      if (auto a = rt_.describe(id))
        arr.push_back(summary_json(*a));
    json::object o;
    o["actors"] = std::move(arr);
    o["next_cursor"] =
      !ids->empty() && ids->size() >= limit ? json::value(ids->back()) : json::value(nullptr);
    return json_response(200, o);
  }

  http_response topics() {
    auto ts = rt_.topics(1'000);
    if (!ts)
      return from_error(ts.error());
    json::array arr;
    for (const auto& t : *ts) {
      json::object o;
      o["name"] = t.name;
      o["events"] = t.events;
      o["subscriptions"] = t.subscriptions.size();
      arr.push_back(std::move(o));
    }
    json::object o;
    o["topics"] = std::move(arr);
    return json_response(200, o);
  }

  http_response subscriptions(const std::string& name) {
    auto ts = rt_.topics(100'000);
    if (!ts)
      return from_error(ts.error());
    for (const auto& t : *ts) {
      if (t.name != name)
        continue;
      json::array arr;
      for (const auto& [subscriber, offset] : t.subscriptions) {
        json::object o;
        o["subscriber"] = subscriber;
        o["next_offset"] = offset;
        o["lag"] = t.events > offset ? t.events - offset : 0;
        arr.push_back(std::move(o));
      }
      json::object o;
      o["topic"] = name;
      o["events"] = t.events;
      o["subscriptions"] = std::move(arr);
      return json_response(200, o);
    }
    return problem(404, "not_found", "no topic " + name);
  }

  http_response timers(const std::map<std::string, std::string>& q) {
    uint64_t limit = 0;
    http_response err;
    if (!number_param(q, "limit", 100, 1, 10'000, limit, err))
      return err;
    auto ts = rt_.timers(limit);
    if (!ts)
      return from_error(ts.error());
    json::array arr;
    for (const auto& t : *ts) {
      json::object o;
      o["due_ms"] = t.due_ms;
      o["to"] = t.to;
      o["type"] = t.type;
      o["envelope_id"] = t.envelope_id;
      arr.push_back(std::move(o));
    }
    json::object o;
    o["timers"] = std::move(arr);
    return json_response(200, o);
  }

  http_response dead_letters(const std::map<std::string, std::string>& q) {
    uint64_t limit = 0;
    http_response err;
    if (!number_param(q, "limit", 100, 1, 1'000, limit, err))
      return err;
    auto kind = q.count("kind") ? q.at("kind") : std::string{};
    auto cursor = q.count("cursor") ? q.at("cursor") : std::string{};
    auto error_text = q.count("error") ? q.at("error") : std::string{};
    uint64_t since = 0, until = 0;
    if (!number_param(q, "since", 0, 0, UINT64_MAX, since, err)
        || !number_param(q, "until", UINT64_MAX, 0, UINT64_MAX, until, err))
      return err;
    json::array arr;
    std::string last;
    // Filtered pages may need several reads; each read resumes after the last id.
    while (arr.size() < limit) {
      auto page = rt_.dead_letters(limit, cursor);
      if (!page)
        return from_error(page.error());
      if (page->empty())
        break;
      for (const auto& dl : *page) {
        cursor = dl.env.id;
        if ((!kind.empty() && kind_of(dl.env.to) != kind)
            || (!error_text.empty() && dl.error.find(error_text) == std::string::npos)
            || static_cast<uint64_t>(dl.failed_ms) < since
            || static_cast<uint64_t>(dl.failed_ms) > until)
          continue;
        arr.push_back(dead_letter_json(dl, false));
        last = dl.env.id;
        if (arr.size() >= limit)
          break;
      }
    }
    json::object o;
    o["dead_letters"] = std::move(arr);
    o["next_cursor"] = !last.empty() && o["dead_letters"].as_array().size() >= limit
                         ? json::value(last)
                         : json::value(nullptr);
    return json_response(200, o);
  }

  http_response journal(const std::string& id, const std::map<std::string, std::string>& q) {
    if (!valid_actor_id(id))
      return problem(400, "invalid_argument", "invalid actor id '" + id + "': expected kind/key");
    uint64_t from = 0, limit = 0;
    http_response err;
    if (!number_param(q, "from", 1, 0, UINT64_MAX - 1, from, err)
        || !number_param(q, "limit", 100, 1, 10'000, limit, err))
      return err;
    json::array events;
    uint64_t next = from;
    auto rerr = rt_.read_journal(
      id, from, limit, [&](uint64_t seq, std::string_view type, std::string_view payload) {
        json::object e;
        e["seq"] = seq;
        e["type"] = type;
        e["size"] = payload.size();
        e["payload_base64"] = base64(payload);
        events.push_back(std::move(e));
        next = seq + 1;
      });
    if (rerr)
      return from_error(rerr);
    json::object o;
    o["actor"] = id;
    o["events"] = std::move(events);
    o["next_from"] = next;
    return json_response(200, o);
  }

  /// Builds the envelope of a POSTed message, or the problem with the body.
  std::optional<http_response> message_envelope(const http_request& req, const std::string& id,
                                                envelope& env) {
    auto ctype = req.header("content-type");
    if (ctype.rfind("application/json", 0) != 0)
      return problem(415, "unsupported_media_type",
                     "send the message as application/json, not '" + ctype + "'");
    json::stream_parser parser;
    boost::system::error_code ec;
    auto used = parser.write(req.body.data(), req.body.size(), ec);
    if (!ec)
      parser.finish(ec);
    if (ec)
      return problem(400, "malformed_json",
                     "body is not valid JSON at byte " + std::to_string(used) + ": "
                       + ec.message());
    auto body = parser.release();
    if (!body.is_object())
      return problem(400, "invalid_body",
                     "body must be a JSON object with \"type\" and \"payload\"");
    auto& obj = body.as_object();
    auto* type = obj.if_contains("type");
    if (type == nullptr || !type->is_string() || type->as_string().empty())
      return problem(400, "invalid_body", "\"type\" must be a non-empty string");
    auto* key = obj.if_contains("idempotency_key");
    if (key != nullptr && !key->is_string())
      return problem(400, "invalid_body", "\"idempotency_key\" must be a string");
    env.from = "external";
    env.to = id;
    env.type = std::string{type->as_string()};
    env.format = static_cast<uint8_t>(payload_format::json);
    auto* payload = obj.if_contains("payload");
    env.payload = payload != nullptr ? json::serialize(*payload) : "null";
    if (key != nullptr)
      env.idempotency_key = std::string{key->as_string()};
    env.traceparent = req.header("traceparent");
    return std::nullopt;
  }

  /// Answers 202 from the commit callback, once the envelope is durable:
  /// no thread waits for the disk meanwhile.
  void post_message(const http_request& req, const std::string& id, const http_responder& respond) {
    if (!valid_actor_id(id))
      return respond(
        problem(400, "invalid_argument", "invalid actor id '" + id + "': expected kind/key"));
    envelope env;
    if (auto bad = message_envelope(req, id, env))
      return respond(*bad);
    rt_.accept_async(std::move(env), [respond](caf::expected<std::string> r) {
      if (!r)
        return respond(from_error(r.error()));
      json::object o;
      o["id"] = *r;
      respond(json_response(202, o));
    });
  }

  runtime& rt_;
  node_api_options opts_;
  std::chrono::steady_clock::time_point started_;
};

} // namespace

http_handler make_node_api(runtime& rt, node_api_options opts) {
  auto api = std::make_shared<node_api>(rt, std::move(opts));
  return [api](const http_request& req, http_responder respond) { api->handle(req, respond); };
}

} // namespace cairn
