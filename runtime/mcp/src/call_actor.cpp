// SPDX-License-Identifier: Apache-2.0
// Tool calls: each call is a durable actor `tool.<name>/<call id>` whose
// mailbox holds the call and whose journal holds its outcome, so a task's
// status and result survive a restart of the node.
#include "internal/call_actor.hpp"

#include <limits>

#include <spdlog/spdlog.h>

#include "cairn/actor.hpp"
#include "cairn/error.hpp"
#include "cairn/mcp/outcome.hpp"
#include "internal/call_context.hpp"
#include "internal/call_record.hpp"
#include "internal/secure_random.hpp"
#include "internal/server_impl.hpp"

namespace cairn::mcp {

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// A time-ordered id with 120 unpredictable bits (task ids are capabilities:
/// they must not be guessable).
std::string new_call_id() {
  static const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  auto t = static_cast<uint64_t>(wall_ms());
  std::string id;
  for (int i = 0; i < 9; ++i) {
    id.insert(id.begin(), digits[t % 36]);
    t /= 36;
  }
  uint64_t random[2];
  secure_random(random, sizeof random);
  for (auto r : random) {
    for (int i = 0; i < 12; ++i) {
      id.push_back(digits[r % 36]);
      r /= 36;
    }
  }
  return id;
}

const char* to_string(call_status s) {
  switch (s) {
    case call_status::working: return "working";
    case call_status::input_required: return "input_required";
    case call_status::completed: return "completed";
    case call_status::failed: return "failed";
    case call_status::cancelled: return "cancelled";
  }
  return "working";
}

namespace {

/// Decodes the status name of a journaled `finished` event.
std::optional<call_status> status_named(std::string_view name) {
  for (auto s : {call_status::working, call_status::input_required, call_status::completed,
                 call_status::failed, call_status::cancelled})
    if (name == to_string(s))
      return s;
  return std::nullopt;
}

json::object error_result(std::string text) {
  return json::object{
    {"content", json::array{json::object{{"type", "text"}, {"text", std::move(text)}}}},
    {"isError", true}};
}

} // namespace

/// The durable actor of one call. Its journal: `input` (the call waits
/// for answers: a task in `input_required`), `answers` (some arrived) and
/// `finished` (completed, failed or cancelled, with the result). Its state
/// is a typed `call_record`, snapshotted after every event: the tasks read
/// model reads that row instead of replaying the journal.
class call_actor final : public durable_actor {
public:
  call_actor(server::impl& srv, std::string tool) : srv_(srv), tool_(std::move(tool)) {}

