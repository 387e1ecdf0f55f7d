// SPDX-License-Identifier: Apache-2.0
// tools/call: checks the call, then accepts it as the first message of a
// new call actor; the actor's outcome answers the caller (or a task).
#include <spdlog/spdlog.h>

#include "cairn/error.hpp"
#include "internal/call_actor.hpp"
#include "internal/server_impl.hpp"
#include "internal/tasks.hpp"

namespace cairn::mcp {

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
  {
    // Who called, for tools that act for the caller (a plan's steps stay
    // within the token's tools): its tag, never its secret.
    json::object caller{{"name", "token-" + owner_tag(ex->token)}};
    if (ex->token) {
      json::array globs;
      for (const auto& g : ex->token->tools)
        globs.emplace_back(g);
      caller["tools"] = std::move(globs);
    } else {
      caller["name"] = "anonymous";
    }
    payload["caller"] = std::move(caller);
  }
  json::value meta;
  if (auto m = ex->params.if_contains("_meta"); m && m->is_object()) {
    meta = *m;
    if (auto pt = m->as_object().if_contains("progressToken"))
      payload["progressToken"] = *pt;
  }
  // The id carries its creator's tag: tasks are bound to the token that
  // made them (checked on every tasks/* request, after restarts too).
  // In a cluster the call actor is named so that this node owns it: the
  // session waiting here hears of its steps (a few draws; a node that owns
  // no shard takes any id, and its caller waits for the task instead).
  std::string id;
  for (int draw = 0; draw < 64; ++draw) {
    id = "tool." + name + "/" + new_call_id() + "-" + owner_tag(ex->token);
    if (rt.owns(id))
      break;
  }
  auto live = std::make_shared<live_call>();
  // A client that accepts tasks still gets a plain result from an
  // optional-task tool that finishes within the grace period.
  bool grace = task && ex->stateless() && t->spec.tasks == task_support::optional
               && opts.task_grace.count() > 0;
  if (grace) {
    live->ex = ex;
    live->finish = [ex](const call_record& rec, json::object result) {
      if (rec.state() == call_status::completed)
        ex->reply(std::move(result));
    };
  }
  if (!task) {
    live->ex = ex;
    live->finish = [ex](const call_record& rec, json::object result) {
      if (rec.state() == call_status::cancelled) // the client asked for no answer
        return ex->abandon();
      ex->reply(std::move(result));
    };
  }
  if (task && ex->sess) {
    // 2025-11-25: the session hears when its task ends (on its GET stream).
    std::weak_ptr<session> weak = ex->sess;
    live->on_status = [weak, id](const call_record& rec) {
      auto s = weak.lock();
      if (!s || rec.state() == call_status::input_required)
        return;
      s->push(
        rpc_notification("notifications/tasks/status",
                         session_task(task_fields(id, to_string(rec.state()), rec.updated_ms))));
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
  // The call descends from this request's span (server.cpp, trace_request).
  env.traceparent = ex->traceparent;
  if (env.traceparent.empty() && meta.is_object())
    if (auto tp = meta.as_object().if_contains("traceparent"); tp && tp->is_string())
      env.traceparent = std::string{tp->as_string()};
  // The id is new (120 random bits): its actor reads nothing from storage.
  rt.accept_new_async(std::move(env), [this, ex, id, task, grace, live,
                                       name](caf::expected<std::string> r) {
    if (r) {
      if (!task) {
        // A synchronous call answers within call_timeout: past it, the
        // client gets a tool error and the call is cancelled (its handler
        // sees `cancelled()`; the call actor records the call as cancelled
        // when the handler returns, and forgets it).
        auto expire = [ex, live, name, ms = opts.call_timeout.count()] {
          if (ex->done.load())
            return;
          live->cancelled.store(true);
          ex->reply(json::object{
            {"content", json::array{json::object{
                          {"type", "text"},
                          {"text", "tool " + name + " did not finish within call_timeout ("
                                     + std::to_string(ms) + " ms); the call was cancelled"}}}},
            {"isError", true}});
        };
        auto ticket = timers.schedule(deadline_queue::clock::now() + opts.call_timeout, expire);
        if (ticket == 0) {
          spdlog::warn("mcp: cannot schedule the timeout of call {} (the timer queue is full)", id);
        } else {
          live->timeout.store(ticket); // call_finished cancels it
          bool finished;
          {
            std::lock_guard lock{calls_mu};
            finished = calls.count(id) == 0;
          }
          if (finished && live->timeout.exchange(0) != 0)
            timers.cancel(ticket);
        }
      }
      if (task && grace) {
        // One timer thread for every grace period (deadline_queue), not a
        // thread per call; if it is full, the task handle goes out now.
        auto hand_out = [ex, id] {
          if (ex->done.load())
            return;
          auto o = task_fields(id, "working", 0);
          o["resultType"] = "task";
          ex->reply(std::move(o));
        };
        if (!timers.schedule(deadline_queue::clock::now() + opts.task_grace, hand_out))
          hand_out();
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

caf::expected<std::string> server::call(const std::string& tool, json::object arguments,
                                        std::string reply_to, std::string correlation) {
  auto& d = *impl_;
  auto t = d.find_tool(tool);
  if (!t)
    return make_error(errc::not_found, "no tool named '" + tool + "'");
  if (!valid_actor_id(reply_to))
    return make_error(errc::invalid_argument,
                      "reply_to must be an actor id (kind/key), got '" + reply_to + "'");
  if (auto why = t->input->check(arguments); !why.empty())
    return make_error(errc::invalid_argument, "invalid arguments for tool " + tool + ": " + why);
  json::object payload{
    {"arguments", std::move(arguments)}, {"capabilities", json::object{}}, {"reply_to", reply_to}};
  if (!correlation.empty())
    payload["correlation"] = std::move(correlation);
  envelope env;
  env.from = std::move(reply_to);
  env.to = "tool." + tool + "/" + new_call_id() + "-" + d.owner_tag(nullptr);
  env.type = call_type;
  env.format = static_cast<uint8_t>(payload_format::json);
  env.payload = json::serialize(payload);
  auto id = env.to;
  if (auto r = d.rt.accept(std::move(env)); !r)
    return std::move(r.error());
  return id;
}

caf::expected<envelope> server::call_envelope(const std::string& tool, json::object arguments,
                                              std::string reply_to, std::string correlation,
                                              const std::string& call_key,
                                              const std::string& idempotency_key,
                                              bool dead_letter_on_failure) {
  auto& d = *impl_;
  auto t = d.find_tool(tool);
  if (!t)
    return make_error(errc::not_found, "no tool named '" + tool + "'");
  if (!valid_actor_id(reply_to))
    return make_error(errc::invalid_argument,
                      "reply_to must be an actor id (kind/key), got '" + reply_to + "'");
  if (call_key.empty() || call_key.find('/') != std::string::npos)
    return make_error(errc::invalid_argument, "a call key must be non-empty and without '/'");
  if (auto why = t->input->check(arguments); !why.empty())
    return make_error(errc::invalid_argument, "invalid arguments for tool " + tool + ": " + why);
  json::object payload{
    {"arguments", std::move(arguments)}, {"capabilities", json::object{}}, {"reply_to", reply_to}};
  if (!correlation.empty())
    payload["correlation"] = std::move(correlation);
  if (!idempotency_key.empty())
    payload["idempotency_key"] = idempotency_key;
  if (dead_letter_on_failure)
    payload["dead_letter_on_failure"] = true;
  envelope env;
  env.from = std::move(reply_to);
  env.to = "tool." + tool + "/" + call_key;
  env.type = call_type;
  env.format = static_cast<uint8_t>(payload_format::json);
  env.payload = json::serialize(payload);
  return env;
}

void server::cancel(const std::string& call_id) {
  auto& d = *impl_;
  {
    std::lock_guard lock{d.calls_mu};
    auto& live = d.calls[call_id];
    if (!live)
      live = std::make_shared<live_call>();
    live->cancelled.store(true);
  }
  envelope env;
  env.from = "mcp";
  env.to = call_id;
  env.type = cancel_type;
  env.format = static_cast<uint8_t>(payload_format::json);
  env.payload = "{}";
  d.rt.accept_async(std::move(env), [call_id](caf::expected<std::string> r) {
    if (!r)
      spdlog::warn("cannot cancel call {}: {}", call_id, render(r.error()));
  });
}

} // namespace cairn::mcp
