// SPDX-License-Identifier: Apache-2.0
// The plan actor `plan/<id>`: runs an accepted plan as durable tool calls,
// waits for approvals, compensates in reverse order. Its state is one JSON
// object, rebuilt from JSON events; every decision it takes is journaled
// before it acts on it, so a replay never needs the configuration of the
// day (docs/orchestration.md, "Execution").
#include <chrono>
#include <string>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "cairn/actor.hpp"
#include "cairn/error.hpp"
#include "cairn/json_codec.hpp"
#include "cairn/log_context.hpp"
#include "cairn/mcp/outcome.hpp"
#include "cairn/workflow/canonical_json.hpp"
#include "cairn/workflow/plan.hpp"
#include "internal/engine_impl.hpp"

namespace cairn::workflow {

namespace {

class plan_actor final : public durable_actor {
public:
  explicit plan_actor(engine::impl& e) : eng_(e) {}

  caf::error handle(context& ctx, const envelope& msg) override {
    auto err = handle_message(ctx, msg);
    if (!err && !st_.empty()) {
      // The lists' index hears of the state once it is durable.
      auto* eng = &eng_;
      ctx.after_commit(
        [eng, id = ctx.self(), s = engine::impl::summary_of(st_)] { eng->note(id, s); });
    }
    return err;
  }

  caf::error handle_message(context& ctx, const envelope& msg) {
    if (msg.type == type_tag<mcp::tool_outcome>::value) {
      auto o = decode<mcp::tool_outcome>(msg.payload);
      if (!o)
        return std::move(o.error());
      if (st_.empty())
        return {}; // an outcome for a plan that never started: nothing to do
      on_outcome(ctx, *o);
      return advance(ctx);
    }
    boost::system::error_code ec;
    auto v = json::parse(msg.payload, ec);
    if (ec || !v.is_object())
      return make_error(errc::invalid_payload, msg.type + " needs a JSON object");
    auto& p = v.as_object();
    if (msg.type == submit_type) {
      if (!st_.empty())
        return {}; // the same plan submitted again: already running
      ctx.emit_raw(accepted_event, json::serialize(p));
      // The deadline, as a durable timer: a plan still running then stops.
      if (auto d = p.if_contains("deadline_ms"); d && d->is_int64())
        ctx.send_raw(ctx.self(), deadline_type, "{}", payload_format::json,
                     std::chrono::milliseconds{std::max<int64_t>(1, d->as_int64() - wall_ms())});
      return advance(ctx);
    }
    if (msg.type == reject_type) {
      if (st_.empty())
        ctx.emit_raw(rejected_event, json::serialize(p));
      return {};
    }
    if (st_.empty())
      return {}; // nothing to decide, cancel or expire
    // A decision or a cancel comes in its sender's trace; what it lets the
    // plan do belongs to the plan's.
    auto plan_trace = member_string(st_, "traceparent");
    if ((msg.type == decide_type || msg.type == cancel_type) && !plan_trace.empty()
        && trace_id_of(plan_trace) != trace_id_of(msg.traceparent))
      ctx.descend_from(plan_trace);
    if (msg.type == decide_type)
      on_decision(ctx, p);
    else if (msg.type == cancel_type)
      on_cancel(ctx, p);
    else if (msg.type == expire_type)
      on_expiry(ctx, p);
    else if (msg.type == deadline_type)
      stop(ctx, "the plan's deadline passed", json::object{});
    else
      return make_error(errc::invalid_argument, "a plan does not accept " + msg.type);
    return advance(ctx);
  }

  caf::error apply(std::string_view type, std::string_view payload) override {
    return apply_plan_event(st_, type, payload);
  }

  std::optional<std::string> snapshot() const override { return json::serialize(st_); }

  caf::error restore(std::string_view bytes) override {
    boost::system::error_code ec;
    auto v = json::parse(bytes, ec);
    if (ec || !v.is_object())
      return make_error(errc::corrupt_record, "a plan snapshot is not a JSON object");
    st_ = std::move(v.as_object());
    return {};
  }

  std::optional<std::string> describe() const override { return json::serialize(st_); }

private:
  std::string state() const { return member_string(st_, "state"); }
  std::string key() const {
    auto id = member_string(st_, "id");
    return id.substr(id.find('/') + 1);
  }

