// SPDX-License-Identifier: Apache-2.0
// The `call` a tool handler sees: progress, logs and questions reach the
// client while it is connected; a task re-running after a restart gets
// quiet no-ops.
#include "internal/call_context.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "cairn/error.hpp"

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

} // namespace

caf::expected<json::value> call_context::ask(std::string key, std::string method,
                                             json::object params) {
  if (!stateless_)
    return ask_live(method, std::move(params));
  if (auto a = answers_.if_contains(key))
    return *a;
  json::object q{{key, json::object{{"method", method}, {"params", std::move(params)}}}};
  unanswered_[key] = q[key];
  return no_answer_yet(q);
}

caf::expected<json::object> call_context::ask_all(json::object requests) {
  json::object out;
  if (stateless_) {
    json::object missing;
    for (auto& [k, v] : requests) {
      if (auto a = answers_.if_contains(k))
        out[k] = *a;
      else
        missing[k] = v;
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
    auto a = ask_live(std::string{o.at("method").as_string()}, std::move(params));
    if (!a)
      return std::move(a.error());
    out[k] = std::move(*a);
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
  if (!e->request(method, std::move(params), [w](json::object msg) {
        std::lock_guard lock{w->mu};
        w->answer = std::move(msg);
        w->cv.notify_all();
      }))
    return make_error(errc::handler_failed,
                      "cannot reach the client for " + method + " on this transport");
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

} // namespace cairn::mcp
