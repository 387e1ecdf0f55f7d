// SPDX-License-Identifier: Apache-2.0
// The orchestrator's front door: validation and policy before anything
// runs, then one durable message to the plan actor; reads of plans and
// approvals from the plan actors' stored state.
#include "cairn/workflow/engine.hpp"

#include <algorithm>
#include <future>
#include <random>

#include <spdlog/spdlog.h>

#include "cairn/error.hpp"
#include "cairn/workflow/canonical_json.hpp"
#include "internal/engine_impl.hpp"

namespace cairn::workflow {

bool final_state(std::string_view s) {
  return s == "rejected" || s == "succeeded" || s == "failed" || s == "compensated"
         || s == "compensation_failed" || s == "cancelled";
}

namespace {

risk_level risk_of(mcp::risk_class r) {
  return r == mcp::risk_class::high     ? risk_level::high
         : r == mcp::risk_class::medium ? risk_level::medium
                                        : risk_level::low;
}

std::string random_hex(size_t n) {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(hex[gen() & 15]);
  return out;
}

/// A new plan id: time first, so ids sort by submission; or, for an
/// idempotency key, the same id for the same caller and key every time.
/// In a cluster an unkeyed id is drawn so that this node owns the plan: the
/// caller waiting here (a synchronous submit, an event stream) hears of its
/// steps. A few draws; a node owning no shard takes any id.
std::string new_plan_id(const runtime& rt, const caller& who,
                        const std::optional<std::string>& key) {
  if (key)
    return "plan/k" + sha256_hex(who.name + '\n' + *key).substr(0, 24);
  char ms[17];
  std::snprintf(ms, sizeof ms, "%012llx", static_cast<unsigned long long>(wall_ms()));
  std::string id;
  for (int draw = 0; draw < 64; ++draw) {
    id = std::string{"plan/"} + ms + random_hex(8);
    if (rt.owns(id))
      break;
  }
  return id;
}

json::array problems_json(const std::vector<plan_problem>& ps) {
  json::array out;
  for (const auto& p : ps)
    out.push_back(
      json::object{{"step", p.step}, {"path", p.path}, {"code", p.code}, {"message", p.message}});
  return out;
}

std::string str(const json::object& o, std::string_view key) {
  auto v = o.if_contains(key);
  return v && v->is_string() ? std::string{v->as_string()} : std::string{};
}

} // namespace

std::shared_ptr<const engine::impl::catalog_cache> engine::impl::current_catalog() {
  auto gen = srv.tools_generation();
  std::lock_guard lock{catalog_mu};
  if (catalog && catalog->generation == gen)
    return catalog;
  auto c = std::make_shared<catalog_cache>();
  c->generation = gen;
  for (auto& t : srv.contracts()) {
    catalog_tool ct;
    ct.input_schema = t.input_schema;
    ct.output_schema = t.output_schema;
    ct.risk = risk_of(t.risk);
    ct.cost = t.cost;
    c->catalog.tools[t.name] = std::move(ct);
    c->contracts[t.name] = std::move(t);
  }
  catalog = c;
  return c;
}

void engine::impl::on_step(const std::string& actor_id) {
  if (watched.load(std::memory_order_relaxed) == 0 || actor_id.rfind("plan/", 0) != 0)
    return;
  // Called under the lock: once `unwatch` returns, its callback never runs
  // again (callbacks are cheap and never take this lock).
  std::lock_guard lock{watch_mu};
  auto [from, to] = watchers.equal_range(actor_id);
  for (auto it = from; it != to; ++it)
    it->second.second();
  watch_cv.notify_all();
}

caf::expected<json::object> engine::impl::read_plan(const std::string& id) {
  if (id.rfind("plan/", 0) != 0)
    return make_error(errc::not_found, "no plan " + id + " (plan ids start with plan/)");
  auto s = rt.describe(id);
  if (!s)
    return code_of(s.error()) == errc::not_found
             ? caf::expected<json::object>{make_error(errc::not_found, "no plan " + id)}
             : caf::expected<json::object>{std::move(s.error())};
  if (!s->state_error.empty())
    return make_error(errc::corrupt_record, "plan " + id + ": " + s->state_error);
  boost::system::error_code ec;
  auto v = json::parse(s->state_json, ec);
  if (ec || !v.is_object() || v.as_object().empty()) {
    // Accepted, and its actor has not taken the submission yet.
    if (s->mailbox_depth > 0)
      return json::object{{"id", id}, {"state", "submitted"}};
    return make_error(errc::not_found, "no plan " + id);
  }
  return std::move(v.as_object());
}

void engine::impl::tell(const std::string& plan_id, const char* type, const json::object& payload,
                        std::string idempotency_key, std::function<void(caf::error)> done,
                        std::string traceparent) {
  envelope env;
  env.traceparent = std::move(traceparent); // empty: a trace of its own
  env.from = "orchestrator";
  env.to = plan_id;
  env.type = type;
  env.format = static_cast<uint8_t>(payload_format::json);
  env.payload = json::serialize(payload);
  env.idempotency_key = std::move(idempotency_key);
  rt.accept_async(std::move(env), [done = std::move(done)](caf::expected<std::string> r) {
    done(r ? caf::error{} : std::move(r.error()));
  });
}

engine::engine(runtime& rt, mcp::server& srv, engine_options opts)
  : impl_(std::make_unique<impl>(rt, srv, std::move(opts))) {}

engine::~engine() {
  shutdown();
}

caf::error
engine::events(const std::string& plan_id, uint64_t from_seq, size_t limit,
               const std::function<void(uint64_t, std::string_view, std::string_view)>& fn) {
  return impl_->rt.read_journal(plan_id, from_seq, limit, fn);
}

bool engine::here(const std::string& plan_id) const {
  return impl_->rt.owns(plan_id);
}

std::chrono::milliseconds engine::sync_wait() const {
  return impl_->opts.sync_wait;
}

std::shared_ptr<void> engine::hold_waiter() {
  auto* d = impl_.get();
  std::lock_guard lock{d->watch_mu};
  if (d->stopping || d->waiters >= max_waiters)
    return nullptr;
  ++d->waiters;
  // Points at the engine (never deleted): a held place is not null.
  return std::shared_ptr<void>(d, [d](void*) {
    std::lock_guard release{d->watch_mu};
    --d->waiters;
    d->watch_cv.notify_all();
  });
}

bool engine::stopping() const {
  std::lock_guard lock{impl_->watch_mu};
  return impl_->stopping;
}

void engine::shutdown() {
  auto& d = *impl_;
  std::unique_lock lock{d.watch_mu};
  d.stopping = true;
  d.watch_cv.notify_all();
  d.watch_cv.wait(lock, [&] { return d.waiters == 0; });
}

void engine::attach() {
  register_plan_kind(*impl_);
  auto* d = impl_.get();
  impl_->rt.observe_steps([d](const std::string& id) { d->on_step(id); });
  register_plan_tools(*this, *impl_);
}

caf::error engine::add_workflows(const json::value& config) {
  return add_workflow_tools(*this, impl_->srv, config);
}

caf::error engine::set_policies(const json::value& config) {
  auto parsed = parse_policies(config);
  if (!parsed.errors.empty()) {
    std::string all;
    for (const auto& e : parsed.errors)
      all += (all.empty() ? "" : "; ") + e;
    return make_error(errc::invalid_argument, "policies: " + all);
  }
  auto p = std::make_shared<const policy_set>(std::move(parsed.value));
  std::lock_guard lock{impl_->policy_mu};
  impl_->policies = std::move(p);
  return {};
}

namespace {

/// Waits for an asynchronous answer (for callers that may block).
template <class T, class Start>
T await(Start start) {
  std::promise<T> p;
  auto f = p.get_future();
  start([&p](T v) { p.set_value(std::move(v)); });
  return f.get();
}

} // namespace

caf::expected<engine::submission> engine::submit(const json::value& document, const caller& who) {
  return await<caf::expected<submission>>(
    [&](auto done) { submit_async(document, who, std::move(done)); });
}

caf::error engine::cancel(const std::string& plan_id, const std::string& by, std::string reason) {
  return await<caf::error>(
    [&](auto done) { cancel_async(plan_id, by, std::move(reason), std::move(done)); });
}

caf::error engine::decide(const std::string& approval_id, const std::string& decision,
                          const std::string& arguments_sha256, const std::string& by,
                          std::string comment) {
  return await<caf::error>([&](auto done) {
    decide_async(approval_id, decision, arguments_sha256, by, std::move(comment), std::move(done));
  });
}

void engine::submit_async(const json::value& document, const caller& who,
                          std::function<void(caf::expected<submission>)> done) {
  auto& d = *impl_;
  auto cat = d.current_catalog();
  std::shared_ptr<const policy_set> pol;
  {
    std::lock_guard lock{d.policy_mu};
    pol = d.policies;
  }
  tool_catalog catalog = cat->catalog;
  if (who.tools)
    catalog.restrict_to(scope_from_globs(*who.tools));
  validation_options vo;
  vo.bounds = d.opts.bounds;
  vo.argument_risk = risk_seam(*pol, who.name);
  // Its trace: the validation is a span under the submitter's, its
  // verdicts spans under that, and the plan's steps descend from it.
  auto validate_ctx = child_of(who.traceparent);
  trace_context submitter;
  bool has_submitter = parse_traceparent(who.traceparent, submitter);
  auto validate_start = now_us();
  std::vector<span_record> spans;
  auto report = validate_plan(document, catalog, vo);
  submission out;
  // Policy: a verdict per step, from the arguments as submitted.
  json::object steps;
  json::array order;
  bool all_allowed = true;
  if (report.ok()) {
    for (size_t i = 0; i < report.parsed.steps.size(); ++i) {
      const auto& s = report.parsed.steps[i];
      const auto& a = report.steps[i];
      auto decide_start = now_us();
      auto dec = pol->decide(s.tool, who.name, s.arguments, cat->catalog.find(s.tool)->risk);
      {
        span_record v;
        v.trace_id = validate_ctx.trace_id;
        v.span_id = new_trace().span_id;
        v.parent_span_id = validate_ctx.span_id;
        v.name = std::string{"policy "} + to_string(dec.v);
        v.kind = span_kind::internal;
        v.start_us = decide_start;
        v.end_us = std::max(now_us(), decide_start);
        v.status = dec.v == verdict::deny ? span_status::error : span_status::ok;
        if (dec.v == verdict::deny)
          v.status_message = "denied by " + (dec.rule.empty() ? dec.source : "rule " + dec.rule);
        v.attributes = {{"cairn.step.id", s.id},
                        {"gen_ai.tool.name", s.tool},
                        {"cairn.policy.verdict", std::string{to_string(dec.v)}},
                        {"cairn.policy.rule", dec.rule.empty() ? dec.source : dec.rule}};
        spans.push_back(std::move(v));
      }
      if (dec.v == verdict::deny) {
        report.problems.push_back(plan_problem{
          s.id, "$.steps[" + std::to_string(s.index) + "]", "denied",
          "policy " + (dec.rule.empty() ? dec.source : "rule " + dec.rule) + " denies it"
            + (dec.reason.empty() ? std::string{} : ": " + dec.reason)});
        continue;
      }
      all_allowed = all_allowed && dec.v == verdict::allow;
      json::array after;
      for (const auto& x : s.after)
        after.emplace_back(x);
      json::object step{{"tool", s.tool},
                        {"index", s.index},
                        {"after", std::move(after)},
                        {"arguments", s.arguments},
                        {"risk", to_string(std::max(a.risk, dec.risk))},
                        {"cost", a.cost},
                        {"verdict", to_string(dec.v)},
                        {"rule", dec.rule.empty() ? dec.source : dec.rule},
                        {"reason", dec.reason},
                        {"state", "pending"}};
      if (dec.v == verdict::approve) {
        step["approver"] = dec.approver;
        step["expires_s"] = static_cast<int64_t>(dec.expires.count());
      }
      const auto& contract = cat->contracts.at(s.tool);
      step["compensation"] = contract.compensation;
      steps[s.id] = std::move(step);
      order.emplace_back(s.id);
    }
  }
  auto now = wall_ms();
  // A rejected plan gets an id of its own: fixed, it may be sent again
  // with the same key.
  out.id = new_plan_id(impl_->rt, who, report.ok() ? report.parsed.idempotency_key : std::nullopt);
  out.report = report;
  {
    span_record v;
    v.trace_id = validate_ctx.trace_id;
    v.span_id = validate_ctx.span_id;
    if (has_submitter)
      v.parent_span_id = submitter.span_id;
    v.name = "plan validate";
    v.kind = span_kind::internal;
    v.start_us = validate_start;
    v.end_us = std::max(now_us(), validate_start);
    v.status = report.ok() ? span_status::ok : span_status::error;
    if (!report.ok())
      v.status_message = std::to_string(report.problems.size()) + " problems";
    v.attributes = {{"cairn.plan.id", out.id},
                    {"cairn.plan.steps", static_cast<int64_t>(report.parsed.steps.size())},
                    {"cairn.plan.risk", std::string{to_string(report.risk)}},
                    {"cairn.caller", who.name}};
    for (auto& x : spans)
      x.attributes.push_back({"cairn.plan.id", out.id});
    spans.push_back(std::move(v));
    d.rt.record_spans(std::move(spans));
  }
  auto plan_traceparent = format_traceparent(validate_ctx);
  if (!report.ok()) {
    // The one trace a rejected plan leaves: its rejection, journaled.
    json::object rej{{"id", out.id},
                     {"caller", who.name},
                     {"submitted_ms", now},
                     {"problems", problems_json(report.problems)},
                     {"at_ms", now}};
    d.tell(
      out.id, reject_type, rej, {},
      [out, done](caf::error err) mutable {
        if (err)
          return done(std::move(err));
        done(std::move(out));
      },
      plan_traceparent);
    return;
  }
  out.sync = all_allowed && report.risk == risk_level::low;
  json::object st{{"id", out.id},
                  {"state", "running"},
                  {"caller", who.name},
                  {"submitted_ms", now},
                  {"risk", to_string(report.risk)},
                  {"cost", report.cost},
                  {"depth", report.depth},
                  {"width", report.width},
                  {"order", std::move(order)},
                  {"completed", json::array{}},
                  {"steps", std::move(steps)},
                  {"at_ms", now}};
  if (report.parsed.idempotency_key)
    st["idempotency_key"] = *report.parsed.idempotency_key;
  // The plan's trace: what an approval or a cancel lets go on joins it.
  st["traceparent"] = plan_traceparent;
  auto deadline = report.parsed.deadline.value_or(std::chrono::system_clock::now()
                                                  + d.opts.bounds.default_deadline);
  st["deadline_ms"] =
    std::chrono::duration_cast<std::chrono::milliseconds>(deadline.time_since_epoch()).count();
  std::string key;
  if (report.parsed.idempotency_key) {
    key = out.id + "/submit";
    if (auto earlier = d.read_plan(out.id); earlier)
      out.duplicate = true;
  }
  out.view = st;
  d.tell(
    out.id, submit_type, st, key,
    [out, done](caf::error err) mutable {
      if (err)
        return done(std::move(err));
      done(std::move(out));
    },
    plan_traceparent);
}

caf::expected<json::object> engine::plan(const std::string& id) {
  return impl_->read_plan(id);
}

void engine::cancel_async(const std::string& plan_id, const std::string& by, std::string reason,
                          std::function<void(caf::error)> done) {
  auto p = impl_->read_plan(plan_id);
  if (!p)
    return done(std::move(p.error()));
  auto state = str(*p, "state");
  if (final_state(state))
    return done(make_error(errc::conflict, "plan " + plan_id + " has ended: " + state));
  if (state != "running" && state != "submitted")
    return done(make_error(errc::conflict, "plan " + plan_id + " is already stopping: " + state));
  impl_->tell(plan_id, cancel_type, json::object{{"by", by}, {"reason", reason}}, {},
              std::move(done));
}

void engine::decide_async(const std::string& approval_id, const std::string& decision,
                          const std::string& arguments_sha256, const std::string& by,
                          std::string comment, std::function<void(caf::error)> done,
                          std::string traceparent) {
  if (decision != "approve" && decision != "deny")
    return done(make_error(errc::invalid_argument, "decision must be approve or deny"));
  auto a = approval(approval_id);
  if (!a)
    return done(std::move(a.error()));
  if (str(*a, "state") != "pending")
    return done(make_error(errc::conflict,
                           "approval " + approval_id + " is not pending: " + str(*a, "state")));
  if (str(*a, "arguments_sha256") != arguments_sha256)
    return done(
      make_error(errc::conflict, "approval " + approval_id + " is for arguments with SHA-256 "
                                   + str(*a, "arguments_sha256") + ", not " + arguments_sha256
                                   + ": look at the arguments again before deciding"));
  json::object msg{{"step", a->at("step")},
                   {"decision", decision},
                   {"arguments_sha256", arguments_sha256},
                   {"by", by}};
  if (!comment.empty())
    msg["comment"] = comment;
  impl_->tell(str(*a, "plan"), decide_type, msg, {}, std::move(done), std::move(traceparent));
}

uint64_t engine::watch(const std::string& plan_id, std::function<void()> changed) {
  auto& d = *impl_;
  std::lock_guard lock{d.watch_mu};
  auto h = d.next_watch++;
  d.watchers.emplace(plan_id, std::make_pair(h, std::move(changed)));
  d.watched.fetch_add(1);
  return h;
}

void engine::unwatch(uint64_t handle) {
  auto& d = *impl_;
  std::lock_guard lock{d.watch_mu};
  for (auto it = d.watchers.begin(); it != d.watchers.end(); ++it)
    if (it->second.first == handle) {
      d.watchers.erase(it);
      d.watched.fetch_sub(1);
      return;
    }
}

caf::expected<json::object> engine::wait(const std::string& plan_id,
                                         std::chrono::milliseconds timeout,
                                         const std::function<bool()>& stop) {
  auto& d = *impl_;
  auto until = std::chrono::steady_clock::now() + timeout;
  // Steps of this plan seen (written under watch_mu by on_step): the plan is
  // read again only when it changed.
  auto changes = std::make_shared<uint64_t>(0);
  auto h = watch(plan_id, [changes] { ++*changes; });
  struct unwatch_on_exit {
    engine* e;
    uint64_t h;
    ~unwatch_on_exit() { e->unwatch(h); }
  } guard{this, h};
  for (;;) {
    uint64_t seen;
    {
      std::lock_guard lock{d.watch_mu};
      seen = *changes;
    }
    auto p = d.read_plan(plan_id);
    if (p && final_state(str(*p, "state")))
      return p;
    if (std::chrono::steady_clock::now() >= until || (stop && stop()) || stopping()) {
      if (p)
        return p;
      return std::move(p.error());
    }
    std::unique_lock lock{d.watch_mu};
    // A bounded wait also notices `stop`.
    d.watch_cv.wait_until(
      lock, std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds{200}),
      [&] { return *changes != seen || d.stopping; });
  }
}

} // namespace cairn::workflow