  json::object& step(const std::string& id) { return member_object(st_, "steps")[id].as_object(); }

  /// Takes every decision the state now allows, each journaled first.
  caf::error advance(context& ctx) {
    for (int guard = 0; guard < 10'000; ++guard) {
      auto s = state();
      if (s == "running") {
        if (auto why = first_failure(); !why.empty()) {
          ctx.emit_raw(stopping_event,
                       json::serialize(json::object{
                         {"state", "compensating"}, {"cause", why}, {"at_ms", wall_ms()}}));
          continue;
        }
        bool all_done = true, started = false;
        for (const auto& idv : st_["order"].as_array()) {
          std::string id{idv.as_string()};
          auto& sv = step(id);
          auto ss = member_string(sv, "state");
          if (ss != "succeeded")
            all_done = false;
          if (ss != "pending" && ss != "approved")
            continue;
          bool ready = true;
          for (const auto& a : sv["after"].as_array())
            if (member_string(step(std::string{a.as_string()}), "state") != "succeeded")
              ready = false;
          if (ready) {
            start_step(ctx, id);
            started = true;
          }
        }
        if (started)
          continue; // a step that could not start failed: look again
        if (all_done) {
          finish(ctx, "succeeded");
          continue;
        }
        return {};
      }
      if (s == "compensating") {
        json::object* next = nullptr;
        std::string next_id;
        bool any_failed = false, any_compensated = false;
        for (auto& [id, sv] : member_object(st_, "steps")) {
          auto ss = member_string(sv.as_object(), "state");
          if (ss == "running" || ss == "compensating")
            return {}; // wait for it
          any_failed = any_failed || ss == "compensation_failed";
          any_compensated = any_compensated || ss == "compensated";
        }
        // Reverse completion order, one at a time.
        auto& done = st_["completed"];
        if (done.is_array())
          for (auto it = done.as_array().rbegin(); it != done.as_array().rend(); ++it) {
            std::string id{it->as_string()};
            auto& sv = step(id);
            if (member_string(sv, "state") == "succeeded" && sv["compensation"].is_object()
                && !sv["compensation"].as_object().empty()) {
              next = &sv;
              next_id = id;
              break;
            }
          }
        if (next) {
          start_compensation(ctx, next_id, *next);
          continue;
        }
        auto cause = member_string(st_, "cause");
        finish(ctx, any_failed             ? "compensation_failed"
                    : cause == "cancelled" ? "cancelled"
                    : any_compensated      ? "compensated"
                                           : "failed");
        return {};
      }
      return {};
    }
    return make_error(errc::handler_failed,
                      "plan " + member_string(st_, "id") + " does not settle");
  }

  /// Why the plan must stop now: a step failed, was denied or expired.
  std::string first_failure() {
    for (auto& [id, sv] : member_object(st_, "steps")) {
      auto ss = member_string(sv.as_object(), "state");
      if (ss == "failed" || ss == "cancelled")
        return "step " + std::string{id} + " failed";
      if (ss == "denied")
        return "step " + std::string{id} + " was denied";
      if (ss == "expired")
        return "the approval of step " + std::string{id} + " expired";
    }
    return {};
  }

  void finish(context& ctx, const char* final_state) {
    ctx.emit_raw(finished_event,
                 json::serialize(json::object{{"state", final_state}, {"at_ms", wall_ms()}}));
  }

  void fail_step(context& ctx, const std::string& id, const std::string& why) {
    ctx.emit_raw(step_finished_event, json::serialize(json::object{{"step", id},
                                                                   {"status", "failed"},
                                                                   {"result", nullptr},
                                                                   {"error", why},
                                                                   {"at_ms", wall_ms()}}));
  }

