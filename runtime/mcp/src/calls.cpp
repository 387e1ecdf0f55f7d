// SPDX-License-Identifier: Apache-2.0
// Tool calls: each call is a durable actor `tool.<name>/<call id>` whose
// mailbox holds the call and whose journal holds its outcome, so a task's
// status and result survive a restart of the node.
#include <chrono>
#include <random>
#include <thread>

#include <spdlog/spdlog.h>

#include "cairn/actor.hpp"
#include "cairn/error.hpp"
#include "cairn/text_codec.hpp"
#include "server_impl.hpp"

namespace cairn::mcp {

namespace {

constexpr const char* call_type = "mcp.call/v1";
constexpr const char* cancel_type = "mcp.cancel/v1";
constexpr const char* finished_type = "mcp.call.finished/v1";
constexpr const char* input_type = "mcp.input/v1";            // tasks/update's answers
constexpr const char* input_event_type = "mcp.call.input/v1"; // waiting for answers
constexpr const char* answers_type = "mcp.call.answers/v1";   // some answers arrived

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string fmt_ms(int64_t ms) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%03d", static_cast<int>(ms));
  return buf;
}

std::string iso8601(int64_t ms) {
  std::time_t secs = ms / 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string{buf} + "." + fmt_ms(ms % 1000) + "Z";
}

/// A time-ordered id with 120 unpredictable bits (task ids are capabilities:
/// they must not be guessable).
std::string new_call_id() {
  static thread_local std::random_device rd; // /dev/urandom
  static const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  auto t = static_cast<uint64_t>(wall_ms());
  std::string id;
  for (int i = 0; i < 9; ++i) {
    id.insert(id.begin(), digits[t % 36]);
    t /= 36;
  }
  for (int part = 0; part < 2; ++part) {
    uint64_t r = (static_cast<uint64_t>(rd()) << 32) | rd();
    for (int i = 0; i < 12; ++i) {
      id.push_back(digits[r % 36]);
      r /= 36;
    }
  }
  return id;
}

/// Thrown by `ask` in a stateless round: the handler stops here and the
/// round ends with an `input_required` result.
struct input_needed {
  json::object requests; ///< key -> {method, params}
};

} // namespace

/// The `call` a handler sees: live plumbing (progress, logs, questions to
/// the client) when the caller is connected, quiet no-ops when it is not
/// (a task re-running after a restart).
class call_context final : public call {
public:
  call_context(context& ctx, const json::object& args, std::string key,
               std::shared_ptr<live_call> live, json::object caps, json::value progress_token,
               json::object answers, bool stateless)
    : ctx_(ctx), args_(args), key_(std::move(key)), live_(std::move(live)), caps_(std::move(caps)),
      progress_token_(std::move(progress_token)), answers_(std::move(answers)),
      stateless_(stateless) {}

  const json::object& arguments() const override { return args_; }
  const std::string& idempotency_key() const override { return key_; }
  const json::object& client_capabilities() const override { return caps_; }

  bool cancelled() const override {
    // Cancelled by notifications/cancelled or tasks/cancel, or the client
    // closed the request's stream, or the node is stopping.
    return (live_ && (live_->cancelled.load() || (live_->ex && live_->ex->cancelled.load())))
           || (stopping_ && stopping_->load()) || ctx_.stopping();
  }

  void set_stopping(const std::atomic<bool>* flag) { stopping_ = flag; }

  void progress(double done, std::optional<double> total, std::string message) override {
    if (progress_token_.is_null() || !ex())
      return;
    json::object p{{"progressToken", progress_token_}, {"progress", done}};
    if (total)
      p["total"] = *total;
    if (!message.empty())
      p["message"] = message;
    ex()->notify("notifications/progress", std::move(p));
  }

