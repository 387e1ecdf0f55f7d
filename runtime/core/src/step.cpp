// SPDX-License-Identifier: Apache-2.0
// One step: run the handler (or hand the rest of it to the blocking pool)
// and turn its effects or its failure into one commit request. What its
// commit brings back is in step_commit.cpp.
#include <algorithm>
#include <optional>

#include "cairn/log_context.hpp"
#include "internal/derived_ids.hpp"
#include "internal/runtime_impl.hpp"
#include "internal/span_codec.hpp"

namespace cairn {

namespace {

/// `fx` as a new step starts it, keeping what it has allocated. Every
/// member is named: a member added to `step_effects` must be added here.
void empty_effects(step_effects& fx) {
  fx.sends.clear();
  fx.events.clear();
  fx.span_id.clear();
  fx.start_us = 0;
  fx.end_us = 0;
  fx.descend_from.clear();
  fx.published.clear();
  fx.after_commit.clear();
  fx.deferred = nullptr;
  fx.apply_failure = caf::error{};
}

/// Whether `row`'s traceparent is the one its accept derived from its id
/// (`step_hint`): then its parts are where that format puts them, found
/// without reading the text (written by another thread: a cache miss).
bool derived_trace(const mailbox_record& row) {
  return row.hint.derived_trace && row.env.traceparent.size() == 55;
}

/// The trace id a step's log lines name (`trace_id_of` of its traceparent).
std::string_view trace_id_to_log(const mailbox_record& row) {
  if (derived_trace(row))
    return std::string_view{row.env.traceparent.data() + 3, 32};
  return trace_id_of(row.env.traceparent);
}

/// `traceparent_ids` of `row`'s traceparent.
bool trace_ids_of(const mailbox_record& row, std::string_view& trace_id,
                  std::string_view& parent_span) {
  if (!derived_trace(row))
    return traceparent_ids(row.env.traceparent, trace_id, parent_span);
  trace_id = std::string_view{row.env.traceparent.data() + 3, 32};
  parent_span = std::string_view{row.env.traceparent.data() + 36, 16};
  return true;
}

// The members `empty_effects` names, counted by size: one more, or one
// fewer, changes it (libstdc++ on a 64-bit target).
static_assert(sizeof(void*) != 8
                || sizeof(step_effects)
                     == 4 * sizeof(std::vector<int>) + 2 * sizeof(std::string) + 2 * sizeof(int64_t)
                          + sizeof(std::function<void()>) + sizeof(caf::error),
              "step_effects changed: update empty_effects");

} // namespace

void runtime::impl::run_next(activation_actor* self) {
  auto& st = self->state;
  // Nothing runs while a deferred step is open, while failed requests come
  // back, while state must be rebuilt after the flights, at the flight
  // limit, or after a retry or dead letter in flight (the head's fate).
  if (st.open || st.failing || st.reload || st.flights.size() >= max_flights
      || (!st.flights.empty() && st.flights.back().what != outcome::done))
    return;
  auto head = st.queue.begin();
  while (head != st.queue.end() && head->second.running)
    ++head;
  // Behind a flight only a staged row runs (its write waits for this step);
  // others wait for the commit and run in a fuller request.
  if (!st.flights.empty() && (head == st.queue.end() || !head->second.provisional))
    return; // the flights' commits run what comes next
  if (st.queue.empty() && st.overflow) {
    // Cleared before the read: a row committed after the read was routed
    // here with its envelope, one committed before is in what we read.
    st.window_full->store(false);
    load_mailbox(self);
    if (st.queue.empty() && st.overflow) { // the read failed: storage is recovering
      self->delayed_send(self, std::chrono::milliseconds{200}, tick_atom::value);
      return;
    }
    head = st.queue.begin();
  }
  if (st.queue.empty()) {
    if (!st.idle_armed) {
      st.idle_armed = true;
      // No idle time: straight to the mailbox, not through the clock (whose
      // thread each timer wakes: one per activation of a one-shot kind).
      if (st.kind->opts.idle_timeout.count() <= 0)
        self->send(self, idle_atom::value);
      else
        self->delayed_send(self, st.kind->opts.idle_timeout, idle_atom::value);
    }
    return;
  }
  // One clock reading per step: a step ends when the next one starts.
  auto clock_us = now_us();
  auto start = clock_us / 1000;
  if (auto due = head->second.env.not_before_ms; due > start) {
    // One tick per backoff, however many deliveries arrive meanwhile.
    if (st.tick_due == 0 || st.tick_due > due) {
      st.tick_due = due;
      self->delayed_send(self, std::chrono::milliseconds{due - start}, tick_atom::value);
    }
    return;
  }
  st.last_activity = start;
  // The head runs, then the messages after it while they succeed, each on
  // the state the one before left: one commit request for all of them.
  commit_request req;
  req.home = st.id;
  st.batch.clear();
  // Room for the rows there are (the last request took the vectors' blocks
  // with it): one block each, not one per doubling.
  auto rows = std::min(st.queue.size(), max_steps_per_commit);
  st.batch.reserve(rows);
  if (head->second.provisional)
    req.consumes.reserve(rows);
  // One set of effects for the run, emptied before each step: what the
  // steps before moved out leaves the capacity behind (the span id's
  // sixteen digits, the vectors a step fills), not a heap block to free
  // and take again per step.
  step_effects fx;
  for (auto it = head; it != st.queue.end() && st.batch.size() < max_steps_per_commit; ++it) {
    if (it->second.running)
      continue;
    auto seq = it->first;
    const auto& env = it->second.env;
    const auto& hint = it->second.hint;
    bool first = st.batch.empty() && st.flights.empty();
    auto now = first ? start : clock_us / 1000;
    bool late = env.deadline_ms > 0 && now > env.deadline_ms;
    if (!first && (late || env.not_before_ms > now))
      break; // a step of its own, after these commit
    empty_effects(fx);
    // Its span id, made here from the message: the span need not hash it again.
    auto span_value = hint.id_hash != 0
                        ? internal::step_span_value_of_hash(hint.id_hash, env.attempt)
                        : internal::step_span_value(env.id, env.attempt);
    fx.span_id.assign(16, '0');
    internal::put_hex64(fx.span_id.data(), span_value);
    fx.start_us = clock_us;
    caf::error failure;
    if (late) {
      failure = make_error(errc::deadline_exceeded, "deadline passed before the message could run");
    } else {
      // Lines the handler logs name this step (cairn/log_context.hpp).
      log_scope scope{trace_id_to_log(it->second), fx.span_id, st.id};
      try {
        context ctx{*st.impl, env, fx, &stopping};
        failure = st.impl->handle(ctx, env);
        if (!failure && fx.apply_failure)
          failure = std::move(fx.apply_failure);
      } catch (const std::exception& e) {
        failure = make_error(errc::handler_failed, std::string{"handler threw: "} + e.what());
      } catch (...) {
        failure = make_error(errc::handler_failed, "handler threw a non-standard exception");
      }
    }
    if (!failure && !fx.deferred && !fx.sends.empty())
      failure = check_sends(fx);
    if (!first && (failure || fx.deferred)) {
      // It runs again, alone, once the steps before it have committed and
      // the state is rebuilt without what it changed.
      st.reload = true;
      break;
    }
    if (failure || fx.deferred) {
      if (!failure) {
        if (defer_step(self, seq, now, std::move(fx)))
          return;
        empty_effects(fx);
        failure = make_error(errc::busy, "too much blocking work in flight; will retry");
      }
      finish_step(self, seq, now, fx, std::move(failure));
      return;
    }
    clock_us = now_us();
    fx.end_us = clock_us;
    add_done_step(st, req, seq, it->second, now, fx, span_value);
  }
  if (st.batch.empty())
    return; // a handler failed behind the flights: rebuilt, then run, after them
  submit_steps(self, req, st.batch.front());
}

bool runtime::impl::defer_step(activation_actor* self, uint64_t seq, int64_t start,
                               step_effects fx) {
  auto& st = self->state;
  auto open = std::make_shared<deferred_step>();
  open->actor = st.impl;
  open->env = st.queue.at(seq).env;
  open->fx = std::move(fx);
  open->seq = seq;
  open->start = start;
  internal::blocking_pool::job job;
  job.run = [open, handle = caf::actor{self}, flag = &stopping] {
    auto rest = std::move(open->fx.deferred);
    open->fx.deferred = nullptr;
    caf::error err;
    try {
      context ctx{*open->actor, open->env, open->fx, flag};
      err = rest(ctx);
    } catch (const std::exception& e) {
      err = make_error(errc::handler_failed, std::string{"handler threw: "} + e.what());
    } catch (...) {
      err = make_error(errc::handler_failed, "handler threw a non-standard exception");
    }
    if (!err && open->fx.apply_failure)
      err = std::move(open->fx.apply_failure);
    if (!err && open->fx.deferred)
      err = make_error(errc::handler_failed, "a deferred step may not defer again");
    if (!err && flag->load())
      err = make_error(errc::shutting_down, "the node stopped during the step");
    caf::anon_send(handle, resumed_atom::value, std::move(err));
  };
  job.on_drop = [handle = caf::actor{self}] {
    caf::anon_send(handle, resumed_atom::value,
                   make_error(errc::shutting_down, "the node stopped before the step ran"));
  };
  if (!pool || !pool->submit(job))
    return false;
  st.open = std::move(open);
  steps_in_flight.fetch_add(1);
  return true;
}

void runtime::impl::on_resumed(activation_actor* self, caf::error err) {
  auto& st = self->state;
  auto open = std::move(st.open);
  st.open.reset();
  if (!open)
    return;
  steps_in_flight.fetch_sub(1);
  if (stopping.load())
    return; // not committed: the message runs again after a restart
  finish_step(self, open->seq, open->start, open->fx, std::move(err));
}

caf::error runtime::impl::check_sends(const step_effects& fx) {
  for (const auto& out : fx.sends) {
    if (!valid_actor_id(out.env.to))
      return make_error(errc::invalid_argument, "invalid receiver id '" + out.env.to + "'");
    if (!find_kind(out.env.to))
      return make_error(errc::unknown_actor_kind,
                        "no actor kind '" + std::string{kind_of(out.env.to)} + "' is registered");
  }
  return {};
}

namespace {

/// The span of the step that handled `env` (its status is set by the caller).
span_record span_of(const activation_state& st, const envelope& env, const trace_context& parent,
                    int64_t start, const step_effects& fx, int64_t started_ms) {
  span_record span;
  // The step's own span id was drawn when it started (`fx.span_id`); the
  // envelope's trace context was parsed into `parent` by the caller.
  auto me = parent.trace_id.empty() || fx.span_id.empty() ? new_trace() : trace_context{};
  span.trace_id = parent.trace_id.empty() ? me.trace_id : parent.trace_id;
  span.span_id = fx.span_id.empty() ? me.span_id : fx.span_id;
  span.parent_span_id = parent.span_id;
  span.kind = span_kind::consumer;
  span.actor = st.id;
  span.type = env.type;
  span.envelope_id = env.id;
  span.attempt = env.attempt;
  span.start_us = fx.start_us > 0 ? fx.start_us : start * 1000;
  span.end_us = fx.end_us > 0 ? fx.end_us : now_us();
  if (env.attempt > 0) // a retry: it follows the attempt before it
    span.links.push_back(
      span_link{span.trace_id, step_span_id(env.id, env.attempt - 1), "retry_of"});
  // Accepted by an earlier run of this node: the work resumes after a
  // restart, linked to the span that sent it (the accept).
  if (env.created_ms > 0 && env.created_ms < started_ms) {
    span.attributes.push_back(span_attribute{"cairn.resumed", true});
    if (!parent.span_id.empty())
      span.links.push_back(span_link{span.trace_id, parent.span_id, "resumed_from"});
  }
  return span;
}

/// Adds a step's span to its commit (which writes the spans of all its
/// steps in one `trace` row).
void put_span(std::string& spans, const span_record& span) {
  if (span.trace_id.size() != keys::trace_id_size)
    return;
  internal::append_span_member(spans, span);
}

} // namespace

void runtime::impl::add_done_step(activation_state& st, commit_request& req, uint64_t seq,
                                  mailbox_record& row, int64_t start, step_effects& fx,
                                  uint64_t span_value) {
  row.running = true;
  const auto& env = row.env;
  const auto& kopts = st.kind->opts;
  std::string_view trace_id, parent_span;
  bool traced = trace_ids_of(row, trace_id, parent_span);
  // Every commit writes its step's span: the common case is encoded
  // straight from the step's own values, before its sends move away (no
  // span_record, no copies). A step without trace context starts a trace
  // of its own, the long way.
  bool direct = opts.record_spans && traced && !fx.span_id.empty();
  std::optional<span_record> span; // the long way only
  if (opts.record_spans && !direct) {
    trace_context parent;
    parse_traceparent(env.traceparent, parent);
    span = span_of(st, env, parent, start, fx, started_ms);
  }
  uint64_t first_event = fx.events.empty() ? 0 : st.next_journal_seq;
  auto events = static_cast<uint32_t>(fx.events.size());
  if (direct)
    put_step_span(req, st, row, trace_id, parent_span, start, fx, first_event, events, span_value);
  // A row handed over by a write this process saw succeed, and never
  // rewritten, exists once on disk: its write and its deletion can vanish
  // together at the next flush. Any other row (retried, or read back from
  // storage, where a failed write may have put it again) takes a plain
  // deletion (storage.hpp, `erase_once`). Decided by where the row came
  // from, never by its contents.
  // A staged row (routed before its write) is named, not deleted: the
  // writer drops it with its put if both are in one write.
  if (row.provisional)
    req.consumes.push_back(seq);
  else if (row.written_once)
    req.ops.erase_once(column::mailbox, keys::actor_seq(st.id, seq));
  else
    req.ops.erase(column::mailbox, keys::actor_seq(st.id, seq));
  auto committed_ms = fx.events.empty() ? 0 : now_ms(); // the clock only for events
  if (span) {
    span->first_event = first_event;
    span->events = events;
  }
  for (auto& ev : fx.events) {
    journal_record jr{std::move(ev.type), std::move(ev.payload), committed_ms, env.id,
                      std::string{trace_id}};
    req.ops.put(column::journal, keys::actor_seq(st.id, st.next_journal_seq++), encode(jr));
    ++st.events_since_snapshot;
  }
  if (kopts.snapshot_every > 0 && st.events_since_snapshot >= kopts.snapshot_every) {
    std::optional<std::string> snap;
    if (st.flights.empty()) {
      snap = st.impl->snapshot(); // throws: the activation ends, nothing in flight
    } else {
      // With a commit in flight the activation must not end: a snapshot
      // that fails is taken (or fails for good) by a later request.
      try {
        snap = st.impl->snapshot();
      } catch (...) {
        snap.reset();
      }
    }
    if (snap) {
      std::string value;
      keys::append_be64(value, st.next_journal_seq - 1);
      value += *snap;
      req.ops.put(column::snapshot, st.id, std::move(value));
      st.events_since_snapshot = 0;
    }
  }
  for (auto& out : fx.sends) {
    if (span)
      span->sent.push_back(sent_message{out.env.id, out.env.to, out.env.type});
    if (out.due_ms > 0)
      req.timers.emplace_back(out.due_ms, std::move(out.env));
    else {
      req.dedupe_each.push_back(out.keyed);
      req.enqueue.push_back(std::move(out.env));
    }
  }
  for (auto& p : fx.published)
    req.publish.push_back(std::move(p));
  for (auto& fn : fx.after_commit)
    st.after_commit.push_back(std::move(fn));
  st.pending = outcome::done;
  if (span) {
    span->status = span_status::ok;
    put_span(req.spans, *span);
  }
  st.batch_staged = (st.batch.empty() || st.batch_staged) && row.provisional;
  st.batch.push_back(seq);
}

void runtime::impl::finish_step(activation_actor* self, uint64_t seq, int64_t start,
                                step_effects& fx, caf::error failure) {
  auto& st = self->state;
  if (!failure)
    failure = check_sends(fx);
  commit_request req;
  req.home = st.id;
  st.batch.clear();
  if (!failure) {
    add_done_step(st, req, seq, st.queue.at(seq), start, fx);
    return submit_steps(self, req, seq);
  }
  auto& rec = st.queue.at(seq);
  rec.running = true;
  const auto& env = rec.env;
  const auto& kopts = st.kind->opts;
  auto mkey = keys::actor_seq(st.id, seq);
  if (rec.provisional) // refused if the message's own write failed
    req.after_rows.push_back(seq);
  trace_context parent;
  parse_traceparent(env.traceparent, parent);
  span_record span;
  if (opts.record_spans)
    span = span_of(st, env, parent, start, fx, started_ms);
  failed.fetch_add(1);
  st.kind->counters->failed.fetch_add(1);
  auto failures = env.attempt + 1;
  auto why = render(failure);
  span.status = span_status::error;
  span.status_message = why;
  // Malformed input fails the same way every time: no retry.
  bool permanent = !retryable(failure);
  if (permanent || failures >= kopts.retry.max_attempts) {
    dead_letter dl;
    dl.env = env;
    dl.env.attempt = failures;
    dl.error = why;
    dl.attempts = failures;
    dl.failed_ms = now_ms();
    dl.attempt_ms = rec.attempt_ms;
    dl.attempt_ms.push_back(start);
    req.ops.erase(column::mailbox, mkey);
    req.ops.put(column::dead, env.id, encode(dl));
    if (st.kind->opts.on_dead_letter)
      st.dead = dl;
    st.pending = outcome::dead;
    log_scope scope{parent.trace_id, fx.span_id, st.id};
    spdlog::warn("message {} ({}) dead-lettered after {} attempts: {}", env.id, env.type, failures,
                 why);
  } else {
    st.updated = rec;
    st.updated.written_once = false; // rewritten now
    st.updated.provisional = false;
    st.updated.running = false;
    st.updated.env.attempt = failures;
    st.updated.attempt_ms.push_back(start);
    st.updated.last_error = why;
    st.updated.env.not_before_ms = now_ms() + kopts.retry.delay(failures, unit_random()).count();
    req.ops.put(column::mailbox, mkey, encode(st.updated));
    st.pending = outcome::retry;
    log_scope scope{parent.trace_id, fx.span_id, st.id};
    spdlog::debug("attempt {} of {} failed: {}", failures, env.id, why);
  }
  // The handler may have applied events before failing: rebuild the state
  // from storage, as a supervisor restarting the actor would.
  if (auto err = load_state(st))
    st.broken = std::move(err);
  if (opts.record_spans) {
    put_span(req.spans, span);
    if (st.pending == outcome::dead) {
      // Dead-lettering is a span of its own, under the last attempt's.
      span_record dead;
      dead.trace_id = span.trace_id;
      dead.span_id = step_span_id(env.id, UINT32_MAX);
      dead.parent_span_id = span.span_id;
      dead.name = "dead-letter " + env.type;
      dead.kind = span_kind::internal;
      dead.start_us = dead.end_us = std::max(now_us(), span.end_us);
      dead.status = span_status::error;
      dead.status_message = why;
      dead.attributes = {{"cairn.actor.id", st.id},
                         {"cairn.message.type", env.type},
                         {"cairn.dead_letter.id", env.id},
                         {"cairn.dead_letter.error", why},
                         {"cairn.attempt", static_cast<int64_t>(failures)}};
      put_span(req.spans, dead);
    }
  }
  submit_steps(self, req, seq);
}

} // namespace cairn