  void start_step(context& ctx, const std::string& id) {
    auto& s = step(id);
    auto resolved = resolve_references(s["arguments"], [this](const std::string& from) {
      auto& src = step(from);
      auto o = src.if_contains("output");
      return o && !o->is_null() ? o : nullptr;
    });
    if (!resolved || !resolved->is_object())
      return fail_step(ctx, id,
                       resolved ? "arguments are not an object" : render(resolved.error()));
    auto verdict = member_string(s, "verdict");
    if (verdict == "approve" && member_string(s, "state") == "pending") {
      auto sha = arguments_sha256(resolved->as_object());
      auto expires_s = s["expires_s"].is_int64() ? s["expires_s"].as_int64() : int64_t{86'400};
      auto now = wall_ms();
      ctx.emit_raw(approval_requested_event,
                   json::serialize(json::object{{"step", id},
                                                {"arguments", *resolved},
                                                {"arguments_sha256", sha},
                                                {"approver", s["approver"]},
                                                {"rule", s["rule"]},
                                                {"reason", s["reason"]},
                                                {"requested_ms", now},
                                                {"expires_ms", now + expires_s * 1000},
                                                {"at_ms", now}}));
      // The durable timer: expiry counts as a denial, days later if need be.
      ctx.send_raw(ctx.self(), expire_type,
                   json::serialize(json::object{{"step", id}, {"arguments_sha256", sha}}),
                   payload_format::json, std::chrono::seconds{expires_s});
      return;
    }
    auto key = member_string(st_, "id") + "/" + id;
    auto env = eng_.srv.call_envelope(member_string(s, "tool"), resolved->as_object(), ctx.self(),
                                      "step:" + id, this->key() + "." + id, key);
    if (!env)
      return fail_step(ctx, id, render(env.error()));
    ctx.send_raw(env->to, env->type, env->payload, payload_format::json,
                 std::chrono::milliseconds{0}, key);
    ctx.emit_raw(
      step_started_event,
      json::serialize(json::object{
        {"step", id}, {"call_id", env->to}, {"arguments", *resolved}, {"at_ms", wall_ms()}}));
  }

  void start_compensation(context& ctx, const std::string& id, json::object& s) {
    const auto& spec = s["compensation"].as_object();
    auto tool = member_string(spec, "tool");
    json::value tmpl = json::object{};
    if (auto a = spec.if_contains("arguments"))
      tmpl = *a;
    auto resolved = resolve_references(tmpl, [&s](const std::string& from) -> const json::value* {
      if (from == "arguments")
        return s.if_contains("resolved_arguments");
      if (from == "result")
        return s.if_contains("output");
      return nullptr;
    });
    auto fail = [&](const std::string& why) {
      ctx.emit_raw(compensation_started_event, json::serialize(json::object{{"step", id},
                                                                            {"tool", tool},
                                                                            {"call_id", nullptr},
                                                                            {"arguments", nullptr},
                                                                            {"at_ms", wall_ms()}}));
      ctx.emit_raw(compensation_finished_event,
                   json::serialize(json::object{
                     {"step", id}, {"status", "failed"}, {"result", why}, {"at_ms", wall_ms()}}));
    };
    if (!resolved || !resolved->is_object())
      return fail(resolved ? "compensation arguments are not an object" : render(resolved.error()));
    auto key = member_string(st_, "id") + "/" + id + "/compensate";
    // A compensation that fails for good is a dead letter: redrivable.
    auto env = eng_.srv.call_envelope(tool, resolved->as_object(), ctx.self(), "undo:" + id,
                                      this->key() + "." + id + ".undo", key, true);
    if (!env)
      return fail(render(env.error()));
    ctx.send_raw(env->to, env->type, env->payload, payload_format::json,
                 std::chrono::milliseconds{0}, key);
    ctx.emit_raw(compensation_started_event, json::serialize(json::object{{"step", id},
                                                                          {"tool", tool},
                                                                          {"call_id", env->to},
                                                                          {"arguments", *resolved},
                                                                          {"at_ms", wall_ms()}}));
  }

  void on_outcome(context& ctx, const mcp::tool_outcome& o) {
    auto colon = o.correlation.find(':');
    if (colon == std::string::npos)
      return;
    auto what = o.correlation.substr(0, colon);
    auto id = o.correlation.substr(colon + 1);
    auto sv = member_object(st_, "steps").if_contains(id);
    if (!sv)
      return;
    auto& s = sv->as_object();
    boost::system::error_code ec;
    auto result = json::parse(o.result, ec);
    if (ec)
      result = json::value(o.result);
    bool is_error = result.is_object() && result.as_object().if_contains("isError")
                    && result.as_object()["isError"] == json::value(true);
    bool ok = o.status == "completed" && !is_error;
    if (what == "step") {
      if (member_string(s, "state") != "running" || member_string(s, "call_id") != o.call_id)
        return; // not what this step waits for (a duplicate)
      json::object ev{{"step", id},
                      {"status", ok                        ? "succeeded"
                                 : o.status == "cancelled" ? "cancelled"
                                                           : "failed"},
                      {"result", result},
                      {"at_ms", wall_ms()}};
      if (ok) {
        auto sc =
          result.is_object() ? result.as_object().if_contains("structuredContent") : nullptr;
        ev["output"] = sc ? *sc : json::value(nullptr);
      } else {
        ev["error"] = error_text(result, o.status);
      }
      ctx.emit_raw(step_finished_event, json::serialize(ev));
      return;
    }
    if (what != "undo")
      return;
    auto& c = member_object(s, "compensation_call");
    if (member_string(c, "call_id") != o.call_id)
      return;
    auto cs = member_string(c, "state");
    // A failed compensation's dead letter, redriven, may still succeed.
    if (cs != "running" && !(cs == "failed" && ok))
      return;
    ctx.emit_raw(compensation_finished_event,
                 json::serialize(json::object{{"step", id},
                                              {"status", ok ? "compensated" : "failed"},
                                              {"result", result},
                                              {"at_ms", wall_ms()}}));
    if (state() == "compensation_failed" && ok) {
      // Redriven to success: the plan may still end compensated.
      bool still_failed = false;
      for (auto& [sid, v] : member_object(st_, "steps"))
        still_failed =
          still_failed || member_string(v.as_object(), "state") == "compensation_failed";
      if (!still_failed)
        ctx.emit_raw(stopping_event,
                     json::serialize(json::object{
                       {"state", "compensating"}, {"cause", st_["cause"]}, {"at_ms", wall_ms()}}));
    }
  }

  static std::string error_text(const json::value& result, const std::string& status) {
    if (status == "cancelled")
      return "the call was cancelled";
    if (result.is_object())
      if (auto c = result.as_object().if_contains("content"); c && c->is_array())
        for (const auto& b : c->as_array())
          if (b.is_object() && b.as_object().if_contains("text"))
            return std::string{b.as_object().at("text").as_string()};
    return "the call " + status;
  }

  void on_decision(context& ctx, const json::object& p) {
    auto id = member_string(p, "step");
    auto sv = member_object(st_, "steps").if_contains(id);
    auto refuse = [&](const std::string& why) {
      ctx.emit_raw(decision_refused_event,
                   json::serialize(json::object{
                     {"step", id}, {"by", p.at("by")}, {"why", why}, {"at_ms", wall_ms()}}));
    };
    if (!sv || member_string(sv->as_object(), "state") != "awaiting_approval")
      return refuse("step " + id + " is not waiting for approval");
    auto& a = sv->as_object()["approval"].as_object();
    if (member_string(a, "arguments_sha256") != member_string(p, "arguments_sha256"))
      return refuse("the decision quotes other arguments");
    json::object ev{{"step", id},
                    {"decision", member_string(p, "decision") == "approve" ? "approve" : "deny"},
                    {"by", p.at("by")},
                    {"at_ms", wall_ms()}};
    if (auto c = p.if_contains("comment"))
      ev["comment"] = *c;
    auto requested = requested_ms(a); // read before the event changes the state
    ctx.emit_raw(approval_decided_event, json::serialize(ev));
    record_wait(ctx, id, requested, member_string(ev, "decision"), member_string(p, "by"));
  }

  /// The approval wait as a span of the plan's trace, however long it
  /// lasted, linked to the decider's span; recorded once the decision is
  /// durable.
  static int64_t requested_ms(const json::object& approval) {
    auto r = approval.if_contains("requested_ms");
    return r && r->is_int64() ? r->as_int64() : 0;
  }

  void record_wait(context& ctx, const std::string& step_id, int64_t requested,
                   const std::string& decision, const std::string& by) {
    trace_context plan;
    if (!parse_traceparent(member_string(st_, "traceparent"), plan))
      return;
    span_record s;
    s.trace_id = plan.trace_id;
    s.span_id = step_span_id(member_string(st_, "id") + "/" + step_id + "/approval", 0);
    s.parent_span_id = plan.span_id;
    s.name = "approval wait";
    s.kind = span_kind::internal;
    s.end_us = now_us();
    s.start_us = requested > 0 ? std::min(requested * 1000, s.end_us) : s.end_us;
    s.status = decision == "approve" ? span_status::ok : span_status::error;
    if (decision != "approve")
      s.status_message = decision == "expire" ? "the approval expired" : "denied by " + by;
    s.attributes = {{"cairn.plan.id", member_string(st_, "id")},
                    {"cairn.step.id", step_id},
                    {"cairn.approval.decision", decision},
                    {"cairn.approval.by", by}};
    trace_context decider;
    if (parse_traceparent(ctx.message().traceparent, decider) && decider.trace_id != plan.trace_id)
      s.links.push_back(span_link{decider.trace_id, decider.span_id, "decided_by"});
    auto* rt = &eng_.rt;
    ctx.after_commit([rt, s] { rt->record_spans({s}); });
  }

  void on_expiry(context& ctx, const json::object& p) {
    auto id = member_string(p, "step");
    auto sv = member_object(st_, "steps").if_contains(id);
    if (!sv || member_string(sv->as_object(), "state") != "awaiting_approval")
      return; // decided in time
    auto& a = sv->as_object()["approval"].as_object();
    if (member_string(a, "arguments_sha256") != member_string(p, "arguments_sha256"))
      return;
    auto requested = requested_ms(a); // read before the event changes the state
    ctx.emit_raw(approval_decided_event,
                 json::serialize(json::object{
                   {"step", id}, {"decision", "expire"}, {"by", "expiry"}, {"at_ms", wall_ms()}}));
    record_wait(ctx, id, requested, "expire", "expiry");
  }

  void on_cancel(context& ctx, const json::object& p) {
    stop(ctx, "cancelled", json::object{{"cancelled_by", p.at("by")}});
  }

  /// Stops a running plan for `cause`: pending steps are skipped, running
  /// ones asked to stop, completed ones compensated.
  void stop(context& ctx, const std::string& cause, json::object extra) {
    if (state() != "running")
      return; // ended, or already stopping
    extra["state"] = "compensating";
    extra["cause"] = cause;
    extra["at_ms"] = wall_ms();
    ctx.emit_raw(stopping_event, json::serialize(extra));
    // Running steps are asked to stop; their outcomes still arrive.
    for (auto& [id, sv] : member_object(st_, "steps")) {
      auto& st = sv.as_object();
      if (member_string(st, "state") != "running")
        continue;
      auto call_id = member_string(st, "call_id");
      auto* srv = &eng_.srv;
      ctx.after_commit([srv, call_id] { srv->cancel(call_id); });
    }
  }

  engine::impl& eng_;
  json::object st_;
};

} // namespace

void register_plan_kind(engine::impl& e) {
  kind_options k;
  // The state is small and read by every status request: one row.
  k.snapshot_every = 1;
  k.idle_timeout = std::chrono::milliseconds{5000};
  for (auto type :
       {submit_type, reject_type, decide_type, cancel_type, expire_type, deadline_type}) {
    message_codec c;
    c.type = type;
    c.json_passthrough = true;
    c.from_json = [](std::string_view j) -> caf::expected<std::string> { return std::string{j}; };
    c.to_json = [](std::string_view b) -> caf::expected<std::string> { return std::string{b}; };
    k.accepts.push_back(c);
  }
  for (auto type :
       {accepted_event, rejected_event, step_started_event, approval_requested_event,
        approval_decided_event, decision_refused_event, step_finished_event, stopping_event,
        compensation_started_event, compensation_finished_event, finished_event}) {
    message_codec c;
    c.type = type;
    c.json_passthrough = true;
    c.to_json = [](std::string_view b) -> caf::expected<std::string> { return std::string{b}; };
    k.events.push_back(c);
  }
  k.events.push_back(cairn::json::codec_for<mcp::tool_outcome>());
  // Submissions, decisions and cancellations are checked at the front door
  // (scopes, hashes): nobody writes to a plan's mailbox around it.
  k.closed_door = "use /api/v1/plans and /api/v1/approvals";
  if (auto err = e.rt.register_kind(
        "plan", [&e](std::string_view) { return std::make_unique<plan_actor>(e); }, k))
    throw std::invalid_argument("cannot register the plan kind: " + render(err));
}

} // namespace cairn::workflow
