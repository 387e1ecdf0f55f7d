// SPDX-License-Identifier: Apache-2.0
// The `call` a tool handler sees: progress, logs and questions reach the
// client while it is connected; a task re-running after a restart gets
// quiet no-ops.
#include "internal/call_context.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "cairn/error.hpp"
#include "cairn/schema/validator.hpp"

namespace cairn::mcp {

bool call_context::cancelled() const {
  // Cancelled by notifications/cancelled or tasks/cancel, or the client
  // closed the request's stream, or the node is stopping.
  return (live_ && (live_->cancelled.load() || (live_->ex && live_->ex->cancelled.load())))
         || (stopping_ && stopping_->load()) || ctx_.stopping();
}

void call_context::progress(double done, std::optional<double> total, std::string message) {
  if (progress_token_.is_null() || !ex())
    return;
  json::object p{{"progressToken", progress_token_}, {"progress", done}};
  if (total)
    p["total"] = *total;
  if (!message.empty())
    p["message"] = message;
  ex()->notify("notifications/progress", std::move(p));
}

void call_context::log(std::string level, json::value data, std::string logger) {
  auto e = ex();
  if (!e)
    return;
  auto idx = log_level_index(level);
  if (e->sess && idx < e->sess->log_level.load())
    return;
  json::object p{{"level", level}, {"data", std::move(data)}};
  if (!logger.empty())
    p["logger"] = logger;
  e->notify("notifications/message", std::move(p));
}

void call_context::send(std::string to, std::string type, json::value payload) {
  ctx_.send_raw(std::move(to), std::move(type), json::serialize(payload), payload_format::json,
                std::chrono::milliseconds{0});
}

void call_context::notify(std::string method, json::object params) {
  if (auto e = ex())
    e->notify(method, std::move(params));
}

namespace {

/// What `ask` returns in a stateless round without the answer: the handler
/// should return it (or anything: the round ends with `input_required`).
caf::error no_answer_yet(const json::object& keys) {
  std::string names;
  for (auto& [k, v] : keys)
    names += (names.empty() ? "'" : ", '") + std::string{k} + "'";
  return make_error(errc::input_required,
                    "no answer to " + names + " yet: this round ends with input_required");
}

/// An accepted answer to `elicitation/create` must match the schema the
/// tool asked with (checked by the node's validator, so a handler never
/// sees content of the wrong shape); other answers pass as they are.
caf::expected<json::value> checked_answer(const std::string& method, const json::object& params,
                                          json::value answer) {
  if (method != "elicitation/create" || !answer.is_object())
    return answer;
  auto requested = params.if_contains("requestedSchema");
  auto action = answer.as_object().if_contains("action");
  if (!requested || !action || *action != "accept")
    return answer;
  auto compiled = schema::validator::compile(*requested);
  if (!compiled)
    return make_error(errc::invalid_argument,
                      "the tool's requestedSchema is invalid at " + compiled.error().to_string());
  auto content = answer.as_object().if_contains("content");
  auto r = compiled->validate(content ? *content : json::value(json::object{}));
  if (r.valid())
    return answer;
  std::string why;
  for (const auto& e : r.errors())
    why += (why.empty() ? "" : "; ") + e.to_string();
  return make_error(errc::invalid_argument,
                    "the client's answer to elicitation/create does not match the requested "
                    "schema: "
                      + why);
}

json::object params_of(const json::value& request) {
  if (auto p = request.as_object().if_contains("params"); p && p->is_object())
    return p->as_object();
  return {};
}

std::string method_of(const json::value& request) {
  auto m = request.as_object().if_contains("method");
  return m && m->is_string() ? std::string{m->as_string()} : std::string{};
}

} // namespace

caf::expected<json::value> call_context::ask(std::string key, std::string method,
                                             json::object params) {
  if (!stateless_) {
    auto a = ask_live(method, params);
    if (!a)
      return a;
    return checked_answer(method, params, std::move(*a));
  }
  if (auto a = answers_.if_contains(key))
    return checked_answer(method, params, *a);
  json::object q{{key, json::object{{"method", method}, {"params", std::move(params)}}}};
  unanswered_[key] = q[key];
  return no_answer_yet(q);
}

caf::expected<json::object> call_context::ask_all(json::object requests) {
  json::object out;
  if (stateless_) {
    json::object missing;
    for (auto& [k, v] : requests) {
      if (auto a = answers_.if_contains(k)) {
        auto checked = checked_answer(method_of(v), params_of(v), *a);
        if (!checked)
          return std::move(checked.error());
        out[k] = std::move(*checked);
      } else {
        missing[k] = v;
      }
    }
    if (missing.empty())
      return out;
    for (auto& [k, v] : missing)
      unanswered_[k] = v;
    return no_answer_yet(missing);
  }
  for (auto& [k, v] : requests) {
    auto& o = v.as_object();
    json::object params;
    if (auto p = o.if_contains("params"); p && p->is_object())
      params = p->as_object();
    auto method = std::string{o.at("method").as_string()};
    auto a = ask_live(method, params);
    if (!a)
      return std::move(a.error());
    auto checked = checked_answer(method, params, std::move(*a));
    if (!checked)
      return std::move(checked.error());
    out[k] = std::move(*checked);
  }
  return out;
}

caf::expected<json::value> call_context::ask_live(const std::string& method, json::object params) {
  auto e = ex();
  if (!e)
    return make_error(errc::handler_failed, "the client that made this call is gone");
  struct waiter {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<json::object> answer;
  };
  auto w = std::make_shared<waiter>();
  auto rid = e->request(method, std::move(params), [w](json::object msg) {
    std::lock_guard lock{w->mu};
    w->answer = std::move(msg);
    w->cv.notify_all();
  });
  if (rid.empty())
    return make_error(errc::handler_failed,
                      "cannot reach the client for " + method
                        + ": no stream to it, or too many questions to it are waiting");
  // Whichever way the wait ends, the session forgets the question: an
  // unanswered one must not stay in its map.
  struct forget_guard {
    exchange& ex;
    const std::string& rid;
    ~forget_guard() { ex.forget(rid); }
  } forget{*e, rid};
  std::unique_lock lock{w->mu};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes{5};
  while (!w->answer) {
    if (cancelled())
      return make_error(errc::handler_failed, "the call was cancelled");
    if (std::chrono::steady_clock::now() >= deadline)
      return make_error(errc::handler_failed, "the client did not answer " + method);
    w->cv.wait_for(lock, std::chrono::milliseconds{100});
  }
  if (auto err = w->answer->if_contains("error"))
    return make_error(errc::handler_failed,
                      "the client answered " + method + " with an error: " + json::serialize(*err));
  if (auto res = w->answer->if_contains("result"))
    return *res;
  return make_error(errc::handler_failed, "the client's answer has no result");
}

std::string call_context::traceparent() const {
  // The step's own span id is derived from its envelope (step_span_id).
  const auto& m = ctx_.message();
  trace_context tc;
  if (!parse_traceparent(m.traceparent, tc))
    return {};
  tc.span_id = step_span_id(m.id, m.attempt);
  return format_traceparent(tc);
}

} // namespace cairn::mcp
