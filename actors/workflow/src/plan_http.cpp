// SPDX-License-Identifier: Apache-2.0
// HTTP for plans and approvals (docs/orchestration.md, "Surfaces"): submit,
// read, list, cancel, decide, and a plan's events as Server-Sent Events.
// Waiting (a synchronous submission, an event stream) happens on a thread
// of its own, bounded in number, never on an HTTP I/O thread.
#include <atomic>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <thread>

#include <boost/json.hpp>

#include "cairn/error.hpp"
#include "cairn/runtime.hpp"
#include "cairn/text_codec.hpp"
#include "cairn/workflow/canonical_json.hpp"
#include "internal/engine_impl.hpp"

namespace cairn::workflow {

namespace {

http_response problem(unsigned status, std::string code, std::string detail,
                      json::object extra = {}) {
  json::object o{{"type", "about:blank"},
                 {"title", code},
                 {"status", status},
                 {"code", code},
                 {"detail", detail}};
  for (auto& [k, v] : extra)
    o[k] = v;
  return http_response{status, "application/problem+json", json::serialize(o), {}, nullptr};
}

http_response error_response(const caf::error& err) {
  auto detail = render(err);
  switch (code_of(err)) {
    case errc::not_found: return problem(404, "not_found", detail);
    case errc::conflict: return problem(409, "conflict", detail);
    case errc::invalid_argument:
    case errc::invalid_payload: return problem(400, "invalid_argument", detail);
    case errc::busy: return problem(429, "busy", detail);
    case errc::shutting_down: return problem(503, "shutting_down", detail);
    default: return problem(500, "internal", detail);
  }
}

http_response ok(unsigned status, const json::value& v) {
  return http_response{status, "application/json", json::serialize(v), {}, nullptr};
}

std::string query_param(const std::string& target, const std::string& name) {
  auto q = target.find('?');
  if (q == std::string::npos)
    return {};
  std::string_view rest{target};
  rest.remove_prefix(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      auto v = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
      return v ? *v : std::string{};
    }
    if (amp == std::string_view::npos)
      break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

class router {
public:
  router(engine& e, std::vector<auth::token> tokens, http_handler next)
    : e_(e), tokens_(std::move(tokens)), next_(std::move(next)) {}

  void operator()(const http_request& req, const http_responder& respond) {
    auto path = req.target.substr(0, req.target.find('?'));
    const std::string plans = "/api/v1/plans", approvals = "/api/v1/approvals";
    bool is_plans = path == plans || path.rfind(plans + "/", 0) == 0;
    bool is_approvals = path == approvals || path.rfind(approvals + "/", 0) == 0;
    if (!is_plans && !is_approvals)
      return next_(req, respond);
    auto scope = req.method == "GET" ? "read" : is_approvals ? "approve" : "write";
    caller who;
    who.traceparent = req.header("traceparent");
    if (auto denied = authorize(req, scope, who))
      return respond(*denied);
    if (is_approvals)
      return approvals_route(req, path.substr(approvals.size()), who, respond);
    return plans_route(req, path.substr(plans.size()), who, respond);
  }

private:
  /// Checks the token for `scope`; fills `who`.
  std::optional<http_response> authorize(const http_request& req, const std::string& scope,
                                         caller& who) const {
    if (tokens_.empty())
      return std::nullopt; // an open (loopback) node: anonymous, every tool
    auto authorization = req.header("authorization");
    auto secret = auth::bearer_secret(authorization);
    if (!secret)
      return problem(401, "unauthorized", "send Authorization: Bearer <token>");
    const auto* token = auth::find_token(tokens_, *secret);
    if (!token)
      return problem(401, "unauthorized", "unknown token");
    if (!auth::grants(*token, scope))
      return problem(403, "forbidden", "this token lacks the '" + scope + "' scope");
    // A name for the journal, never the secret: a digest of it.
    who.name = "token-" + sha256_hex("cairn token\n" + token->secret).substr(0, 16);
    if (!token->tools.empty())
      who.tools = token->tools;
    return std::nullopt;
  }

  void plans_route(const http_request& req, const std::string& rest, const caller& who,
                   const http_responder& respond) {
    if (rest.empty()) {
      if (req.method == "POST")
        return submit(req, who, respond);
      if (req.method != "GET")
        return respond(problem(405, "method_not_allowed", "this resource allows GET, POST"));
      int64_t since = 0;
      size_t limit = 50;
      try {
        if (auto s = query_param(req.target, "since"); !s.empty())
          since = std::stoll(s);
        if (auto l = query_param(req.target, "limit"); !l.empty())
          limit = std::stoul(l);
      } catch (const std::exception&) {
        return respond(problem(400, "invalid_parameter", "since and limit must be integers"));
      }
      auto list = e_.plans(query_param(req.target, "status"), since, std::max<size_t>(limit, 1));
      if (!list)
        return respond(error_response(list.error()));
      return respond(ok(200, json::object{{"plans", std::move(*list)}}));
    }
    // /{id}, /{id}/cancel, /{id}/events, with id `plan/<key>` or `<key>`
    auto tail = rest.substr(1);
    std::string action;
    for (std::string suffix : {"/cancel", "/events"})
      if (tail.size() > suffix.size()
          && tail.compare(tail.size() - suffix.size(), suffix.size(), suffix) == 0) {
        action = suffix.substr(1);
        tail.resize(tail.size() - suffix.size());
      }
    auto decoded = percent_decode(tail);
    if (!decoded)
      return respond(problem(400, "invalid_argument", "malformed percent-encoding"));
    auto id = decoded->rfind("plan/", 0) == 0 ? *decoded : "plan/" + *decoded;
    if (action == "cancel") {
      if (req.method != "POST")
        return respond(problem(405, "method_not_allowed", "this resource allows POST"));
      std::string reason;
      boost::system::error_code ec;
      auto body = json::parse(req.body.empty() ? "{}" : req.body, ec);
      if (!ec && body.is_object())
        if (auto r = body.as_object().if_contains("reason"); r && r->is_string())
          reason = std::string{r->as_string()};
      return e_.cancel_async(id, who.name, reason, [e = &e_, id, respond](caf::error err) {
        if (err)
          return respond(error_response(err));
        auto p = e->plan(id);
        respond(p ? ok(202, *p) : error_response(p.error()));
      });
    }
    if (req.method != "GET")
      return respond(problem(405, "method_not_allowed", "this resource allows GET"));
    if (action == "events")
      return events(id, req, respond);
    auto p = e_.plan(id);
    return respond(p ? ok(200, *p) : error_response(p.error()));
  }

  void submit(const http_request& req, const caller& who, const http_responder& respond) {
    boost::system::error_code ec;
    auto doc = json::parse(req.body, ec);
    if (ec)
      return respond(problem(400, "malformed_json", "the body is not JSON: " + ec.message()));
    // Answered once the plan is durable, from the commit thread: no I/O
    // thread waits for the disk.
    e_.submit_async(doc, who, [e = &e_, respond](caf::expected<engine::submission> s) {
      if (!s)
        return respond(error_response(s.error()));
      answer_submission(*e, std::move(*s), respond);
    });
  }

  static void answer_submission(engine& e, engine::submission s, const http_responder& respond) {
    if (!s.report.ok()) {
      json::array problems;
      for (const auto& p : s.report.problems)
        problems.push_back(json::object{
          {"step", p.step}, {"path", p.path}, {"code", p.code}, {"message", p.message}});
      auto detail = std::to_string(problems.size()) + " problem" + (problems.size() == 1 ? "" : "s")
                    + " in the plan; nothing ran";
      return respond(problem(422, "plan_invalid", detail,
                             json::object{{"plan", s.id}, {"problems", std::move(problems)}}));
    }
    auto id = s.id;
    // A plan another node owns (a keyed id) is not waited for here: the
    // answer says where it stands, and its Location is served anywhere.
    auto hold = s.sync && e.here(id) ? e.hold_waiter() : nullptr;
    if (!hold) {
      auto p = e.plan(id);
      json::object body = p && p->size() > 2 ? *p : s.view;
      auto r = ok(final_state(body["state"].as_string()) ? 201 : 202, body);
      r.headers.emplace_back("Location", "/api/v1/plans/" + id);
      return respond(std::move(r));
    }
    // Every step allowed and the risk low: answer with the finished plan
    // if it ends within the sync budget (else 202 with where it stands).
    std::thread([e = &e, hold, id, respond] {
      auto p = e->wait(id, e->sync_wait());
      if (!p)
        return respond(error_response(p.error()));
      bool done = final_state((*p)["state"].as_string());
      auto r = ok(done ? 201 : 202, *p);
      r.headers.emplace_back("Location", "/api/v1/plans/" + id);
      respond(std::move(r));
    }).detach();
  }

  /// The plan's journal as Server-Sent Events (`id` = journal sequence,
  /// `event` = type, `data` = the event), from `Last-Event-ID` on, until
  /// the plan ends.
  void events(const std::string& id, const http_request& req, const http_responder& respond) {
    auto p = e_.plan(id);
    if (!p)
      return respond(error_response(p.error()));
    auto hold = e_.hold_waiter();
    if (!hold)
      return respond(problem(503, "busy", "too many plan streams are open; retry later"));
    uint64_t from = 1;
    if (auto last = req.header("last-event-id"); !last.empty())
      try {
        from = std::stoull(last) + 1;
      } catch (const std::exception&) {
      }
    auto stream = std::make_shared<http_stream>();
    http_response r{200, "text/event-stream", {}, {{"Cache-Control", "no-cache"}}, stream};
    respond(std::move(r));
    auto* e = &e_;
    std::thread([e, hold, id, stream, from] {
      auto next = from;
      std::mutex mu;
      std::condition_variable cv;
      bool changed = true;
      auto h = e->watch(id, [&] {
        std::lock_guard lock{mu};
        changed = true;
        cv.notify_one();
      });
      for (;;) {
        {
          std::unique_lock lock{mu};
          cv.wait_for(lock, std::chrono::seconds{1}, [&] { return changed; });
          changed = false;
        }
        bool ended = false;
        auto err = e->events(
          id, next, 1000, [&](uint64_t seq, std::string_view type, std::string_view data) {
            stream->write("id: " + std::to_string(seq) + "\nevent: " + std::string{type}
                          + "\ndata: " + std::string{data} + "\n\n");
            next = seq + 1;
            if (type == finished_event || type == rejected_event)
              ended = true;
          });
        if (err || ended || !stream->open() || e->stopping())
          break;
      }
      e->unwatch(h);
      stream->close();
    }).detach();
  }

  void approvals_route(const http_request& req, const std::string& rest, const caller& who,
                       const http_responder& respond) {
    if (rest.empty()) {
      if (req.method != "GET")
        return respond(problem(405, "method_not_allowed", "this resource allows GET"));
      auto list = e_.approvals(200);
      return respond(list ? ok(200, json::object{{"approvals", std::move(*list)}})
                          : error_response(list.error()));
    }
    auto id = percent_decode(rest.substr(1));
    if (!id)
      return respond(problem(400, "invalid_argument", "malformed percent-encoding"));
    if (req.method == "GET") {
      auto a = e_.approval(*id);
      return respond(a ? ok(200, *a) : error_response(a.error()));
    }
    if (req.method != "POST")
      return respond(problem(405, "method_not_allowed", "this resource allows GET, POST"));
    boost::system::error_code ec;
    auto body = json::parse(req.body, ec);
    if (ec || !body.is_object())
      return respond(problem(400, "malformed_json",
                             "send {\"decision\": \"approve\"|\"deny\", \"arguments_sha256\": "
                             "\"...\", \"comment\": \"...\"}"));
    auto& b = body.as_object();
    auto get = [&](const char* k) {
      auto v = b.if_contains(k);
      return v && v->is_string() ? std::string{v->as_string()} : std::string{};
    };
    auto decision = get("decision");
    auto sha = get("arguments_sha256");
    if ((decision != "approve" && decision != "deny") || sha.empty())
      return respond(problem(400, "invalid_argument",
                             "decision must be approve or deny, with the arguments_sha256 "
                             "of the arguments shown"));
    e_.decide_async(
      *id, decision, sha, who.name, get("comment"),
      [e = &e_, id = *id, respond](caf::error err) {
        if (err)
          return respond(error_response(err));
        auto a = e->approval(id);
        respond(a ? ok(202, *a) : error_response(a.error()));
      },
      who.traceparent);
  }

  engine& e_;
  std::vector<auth::token> tokens_;
  http_handler next_;
};

} // namespace

http_handler route_plans(engine& e, std::vector<auth::token> tokens, http_handler next) {
  auto r = std::make_shared<router>(e, std::move(tokens), std::move(next));
  return [r](const http_request& req, http_responder respond) { (*r)(req, respond); };
}

} // namespace cairn::workflow