  void log(std::string level, json::value data, std::string logger) override {
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

  void send(std::string to, std::string type, json::value payload) override {
    ctx_.send_raw(std::move(to), std::move(type), json::serialize(payload), payload_format::json,
                  std::chrono::milliseconds{0});
  }

  void notify(std::string method, json::object params) override {
    if (auto e = ex())
      e->notify(method, std::move(params));
  }

  caf::expected<json::value> ask(std::string key, std::string method,
                                 json::object params) override {
    if (stateless_) {
      if (auto a = answers_.if_contains(key))
        return *a;
      throw input_needed{
        json::object{{key, json::object{{"method", method}, {"params", std::move(params)}}}}};
    }
    return ask_live(method, std::move(params));
  }

  caf::expected<json::object> ask_all(json::object requests) override {
    json::object out;
    if (stateless_) {
      json::object missing;
      for (auto& [k, v] : requests) {
        if (auto a = answers_.if_contains(k))
          out[k] = *a;
        else
          missing[k] = v;
      }
      if (!missing.empty())
        throw input_needed{std::move(missing)};
      return out;
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

  caf::expected<json::value> ask_live(const std::string& method, json::object params) {
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
      return make_error(errc::handler_failed, "the client answered " + method
                                                + " with an error: " + json::serialize(*err));
    if (auto res = w->answer->if_contains("result"))
      return *res;
    return make_error(errc::handler_failed, "the client's answer has no result");
  }

private:
  std::shared_ptr<exchange> ex() const { return live_ ? live_->ex : nullptr; }

  context& ctx_;
  const json::object& args_;
  std::string key_;
  std::shared_ptr<live_call> live_;
  json::object caps_;
  json::value progress_token_;
  json::object answers_;
  bool stateless_;
  const std::atomic<bool>* stopping_ = nullptr;
};

/// The durable actor of one call. Its journal: `input` (the call waits
/// for answers: a task in `input_required`), `answers` (some arrived) and
/// `finished` (completed, failed or cancelled, with the result).
class call_actor final : public durable_actor {
public:
  call_actor(server::impl& srv, std::string tool) : srv_(srv), tool_(std::move(tool)) {}

  caf::error handle(context& ctx, const envelope& msg) override {
    if (msg.type == input_type)
      ack(ctx, msg.id); // whatever happens, tasks/update hears back
    if (finished())
      return {}; // a late message: the outcome is already journaled
    boost::system::error_code ec;
    auto payload = json::parse(msg.payload, ec);
    if (ec || !payload.is_object())
      return make_error(errc::invalid_argument, "malformed tool call payload");
    auto& p = payload.as_object();
    if (msg.type == cancel_type) {
      finish(ctx, "cancelled", json::object{}, {});
      return {};
    }
    if (msg.type == input_type) {
      // Answers for a waiting task: keep them; run again once none is missing.
      if (state_.empty())
        return {};
      auto& answers = state_["answers"].as_object();
      auto& pending = state_["pending"].as_object();
      if (auto ir = p.if_contains("inputResponses"); ir && ir->is_object())
        for (auto& [k, v] : ir->as_object())
          if (pending.erase(k) > 0)
            answers[k] = v;
      ctx.emit_raw(answers_type,
                   json::serialize(json::object{
                     {"answers", answers}, {"pending", pending}, {"updated_ms", wall_ms()}}));
      ack(ctx, msg.id);
      if (!pending.empty())
        return {};
      json::object call = state_;
      return run(ctx, msg, call);
    }
    if (msg.type != call_type)
      return make_error(errc::invalid_argument, "a tool call actor does not accept " + msg.type);
    return run(ctx, msg, p);
  }

  caf::error apply(std::string_view type, std::string_view payload) override {
    boost::system::error_code ec;
    auto v = json::parse(payload, ec);
    if (ec || !v.is_object())
      return make_error(errc::corrupt_record,
                        "tool call event " + std::string{type} + " is not a JSON object");
    auto& o = v.as_object();
    if (type == finished_type) {
      outcome_ = std::move(o);
    } else if (type == input_event_type) {
      state_ = std::move(o);
    } else if (type == answers_type) {
      if (!state_.empty()) {
        state_["answers"] = o["answers"];
        state_["pending"] = o["pending"];
        state_["updated_ms"] = o["updated_ms"];
      }
    } else {
      return make_error(errc::corrupt_record, "unknown tool call event type " + std::string{type});
    }
    return {};
  }

  std::optional<std::string> describe() const override {
    json::object o;
    if (!outcome_.empty()) {
      o = outcome_;
    } else if (!state_.empty()) {
      auto& pending = state_.at("pending").as_object();
      o = json::object{{"status", pending.empty() ? "working" : "input_required"},
                       {"inputRequests", pending},
                       {"updated_ms", state_.at("updated_ms")}};
    } else {
      o = json::object{{"status", "working"}};
    }
    o["tool"] = tool_;
    return json::serialize(o);
  }

private:
  bool finished() const { return !outcome_.empty(); }

  static json::object error_result(std::string text) {
    return json::object{
      {"content", json::array{json::object{{"type", "text"}, {"text", std::move(text)}}}},
      {"isError", true}};
  }

  /// Runs the handler for `p` (the call: arguments, capabilities, answers).
  caf::error run(context& ctx, const envelope& msg, const json::object& p) {
    auto t = srv_.find_tool(tool_);
    if (!t) {
      finish(ctx, "failed", error_result("the tool '" + tool_ + "' no longer exists"), {},
             json::object{{"code", rpc::internal_error}, {"message", "the tool no longer exists"}});
      return {};
    }
    std::shared_ptr<live_call> live;
    {
      std::lock_guard lock{srv_.calls_mu};
      if (auto it = srv_.calls.find(ctx.self()); it != srv_.calls.end())
        live = it->second;
    }
    if (live && live->cancelled.load()) {
      finish(ctx, "cancelled", json::object{}, {});
      return {};
    }
    json::object args, caps, answers;
    if (auto a = p.if_contains("arguments"); a && a->is_object())
      args = a->as_object();
    if (auto c = p.if_contains("capabilities"); c && c->is_object())
      caps = c->as_object();
    if (auto a = p.if_contains("answers"); a && a->is_object())
      answers = a->as_object();
    json::value token = p.contains("progressToken") ? p.at("progressToken") : json::value{};
    bool stateless = p.contains("stateless") && p.at("stateless").as_bool();
    bool task = p.contains("task") && p.at("task").as_bool();
    // The handler may wait (a child process, a network call, the client's
    // answer): it runs on the runtime's blocking pool, never on an actor
    // thread; the step commits when it returns.
    ctx.defer([this, t, live, args = std::move(args), caps = std::move(caps),
               answers = std::move(answers), token = std::move(token), stateless, task,
               attempt = msg.attempt](context& c) {
      return run_handler(c, *t, live, args, caps, answers, token, stateless, task, attempt);
    });
    return {};
  }

  caf::error run_handler(context& ctx, const tool_entry& te, const std::shared_ptr<live_call>& live,
                         const json::object& args, const json::object& caps,
                         const json::object& answers, const json::value& token, bool stateless,
                         bool task, uint32_t attempt) {
    const auto* t = &te;
    call_context cc{ctx, args, ctx.self(), live, caps, token, answers, stateless};
    cc.set_stopping(&srv_.stopping);
    caf::expected<tool_result> r = make_error(errc::handler_failed, "not run");
    try {
      r = t->spec.handler(cc);
    } catch (input_needed& need) {
      if (task) {
        // A task waits, durably, for tasks/update to bring the answers.
        json::object st{{"arguments", args},        {"capabilities", caps}, {"answers", answers},
                        {"pending", need.requests}, {"stateless", true},    {"task", true},
                        {"updated_ms", wall_ms()}};
        ctx.emit_raw(input_event_type, json::serialize(st));
        return {};
      }
      json::object state{{"tool", tool_}, {"answers", answers}};
      json::object result{{"resultType", "input_required"},
                          {"inputRequests", std::move(need.requests)},
                          {"requestState", srv_.seal(state)}};
      finish(ctx, "input_required", std::move(result), {});
      return {};
    }
    if (srv_.stopping.load() || ctx.stopping()) // not an outcome: runs again after a restart
      return make_error(errc::shutting_down, "the node is stopping");
    if (cc.cancelled()) {
      finish(ctx, "cancelled", json::object{}, {});
      return {};
    }
    if (!r) {
      if (attempt + 1 < t->spec.max_attempts)
        return std::move(r.error()); // retried under the kind's policy
      auto why = "the tool failed after " + std::to_string(attempt + 1)
                 + " attempt(s): " + render(r.error());
      finish(ctx, "failed", error_result(why), {},
             json::object{{"code", rpc::internal_error}, {"message", why}});
      return {};
    }
    json::object out{{"content", r->content}};
    if (r->structured) {
      if (t->output && !r->is_error) {
        auto why = t->output->check(*r->structured);
        if (!why.empty()) {
          finish(ctx, "failed",
                 error_result("the tool's result does not match its output schema: " + why), {});
          return {};
        }
      }
      out["structuredContent"] = *r->structured;
      if (r->content.empty())
        out["content"] =
          json::array{json::object{{"type", "text"}, {"text", json::serialize(*r->structured)}}};
    } else if (t->output && !r->is_error) {
      finish(ctx, "failed",
             error_result("the tool declares an output schema but returned no structured content"),
             {});
      return {};
    }
    if (r->is_error)
      out["isError"] = true;
    finish(ctx, "completed", std::move(out), {});
    return {};
  }

  /// Tells a waiting tasks/update that its answers are stored.
  void ack(context& ctx, const std::string& envelope_id) {
    auto* srv = &srv_;
    ctx.after_commit([srv, envelope_id] {
      std::function<void()> fn;
      {
        std::lock_guard lock{srv->calls_mu};
        if (auto it = srv->acks.find(envelope_id); it != srv->acks.end()) {
          fn = std::move(it->second);
          srv->acks.erase(it);
        }
      }
      if (fn)
        fn();
    });
  }

  void finish(context& ctx, const char* status, json::object result, std::string message,
              json::object error = {}) {
    json::object ev{{"status", status}, {"result", result}, {"updated_ms", wall_ms()}};
    if (!message.empty())
      ev["message"] = message;
    if (!error.empty())
      ev["error"] = error;
    ctx.emit_raw(finished_type, json::serialize(ev));
    outcome_ = ev;
    auto self = ctx.self();
    auto* srv = &srv_;
    ctx.after_commit([srv, self, ev = std::move(ev)] {
      std::shared_ptr<live_call> live;
      {
        std::lock_guard lock{srv->calls_mu};
        if (auto it = srv->calls.find(self); it != srv->calls.end()) {
          live = it->second;
          srv->calls.erase(it);
        }
      }
      if (live && live->finish)
        live->finish(ev);
      if (live && live->on_status)
        live->on_status(ev);
    });
  }

  server::impl& srv_;
  std::string tool_;
  json::object outcome_; ///< the `finished` event, once there is one
  json::object state_;   ///< a waiting task: arguments, answers, pending questions
};

std::shared_ptr<tool_entry> server::impl::find_tool(const std::string& name) const {
  std::shared_lock lock{mu};
  auto it = tools.find(name);
  return it == tools.end() ? nullptr : it->second;
}

void server::impl::register_tool_kind(const tool_entry& t) {
  kind_options k;
  k.idle_timeout = std::chrono::milliseconds{2000};
  k.snapshot_every = 0;
  k.retry.max_attempts = std::max<uint32_t>(1, t.spec.max_attempts) + 1;
  k.retry.initial_backoff = std::chrono::milliseconds{200};
  // A call that never got to record an outcome (its message was
  // dead-lettered) still answers its caller.
  k.on_dead_letter = [this](const dead_letter& dl) {
    std::shared_ptr<live_call> live;
    {
      std::lock_guard lock{calls_mu};
      if (auto it = calls.find(dl.env.to); it != calls.end()) {
        live = it->second;
        calls.erase(it);
      }
    }
    if (live && live->finish)
      live->finish(json::object{
        {"status", "failed"},
        {"result",
         json::object{{"content", json::array{json::object{
                                    {"type", "text"}, {"text", "the call failed: " + dl.error}}}},
                      {"isError", true}}}});
  };
  auto name = t.spec.name;
  auto err = rt.register_kind(
    "tool." + name,
    [this, name](std::string_view) { return std::make_unique<call_actor>(*this, name); }, k);
  // A tool removed and added again on a running node keeps its kind: the
  // factory looks the tool up by name, so the registered kind serves it.
  if (err && code_of(err) != errc::conflict)
    throw std::invalid_argument("tool " + name + ": " + render(err));
}

namespace {

constexpr const char* tasks_ext = "io.modelcontextprotocol/tasks";

bool has_tasks_extension(const json::object& caps) {
  auto e = caps.if_contains("extensions");
  return e && e->is_object() && e->as_object().contains(tasks_ext);
}

json::object tasks_required_data() {
  return json::object{{"requiredCapabilities",
                       json::object{{"extensions", json::object{{tasks_ext, json::object{}}}}}}};
}

int64_t created_ms_of(std::string_view task_id) {
  auto slash = task_id.rfind('/');
  if (slash == std::string_view::npos || task_id.size() < slash + 10)
    return 0;
  int64_t t = 0;
  for (char c : task_id.substr(slash + 1, 9))
    t = t * 36 + (c <= '9' ? c - '0' : c - 'a' + 10);
  return t;
}

constexpr int64_t task_ttl_ms = 3'600'000;

/// The 2025-11-25 shape of a task (`ttl`, `pollInterval`).
json::object session_task(json::object fields) {
  fields["ttl"] = fields["ttlMs"];
  fields["pollInterval"] = fields["pollIntervalMs"];
  fields.erase("ttlMs");
  fields.erase("pollIntervalMs");
  return fields;
}

json::object task_fields(const std::string& id, const char* status, int64_t updated_ms) {
  auto created = created_ms_of(id);
  return json::object{{"taskId", id},
                      {"status", status},
                      {"createdAt", iso8601(created)},
                      {"lastUpdatedAt", iso8601(std::max(created, updated_ms))},
                      {"ttlMs", task_ttl_ms},
                      {"pollIntervalMs", 200}};
}

} // namespace

void server::impl::call_tool(const std::shared_ptr<exchange>& ex) {
  auto name_v = ex->params.if_contains("name");
  if (!name_v || !name_v->is_string())
    return ex->fail(rpc::invalid_params, "tools/call needs a string 'name'");
  std::string name{name_v->as_string()};
  auto t = find_tool(name);
  if (!t || !allowed(ex->token, name))
    return ex->fail(rpc::invalid_params, "unknown tool: " + name);
  json::object args;
  if (auto a = ex->params.if_contains("arguments")) {
    if (!a->is_object() && !a->is_null())
      return ex->fail(rpc::invalid_params, "'arguments' must be an object");
    if (a->is_object())
      args = a->as_object();
  }
  // Capabilities the tool needs from the client, checked before anything runs.
  for (auto& [k, v] : t->spec.requires_capabilities)
    if (!ex->client_capabilities.contains(k))
      return ex->fail(rpc::missing_capability,
                      "tool " + name + " needs the client capability '" + std::string{k} + "'",
                      json::object{{"requiredCapabilities", t->spec.requires_capabilities}});
  bool task = false;
  if (ex->stateless()) {
    bool ext = has_tasks_extension(ex->client_capabilities);
    if (t->spec.tasks == task_support::required && !ext)
      return ex->fail(rpc::missing_capability,
                      "tool " + name + " runs only as a task: declare the tasks extension",
                      tasks_required_data());
    task = ext && t->spec.tasks != task_support::forbidden;
  } else if (ex->revision == session_revision) {
    // 2025-11-25: the client asks for a task with params.task.
    auto tp = ex->params.if_contains("task");
    task = tp && tp->is_object() && t->spec.tasks != task_support::forbidden;
    if (!task && t->spec.tasks == task_support::required)
      return ex->fail(rpc::method_not_found,
                      "tool " + name + " runs only as a task: call it with params.task");
  }
  json::object answers;
  if (ex->stateless()) {
    // A later round of a multi-round call carries the earlier answers in
    // the sealed requestState and the new ones in inputResponses.
    auto got = round_answers(ex, "tool", name, nullptr);
    if (!got)
      return;
    answers = std::move(*got);
  }
  if (auto why = t->input->check(args); !why.empty())
    return ex->fail(rpc::invalid_params, "invalid arguments for tool " + name + ": " + why,
                    json::object{{"tool", name}, {"errors", why}});
  if (task && ask_first(ex, t->spec.task_inputs, answers, "tool", name))
    return;
  json::object payload{{"arguments", args}, {"capabilities", ex->client_capabilities}};
  if (!answers.empty())
    payload["answers"] = answers;
  if (ex->stateless())
    payload["stateless"] = true;
  if (task)
    payload["task"] = true;
  json::value meta;
  if (auto m = ex->params.if_contains("_meta"); m && m->is_object()) {
    meta = *m;
    if (auto pt = m->as_object().if_contains("progressToken"))
      payload["progressToken"] = *pt;
  }
  // The id carries its creator's tag: tasks are bound to the token that
  // made them (checked on every tasks/* request, after restarts too).
  auto id = "tool." + name + "/" + new_call_id() + "-" + owner_tag(ex->token);
  auto live = std::make_shared<live_call>();
  // A client that accepts tasks still gets a plain result from an
  // optional-task tool that finishes within the grace period.
  bool grace = task && ex->stateless() && t->spec.tasks == task_support::optional
               && opts.task_grace.count() > 0;
  if (grace) {
    live->ex = ex;
    live->finish = [ex](json::object ev) {
      if (ev.at("status").as_string() == "completed")
        ex->reply(ev.at("result").as_object());
    };
  }
  if (!task) {
    live->ex = ex;
    live->finish = [ex](json::object ev) {
      auto status = ev.at("status").as_string();
      auto& result = ev.at("result").as_object();
      if (status == "cancelled") // the client asked for no answer
        return ex->abandon();
      ex->reply(result);
    };
  }
  if (task && ex->sess) {
    // 2025-11-25: the session hears when its task ends (on its GET stream).
    std::weak_ptr<session> weak = ex->sess;
    live->on_status = [weak, id](const json::object& ev) {
      auto s = weak.lock();
      if (!s)
        return;
      std::string status{ev.at("status").as_string()};
      if (status == "input_required")
        return;
      auto updated = ev.contains("updated_ms") ? ev.at("updated_ms").to_number<int64_t>() : 0;
      s->push(rpc_notification("notifications/tasks/status",
                               session_task(task_fields(id, status.c_str(), updated))));
    };
  }
  {
    std::lock_guard lock{calls_mu};
    calls[id] = live;
  }
  envelope env;
  env.from = "mcp";
  env.to = id;
  env.type = call_type;
  env.format = static_cast<uint8_t>(payload_format::json);
  env.payload = json::serialize(payload);
  if (meta.is_object())
    if (auto tp = meta.as_object().if_contains("traceparent"); tp && tp->is_string())
      env.traceparent = std::string{tp->as_string()};
  rt.accept_async(std::move(env), [this, ex, id, task, grace](caf::expected<std::string> r) {
    if (r) {
      if (task && grace) {
        std::thread{[this, ex, id] {
          std::this_thread::sleep_for(opts.task_grace);
          if (ex->done.load())
            return;
          auto o = task_fields(id, "working", 0);
          o["resultType"] = "task";
          ex->reply(std::move(o));
        }}.detach();
        return;
      }
      if (task) { // durably created: a tasks/get from now on finds it
        auto o = task_fields(id, "working", 0);
        if (ex->stateless()) {
          o["resultType"] = "task";
          return ex->reply(std::move(o));
        }
        ex->reply(json::object{{"task", session_task(std::move(o))}});
      }
      return;
    }
    {
      std::lock_guard lock{calls_mu};
      calls.erase(id);
    }
    auto code = code_of(r.error());
    ex->fail(rpc::internal_error,
             code == errc::busy ? "the node is busy; retry later" : render(r.error()),
             json::object{{"retryable", code == errc::busy || code == errc::shutting_down}});
  });
}

void server::impl::task_method(const std::shared_ptr<exchange>& ex) {
  const auto& m = ex->method;
  if (ex->stateless() && (m == "tasks/result" || m == "tasks/list"))
    return ex->fail(rpc::method_not_found, "method not found: " + m);
  if (!ex->stateless())
    return session_task_method(ex);
  if (!has_tasks_extension(ex->client_capabilities))
    return ex->fail(rpc::missing_capability,
                    m + " needs the " + std::string{tasks_ext} + " extension",
                    tasks_required_data());
  auto tid = ex->params.if_contains("taskId");
  if (!tid || !tid->is_string())
    return ex->fail(rpc::invalid_params, m + " needs a string 'taskId'");
  std::string id{tid->as_string()};
  auto kind = std::string{kind_of(id)};
  if (kind.rfind("tool.", 0) != 0 || !find_tool(kind.substr(5)) || !valid_actor_id(id)
      || !owns(ex->token, id))
    return ex->fail(rpc::invalid_params, "unknown task: " + id);
  auto d = rt.describe(id);
  if (!d)
    return ex->fail(rpc::invalid_params, "unknown task: " + id);
  if (m == "tasks/get") {
    json::object st;
    if (!d->state_json.empty()) {
      boost::system::error_code ec;
      auto v = json::parse(d->state_json, ec);
      if (!ec && v.is_object())
        st = v.as_object();
    }
    std::string status =
      st.contains("status") ? std::string{st.at("status").as_string()} : std::string{"working"};
    int64_t updated = st.contains("updated_ms") ? st.at("updated_ms").to_number<int64_t>() : 0;
    auto o = task_fields(id, status.c_str(), updated);
    o["resultType"] = "complete";
    if (status == "input_required")
      o["inputRequests"] = st.at("inputRequests");
    if (status == "failed" && st.contains("error")) {
      o["status"] = "failed";
      o["error"] = st.at("error");
    } else if (status == "completed" || status == "failed") {
      // A tool error is a completed task whose result says isError.
      o["status"] = "completed";
      auto result = st.at("result").as_object();
      result["resultType"] = "complete";
      o["result"] = std::move(result);
    }
    return ex->reply(std::move(o));
  }
  if (m == "tasks/cancel") {
    {
      std::lock_guard lock{calls_mu};
      if (auto it = calls.find(id); it != calls.end())
        it->second->cancelled.store(true);
    }
    envelope env;
    env.from = "mcp";
    env.to = id;
    env.type = cancel_type;
    env.format = static_cast<uint8_t>(payload_format::json);
    env.payload = "{}";
    rt.accept_async(std::move(env), [ex](caf::expected<std::string> r) {
      if (!r)
        return ex->fail(rpc::internal_error, render(r.error()));
      ex->reply(json::object{{"resultType", "complete"}});
    });
    return;
  }
  if (m == "tasks/update") {
    json::object responses;
    if (auto ir = ex->params.if_contains("inputResponses"); ir && ir->is_object())
      responses = ir->as_object();
    envelope env;
    env.id = "u" + new_call_id();
    env.from = "mcp";
    env.to = id;
    env.type = input_type;
    env.format = static_cast<uint8_t>(payload_format::json);
    env.payload = json::serialize(json::object{{"inputResponses", responses}});
    // Answer once the task has stored the answers, so a tasks/get right
    // after this sees them.
    auto ack_id = env.id;
    {
      std::lock_guard lock{calls_mu};
      acks[ack_id] = [ex] { ex->reply(json::object{{"resultType", "complete"}}); };
    }
    rt.accept_async(std::move(env), [this, ex, ack_id](caf::expected<std::string> r) {
      if (r)
        return;
      {
        std::lock_guard lock{calls_mu};
        acks.erase(ack_id);
      }
      ex->fail(rpc::internal_error, render(r.error()));
    });
    return;
  }
  ex->fail(rpc::method_not_found, "method not found: " + m);
}

std::string server::impl::owner_tag(const mcp_token* token) const {
  if (!token)
    return "open";
  // An HMAC of a fixed label under the secret: names the token, reveals
  // nothing of it, stays the same across restarts.
  return hmac_hex(token->secret, "cairn task owner").substr(0, 16);
}

bool server::impl::owns(const mcp_token* token, std::string_view id) const {
  auto dash = id.rfind('-');
  return dash != std::string_view::npos
         && cairn::constant_time_equal(owner_tag(token), id.substr(dash + 1));
}

/// What storage says about task `id`: its status and outcome.
std::optional<json::object> server::impl::task_state(const std::string& id) {
  auto kind = std::string{kind_of(id)};
  if (!valid_actor_id(id) || kind.rfind("tool.", 0) != 0 || !find_tool(kind.substr(5)))
    return std::nullopt;
  auto d = rt.describe(id);
  if (!d)
    return std::nullopt;
  json::object st{{"status", "working"}};
  if (!d->state_json.empty()) {
    boost::system::error_code ec;
    auto v = json::parse(d->state_json, ec);
    if (!ec && v.is_object())
      st = v.as_object();
  }
  return st;
}

// 2025-11-25 (experimental tasks): tasks/get, tasks/result, tasks/list and
// tasks/cancel answer from the call actors' journals.
void server::impl::session_task_method(const std::shared_ptr<exchange>& ex) {
  const auto& m = ex->method;
  if (ex->revision != session_revision)
    return ex->fail(rpc::method_not_found, "method not found: " + m);
  auto view = [](const std::string& id, const json::object& st) {
    std::string status{st.at("status").as_string()};
    int64_t updated = st.contains("updated_ms") ? st.at("updated_ms").to_number<int64_t>() : 0;
    auto o = session_task(task_fields(id, status.c_str(), updated));
    if (auto msg = st.if_contains("message"); msg && msg->is_string())
      o["statusMessage"] = *msg;
    return o;
  };
  if (m == "tasks/list") {
    if (opts.tokens.empty()) // nothing to bind tasks to: not offered
      return ex->fail(rpc::method_not_found, "tasks/list needs bearer tokens (mcp_tokens)");
    json::array out;
    std::vector<std::string> kinds;
    {
      std::shared_lock lock{mu};
      for (auto& [name, t] : tools)
        if (allowed(ex->token, name) && t->spec.tasks != task_support::forbidden)
          kinds.push_back("tool." + name);
    }
    std::string after;
    if (auto c = ex->params.if_contains("cursor"); c && c->is_string())
      after = std::string{c->as_string()};
    std::vector<std::string> ids;
    for (auto& k : kinds) {
      auto r = rt.actor_ids(k, after > k ? after : std::string{}, opts.page_size + 1);
      if (r)
        ids.insert(ids.end(), r->begin(), r->end());
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::remove_if(ids.begin(), ids.end(), [&](auto& i) { return i <= after; }),
              ids.end());
    std::string last;
    ids.erase(std::remove_if(ids.begin(), ids.end(), [&](auto& i) { return !owns(ex->token, i); }),
              ids.end());
    for (auto& id : ids) {
      if (out.size() == opts.page_size)
        break;
      if (auto st = task_state(id)) {
        out.push_back(view(id, *st));
        last = id;
      }
    }
    json::object r{{"tasks", std::move(out)}};
    if (ids.size() > opts.page_size)
      r["nextCursor"] = last;
    return ex->reply(std::move(r));
  }
  auto tid = ex->params.if_contains("taskId");
  if (!tid || !tid->is_string())
    return ex->fail(rpc::invalid_params, m + " needs a string 'taskId'");
  std::string id{tid->as_string()};
  auto st = owns(ex->token, id) ? task_state(id) : std::nullopt;
  if (!st || !allowed(ex->token, std::string{kind_of(id).substr(5)}))
    return ex->fail(rpc::invalid_params, "unknown task: " + id);
  std::string status{st->at("status").as_string()};
  bool terminal = status == "completed" || status == "failed" || status == "cancelled";
  if (m == "tasks/get")
    return ex->reply(view(id, *st));
  if (m == "tasks/cancel") {
    if (terminal)
      return ex->fail(rpc::invalid_params, "task " + id + " is already " + status);
    {
      std::lock_guard lock{calls_mu};
      if (auto it = calls.find(id); it != calls.end())
        it->second->cancelled.store(true);
    }
    envelope env;
    env.from = "mcp";
    env.to = id;
    env.type = cancel_type;
    env.format = static_cast<uint8_t>(payload_format::json);
    env.payload = "{}";
    auto o = view(id, *st);
    o["status"] = "cancelled";
    rt.accept_async(std::move(env), [ex, o](caf::expected<std::string> r) mutable {
      if (!r)
        return ex->fail(rpc::internal_error, render(r.error()));
      ex->reply(std::move(o));
    });
    return;
  }
  if (m == "tasks/result") {
    // Answers once the task is terminal: its CallToolResult (or error).
    auto answer = [ex, id](const json::object& s) {
      std::string now{s.at("status").as_string()};
      json::object related{{"io.modelcontextprotocol/related-task", json::object{{"taskId", id}}}};
      if (now == "cancelled")
        return ex->fail(rpc::internal_error, "task " + id + " was cancelled",
                        json::object{{"taskId", id}});
      auto result = s.contains("result") ? s.at("result").as_object() : json::object{};
      result["_meta"] = std::move(related);
      ex->reply(std::move(result));
    };
    if (terminal)
      return answer(*st);
    std::thread{[this, ex, id, answer] {
      auto deadline = std::chrono::steady_clock::now() + opts.call_timeout;
      while (std::chrono::steady_clock::now() < deadline && !ex->cancelled.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds{50});
        auto s = task_state(id);
        if (!s)
          return ex->fail(rpc::invalid_params, "unknown task: " + id);
        std::string now{s->at("status").as_string()};
        if (now == "completed" || now == "failed" || now == "cancelled")
          return answer(*s);
      }
      ex->fail(rpc::internal_error, "task " + id + " did not finish in time; poll tasks/get");
    }}.detach();
    return;
  }
  ex->fail(rpc::method_not_found, "method not found: " + m);
}

} // namespace cairn::mcp