  caf::error handle(context& ctx, const envelope& msg) override {
    if (msg.type == input_type)
      ack(ctx, msg.id); // whatever happens, tasks/update hears back
    if (rec_.finished)
      return {}; // a late message: the outcome is already journaled
    boost::system::error_code ec;
    auto payload = json::parse(msg.payload, ec);
    if (ec || !payload.is_object())
      return make_error(errc::invalid_argument, "malformed tool call payload");
    auto& p = payload.as_object();
    if (msg.type == cancel_type) {
      finish(ctx, call_status::cancelled, json::object{}, {});
      return {};
    }
    if (msg.type == input_type) {
      // Answers for a waiting task: keep them; run again once none is missing.
      if (state_.empty())
        return {};
      auto answers = state_["answers"].as_object();
      auto pending = state_["pending"].as_object();
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
    auto updated = [&o] {
      auto u = o.if_contains("updated_ms");
      return u && u->is_number() ? u->to_number<int64_t>() : int64_t{0};
    };
    if (type == finished_type) {
      auto st = o.if_contains("status");
      auto status = st && st->is_string() ? status_named(st->as_string()) : std::nullopt;
      if (!status)
        return make_error(errc::corrupt_record, "tool call outcome without a known status");
      call_record r;
      r.status = static_cast<uint8_t>(*status);
      r.finished = true;
      r.updated_ms = updated();
      if (auto res = o.if_contains("result"))
        r.result = json::serialize(*res);
      if (auto err = o.if_contains("error"))
        r.error = json::serialize(*err);
      if (auto m = o.if_contains("message"); m && m->is_string())
        r.message = std::string{m->as_string()};
      rec_ = std::move(r);
    } else if (type == input_event_type) {
      state_ = std::move(o);
      waiting_changed();
    } else if (type == answers_type) {
      if (!state_.empty()) {
        state_["answers"] = o["answers"];
        state_["pending"] = o["pending"];
        state_["updated_ms"] = o["updated_ms"];
        waiting_changed();
      }
    } else {
      return make_error(errc::corrupt_record, "unknown tool call event type " + std::string{type});
    }
    return {};
  }

  std::optional<std::string> snapshot() const override {
    auto r = rec_;
    if (!state_.empty())
      r.waiting = json::serialize(state_);
    return encode(r);
  }

  caf::error restore(std::string_view bytes) override {
    auto r = decode<call_record>(bytes);
    if (!r)
      return std::move(r.error());
    rec_ = std::move(*r);
    state_ = {};
    if (!rec_.waiting.empty()) {
      boost::system::error_code ec;
      auto v = json::parse(rec_.waiting, ec);
      if (ec || !v.is_object())
        return make_error(errc::corrupt_record, "the snapshot of a waiting call is not JSON");
      state_ = std::move(v.as_object());
      rec_.waiting.clear();
    }
    return {};
  }

  std::optional<std::string> describe() const override {
    return json::serialize(describe_record(tool_, rec_));
  }

  /// The typed state (the read model's fallback for calls journaled before
  /// snapshots were written).
  const call_record& record() const { return rec_; }

private:
  /// A waiting task's questions changed: so did its status.
  void waiting_changed() {
    auto p = state_.if_contains("pending");
    auto pending = p && p->is_object() ? p->as_object() : json::object{};
    rec_.status =
      static_cast<uint8_t>(pending.empty() ? call_status::working : call_status::input_required);
    rec_.input_requests = json::serialize(pending);
    if (auto u = state_.if_contains("updated_ms"); u && u->is_number())
      rec_.updated_ms = u->to_number<int64_t>();
  }

  /// Runs the handler for `p` (the call: arguments, capabilities, answers).
  caf::error run(context& ctx, const envelope& msg, const json::object& p) {
    // A call started by an actor (`server::call`) answers that actor.
    if (auto r = p.if_contains("reply_to"); r && r->is_string())
      reply_to_ = std::string{r->as_string()};
    if (auto c = p.if_contains("correlation"); c && c->is_string())
      correlation_ = std::string{c->as_string()};
    // A caller that names the call's idempotency key (a plan step: `<plan
    // id>/<step id>`) gets it passed to the tool; else it is the call's id.
    if (auto k = p.if_contains("idempotency_key"); k && k->is_string())
      key_ = std::string{k->as_string()};
    if (auto c = p.if_contains("caller"); c && c->is_object())
      caller_ = c->as_object();
    if (auto d = p.if_contains("dead_letter_on_failure"); d && d->is_bool())
      dead_letter_on_failure_ = d->as_bool();
    auto t = srv_.find_tool(tool_);
    if (!t) {
      finish(ctx, call_status::failed, error_result("the tool '" + tool_ + "' no longer exists"),
             {},
             json::object{{"code", rpc::internal_error}, {"message", "the tool no longer exists"}});
      return {};
    }
    std::shared_ptr<live_call> live;
    {
      std::lock_guard lock{srv_.calls_mu};
      if (auto it = srv_.calls.find(ctx.self()); it != srv_.calls.end())
        live = it->second;
      else if (!reply_to_.empty())
        // A call an actor started has no client to follow it, but it can be
        // cancelled (`server::cancel`) while it runs: that needs its flag.
        srv_.calls[ctx.self()] = live = std::make_shared<live_call>();
    }
    if (live && live->cancelled.load()) {
      finish(ctx, call_status::cancelled, json::object{}, {});
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
    // A handler declared never to wait runs here, on the actor thread.
    if (t->spec.runs_inline)
      return run_handler(ctx, *t, live, args, caps, answers, token, stateless, task, msg.attempt);
    // Any other handler may wait (a child process, a network call, the
    // client's answer): it runs on the runtime's blocking pool, never on an
    // actor thread; the step commits when it returns.
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
    call_context cc{ctx,     args,     key_.empty() ? ctx.self() : key_, live, caps, token,
                    answers, stateless};
    cc.set_stopping(&srv_.stopping);
    cc.set_caller(caller_);
    auto r = t->spec.handler(cc);
    if (!cc.unanswered().empty()) {
      // The handler asked what this stateless round has no answer for: it
      // learnt so from `ask` (whatever it made of that), and the round ends
      // asking the client. Decided by the call's record of the questions,
      // never by what the handler returned.
      if (task) {
        // A task waits, durably, for tasks/update to bring the answers.
        json::object st{{"arguments", args},          {"capabilities", caps}, {"answers", answers},
                        {"pending", cc.unanswered()}, {"stateless", true},    {"task", true},
                        {"updated_ms", wall_ms()}};
        ctx.emit_raw(input_event_type, json::serialize(st));
        return {};
      }
      json::object state{{"tool", tool_}, {"answers", answers}};
      json::object result{{"resultType", "input_required"},
                          {"inputRequests", cc.unanswered()},
                          {"requestState", srv_.seal(state)}};
      finish(ctx, call_status::input_required, std::move(result), {});
      return {};
    }
    if (srv_.stopping.load() || ctx.stopping()) // not an outcome: runs again after a restart
      return make_error(errc::shutting_down, "the node is stopping");
    if (cc.cancelled()) {
      finish(ctx, call_status::cancelled, json::object{}, {});
      return {};
    }
    if (!r) {
      // Retried under the kind's policy; a caller that wants failures
      // redrivable gets a dead letter after the last attempt.
      if (attempt + 1 < t->spec.max_attempts || dead_letter_on_failure_)
        return std::move(r.error());
      auto why = "the tool failed after " + std::to_string(attempt + 1)
                 + " attempt(s): " + render(r.error());
      finish(ctx, call_status::failed, error_result(why), {},
             json::object{{"code", rpc::internal_error}, {"message", why}});
      return {};
    }
    json::object out{{"content", r->content}};
    if (r->structured) {
      if (t->output && !r->is_error) {
        auto why = t->output->check(*r->structured);
        if (!why.empty()) {
          finish(ctx, call_status::failed,
                 error_result("the tool's result does not match its output schema: " + why), {});
          return {};
        }
      }
      out["structuredContent"] = *r->structured;
      if (r->content.empty())
        out["content"] =
          json::array{json::object{{"type", "text"}, {"text", json::serialize(*r->structured)}}};
    } else if (t->output && !r->is_error) {
      finish(ctx, call_status::failed,
             error_result("the tool declares an output schema but returned no structured content"),
             {});
      return {};
    }
    if (r->is_error)
      out["isError"] = true;
    finish(ctx, call_status::completed, std::move(out), {});
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

  void finish(context& ctx, call_status status, json::object result, std::string message,
              json::object error = {}) {
    json::object ev{
      {"status", to_string(status)}, {"result", std::move(result)}, {"updated_ms", wall_ms()}};
    if (!message.empty())
      ev["message"] = message;
    if (!error.empty())
      ev["error"] = std::move(error);
    ctx.emit_raw(finished_type, json::serialize(ev)); // applied: rec_ is the outcome now
    result = std::move(ev["result"].as_object());     // serialized: taken back, not copied
    // The durable reply: committed with the outcome's journal event, so the
    // asking actor hears of it exactly once.
    if (!reply_to_.empty() && terminal(status))
      ctx.send(reply_to_, tool_outcome{ctx.self(), tool_, to_string(status),
                                       json::serialize(result), correlation_});
    auto self = ctx.self();
    auto* srv = &srv_;
    ctx.after_commit([srv, self, rec = rec_, result = std::move(result)]() mutable {
      srv->call_finished(self, rec, std::move(result));
    });
  }

  server::impl& srv_;
  std::string tool_;
  call_record rec_;      ///< the status, and the outcome once there is one
  json::object state_;   ///< a waiting task: arguments, answers, pending questions
  std::string reply_to_; ///< the actor that hears the outcome (from the call message)
  std::string key_;      ///< the idempotency key the caller chose, if any
  json::object caller_;  ///< who called (`call::caller()`)
  bool dead_letter_on_failure_ = false; ///< failed for good: a dead letter, not a record
  std::string correlation_;             ///< passed back to it verbatim
};

json::object describe_record(const std::string& tool, const call_record& rec) {
  json::object o;
  auto parse = [](const std::string& text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    return ec ? json::value{} : v;
  };
  if (rec.finished) {
    o =
      json::object{{"status", to_string(rec.state())},
                   {"result", rec.result.empty() ? json::value{json::object{}} : parse(rec.result)},
                   {"updated_ms", rec.updated_ms}};
    if (!rec.message.empty())
      o["message"] = rec.message;
    if (!rec.error.empty())
      o["error"] = parse(rec.error);
  } else if (!rec.input_requests.empty()) {
    o = json::object{{"status", to_string(rec.state())},
                     {"inputRequests", parse(rec.input_requests)},
                     {"updated_ms", rec.updated_ms}};
  } else {
    o = json::object{{"status", "working"}};
  }
  o["tool"] = tool;
  return o;
}

std::optional<call_record> replay_call(server::impl& srv, const std::string& tool,
                                       const std::string& id) {
  call_actor a{srv, tool};
  caf::error bad;
  auto err = srv.rt.read_journal(id, 1, std::numeric_limits<size_t>::max(),
                                 [&](uint64_t, std::string_view type, std::string_view payload) {
                                   if (!bad)
                                     bad = a.apply(type, payload);
                                 });
  if (err || bad)
    return std::nullopt;
  return a.record();
}

void server::impl::answer_dead_letter(const dead_letter& dl, const json::object& result) {
  // A call started by an actor still answers it: durably, once (the
  // dead letter's id is the idempotency key of the answer).
  boost::system::error_code ec;
  auto p = json::parse(dl.env.payload, ec);
  if (ec || !p.is_object())
    return;
  auto r = p.as_object().if_contains("reply_to");
  if (!r || !r->is_string())
    return;
  std::string correlation;
  if (auto c = p.as_object().if_contains("correlation"); c && c->is_string())
    correlation = std::string{c->as_string()};
  auto kind = std::string{kind_of(dl.env.to)};
  envelope env;
  env.from = dl.env.to;
  env.to = std::string{r->as_string()};
  env.type = type_tag<tool_outcome>::value;
  env.payload = encode(tool_outcome{dl.env.to, kind.substr(std::min<size_t>(5, kind.size())),
                                    "failed", json::serialize(result), correlation});
  env.idempotency_key = dl.env.id + "/outcome";
  env.traceparent = dl.env.traceparent;
  rt.accept_async(std::move(env), [to = dl.env.to](caf::expected<std::string> accepted) {
    if (!accepted)
      spdlog::error("call {}: cannot tell its caller it failed: {}", to, render(accepted.error()));
  });
}

void server::impl::register_tool_kind(const tool_entry& t) {
  kind_options k;
  // One actor per call: once its call is answered nothing more comes to it
  // (a late poll reads its stored record), so it passivates at once instead
  // of holding memory and a timer for each call.
  k.idle_timeout = std::chrono::milliseconds{0};
  // The typed record is snapshotted with every event, in the step's own
  // write: a task poll reads that one row (tasks.cpp), never the journal.
  // A tool that never runs as a task is never polled: no snapshot row (its
  // record, if read at all, is rebuilt from its one or two events).
  k.snapshot_every = t.spec.tasks == task_support::forbidden ? 0 : 1;
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
    call_record rec;
    rec.status = static_cast<uint8_t>(call_status::failed);
    rec.finished = true;
    rec.updated_ms = wall_ms();
    auto result = error_result("the call failed: " + dl.error);
    rec.result = json::serialize(result);
    if (live && live->finish)
      live->finish(rec, result);
    answer_dead_letter(dl, result);
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

} // namespace cairn::mcp
