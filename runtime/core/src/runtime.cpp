// SPDX-License-Identifier: Apache-2.0
// The execution layer: virtual actors as CAF actors over durable mailboxes.
//
// Each activation is a CAF event-based actor that holds one actor's state and
// a bounded window of its mailbox. It runs one step at a time: the handler's
// effects go to the commit coordinator as one atomic request, and the next
// message runs only after that request committed. Storage is the truth; the
// in-memory window and the routing of fresh envelopes are only a fast path,
// so a dropped delivery is recovered by re-reading the mailbox.
#include "cairn/runtime.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <future>
#include <iterator>
#include <malloc.h>
#include <map>
#include <mutex>
#include <pthread.h>
#include <random>
#include <set>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "cairn/codec.hpp"
#include "internal/blocking_pool.hpp"
#include "internal/commit_coordinator.hpp"
#include "internal/keys.hpp"

namespace cairn {

using internal::commit_request;
using internal::commit_result;
using internal::mailbox_record;

namespace {

using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using committed_atom = caf::atom_constant<caf::atom("committed")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using resumed_atom = caf::atom_constant<caf::atom("resumed")>;

// A step whose handler continues on the blocking pool (`context::defer`).
struct deferred_step {
  std::shared_ptr<durable_actor> actor;
  envelope env;
  step_effects fx;
  uint64_t seq = 0;
  int64_t start = 0;
};

/// Per-kind totals, exported as labelled metrics.
struct kind_counters {
  std::atomic<uint64_t> accepted{0}, processed{0}, failed{0}, retried{0}, dead_lettered{0};
};

struct kind_entry {
  actor_factory factory;
  kind_options opts;
  std::shared_ptr<kind_counters> counters = std::make_shared<kind_counters>();
};

// What the step in flight will do to the head of the queue once committed.
enum class outcome { none, done, retry, dead };

struct activation_state {
  runtime::impl* rt = nullptr;
  std::string id;
  const kind_entry* kind = nullptr;
  std::shared_ptr<durable_actor> impl; // shared with a deferred step's job
  std::shared_ptr<deferred_step> open; // the step running on the blocking pool
  uint64_t next_journal_seq = 1;
  uint32_t events_since_snapshot = 0;
  std::map<uint64_t, mailbox_record> queue; // seq -> record, a window of the mailbox
  uint64_t max_seen = 0;                    // highest mailbox seq loaded or delivered
  bool overflow = false;                    // storage holds rows beyond the window
  bool in_flight = false;
  outcome pending = outcome::none;
  mailbox_record updated;                          // the head's new record for outcome::retry
  std::vector<std::function<void()>> after_commit; // of the step in flight
  std::optional<dead_letter> dead;                 // of the step in flight
  uint64_t received = 0; // deliveries received, for the passivation handshake
  caf::error broken;     // state could not be rebuilt: the activation ends after this commit
  int64_t last_activity = 0;
  bool idle_armed = false;
  static inline const char* name = "cairn.activation";
};

using activation_actor = caf::stateful_actor<activation_state>;

double unit_random() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return std::uniform_real_distribution<double>{0.0, 1.0}(gen);
}

} // namespace

struct runtime::impl {
  std::function<void(const std::string&)> step_observer; // set before start
  struct route {
    caf::actor handle;
    uint64_t sent = 0;
  };
  struct shard {
    std::mutex mtx;
    std::unordered_map<std::string, route> routes;
    /// Actors stopped because their stored state cannot be rebuilt: id -> why.
    std::unordered_map<std::string, std::string> stopped;
  };

  runtime_options opts;
  std::unique_ptr<storage> store;
  // Kinds may be added while the node runs (MCP tools); an entry is never
  // replaced or removed after start, so pointers from find_kind stay valid.
  std::unordered_map<std::string, std::unique_ptr<kind_entry>> kinds;
  mutable std::shared_mutex kinds_mtx;
  bool kinds_frozen = false; // guarded by kinds_mtx; set by start()
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<internal::commit_coordinator> coord;
  std::unique_ptr<internal::blocking_pool> pool; // deferred steps' blocking work
  std::vector<caf::actor> supervisors;           // guarded by lifecycle_mtx
  std::array<shard, 64> shards;

  std::atomic<bool> accepting{false};
  std::atomic<bool> stopping{false};
  std::atomic<bool> coord_live{false}; // `coord` may be read without the lifecycle lock
  bool started = false;
  bool stopped = false;

  ~impl() {
    stop();
    sys.reset();
    coord.reset();
    store.reset();
  }
  std::mutex lifecycle_mtx;

  // Counters.
  std::atomic<uint64_t> accepted{0}, duplicates{0}, busy{0}, processed{0}, failed{0}, retried{0},
    dead_lettered{0}, sent{0}, activations{0}, passivations{0}, expired{0}, stopped_actors{0};
  std::atomic<int64_t> pending{0}, reserved{0}, active{0}, timers{0}, steps_in_flight{0};

  // Services: timers, topic pumps, mailbox sweeps.
  std::thread services;
  std::mutex svc_mtx;
  std::condition_variable svc_cv;
  bool svc_stop = false;
  bool need_sweep = false;
  std::string sweep_cursor;
  std::set<std::string> dirty_topics;
  std::unordered_set<std::string> timers_in_flight; // guarded by svc_mtx
  std::unordered_set<std::string> pumps_in_flight;  // guarded by svc_mtx

  shard& shard_for(const std::string& id) {
    return shards[std::hash<std::string>{}(id) % shards.size()];
  }

  const kind_entry* find_kind(std::string_view actor_id) const {
    std::shared_lock<std::shared_mutex> guard{kinds_mtx};
    auto it = kinds.find(std::string{kind_of(actor_id)});
    return it == kinds.end() ? nullptr : it->second.get();
  }

  // -- routing ----------------------------------------------------------------

  caf::actor spawn_activation(const std::string& id);

  // Hands a freshly committed envelope to its activation, spawning one if
  // needed. Called on the commit thread; never blocks on storage.
  void route_envelope(internal::routed& r) {
    if (stopping.load() || !find_kind(r.env.to))
      return; // stays in the mailbox; recovery picks it up
    auto& sh = shard_for(r.env.to);
    std::lock_guard<std::mutex> guard{sh.mtx};
    auto it = sh.routes.find(r.env.to);
    if (it == sh.routes.end()) {
      if (sh.stopped.count(r.env.to) != 0)
        return; // kept in its mailbox until an operator repairs the actor
      if (active.load() >= static_cast<int64_t>(opts.max_active)) {
        request_sweep();
        return;
      }
      it = sh.routes.emplace(r.env.to, route{spawn_activation(r.env.to), 0}).first;
    }
    ++it->second.sent;
    caf::anon_send(it->second.handle, deliver_atom::value, r.seq, std::move(r.env));
  }

  // Makes sure `id` has an activation that reads its mailbox.
  bool wake(const std::string& id) {
    if (stopping.load() || !find_kind(id))
      return true;
    auto& sh = shard_for(id);
    std::lock_guard<std::mutex> guard{sh.mtx};
    if (sh.routes.count(id) != 0 || sh.stopped.count(id) != 0)
      return true;
    if (active.load() >= static_cast<int64_t>(opts.max_active))
      return false;
    auto handle = spawn_activation(id);
    sh.routes.emplace(id, route{handle, 0});
    caf::anon_send(handle, tick_atom::value);
    return true;
  }

  // Passivation handshake: only if every delivery routed to this activation
  // has been received, so nothing sits in a mailbox about to be dropped.
  bool try_passivate(const std::string& id, uint64_t received) {
    auto& sh = shard_for(id);
    std::lock_guard<std::mutex> guard{sh.mtx};
    auto it = sh.routes.find(id);
    if (it == sh.routes.end() || it->second.sent != received)
      return false;
    sh.routes.erase(it);
    return true;
  }

  // Removes the route of `id` if it still leads to the activation `addr`
  // (a newer activation keeps its route).
  void forget(const std::string& id, const caf::actor_addr& addr) {
    auto& sh = shard_for(id);
    std::lock_guard<std::mutex> guard{sh.mtx};
    auto it = sh.routes.find(id);
    if (it != sh.routes.end() && caf::actor_cast<caf::actor_addr>(it->second.handle) == addr)
      sh.routes.erase(it);
  }

  // Stops `id` for good (until restart): its journal or snapshot cannot be
  // replayed, and running it would act on a state that is not its own.
  void stop_actor(const std::string& id, const std::string& why) {
    {
      auto& sh = shard_for(id);
      std::lock_guard<std::mutex> guard{sh.mtx};
      if (!sh.stopped.emplace(id, why).second)
        return;
    }
    stopped_actors.fetch_add(1);
    spdlog::error("actor={} stopped: its stored state cannot be rebuilt ({}); its mailbox is kept "
                  "until it is repaired and the node restarted",
                  id, why);
  }

  std::optional<std::string> stop_reason(const std::string& id) {
    auto& sh = shard_for(id);
    std::lock_guard<std::mutex> guard{sh.mtx};
    auto it = sh.stopped.find(id);
    if (it == sh.stopped.end())
      return std::nullopt;
    return it->second;
  }

  void on_activation_exit(const std::string& id, const caf::actor_addr& addr,
                          const caf::error& reason);
  void fail_head(const std::string& id, const caf::actor_addr& addr, const std::string& why);

  // Wakes `id` at `due_ms` (services thread).
  void wake_at(const std::string& id, int64_t due_ms) {
    {
      std::lock_guard<std::mutex> guard{svc_mtx};
      delayed_wakes.emplace(due_ms, id);
    }
    svc_cv.notify_one();
  }

  // Called once per committed request, on the commit thread.
  void on_committed(commit_result& res) {
    pending.fetch_add(static_cast<int64_t>(res.delivered.size()));
    timers.fetch_add(static_cast<int64_t>(res.timers_added));
    for (auto& r : res.delivered)
      route_envelope(r);
    if (!res.topics.empty()) {
      {
        std::lock_guard<std::mutex> guard{svc_mtx};
        dirty_topics.insert(res.topics.begin(), res.topics.end());
      }
      svc_cv.notify_one();
    }
  }

  // Submits `req` and waits for its commit. The writer answers every request
  // it queued (stop() commits the queue first); a refused one fails at once.
  caf::error commit_and_wait(commit_request& req) {
    auto promise = std::make_shared<std::promise<caf::error>>();
    auto future = promise->get_future();
    req.done = [promise](commit_result& r) { promise->set_value(r.err); };
    if (!coord_live.load() || !coord->submit(req, true))
      return make_error(errc::shutting_down, "the node is stopping; retry after it restarted");
    return future.get();
  }

  void request_sweep() {
    {
      std::lock_guard<std::mutex> guard{svc_mtx};
      need_sweep = true;
    }
    svc_cv.notify_one();
  }

  // -- services ---------------------------------------------------------------

  void run_services();
  void wake_due();
  std::multimap<int64_t, std::string> delayed_wakes; // due ms -> actor id (guarded by svc_mtx)
  void fire_timers();
  void pump_topics();
  void sweep();
  void return_memory();
  void collect_expired();
  std::chrono::steady_clock::time_point last_gc{};
  std::string gc_dedupe_cursor; // only the services thread touches these
  std::string gc_trace_cursor;
  std::chrono::steady_clock::time_point last_trim{};
  uint64_t passivations_at_trim = 0;

  // -- activation -------------------------------------------------------------

  caf::error load_state(activation_state& st);
  void load_mailbox(activation_actor* self);
  void run_next(activation_actor* self);
  bool defer_step(activation_actor* self, uint64_t seq, int64_t start, step_effects fx);
  void on_resumed(activation_actor* self, caf::error err);
  void finish_step(activation_actor* self, uint64_t seq, int64_t start, step_effects& fx,
                   caf::error failure);
  void on_commit(activation_actor* self, uint64_t seq, const std::string& err);
  void end_activation(activation_actor* self, caf::error why);
  void dead_letter_corrupt(const std::string& actor, uint64_t seq, std::string raw,
                           const caf::error& why);

  void stop();
};

// -- activation ----------------------------------------------------------------

caf::error runtime::impl::load_state(activation_state& st) {
  st.impl = st.kind->factory(st.id);
  st.events_since_snapshot = 0;
  uint64_t from = 1;
  auto snap = store->get(column::snapshot, st.id);
  if (!snap)
    return std::move(snap.error());
  if (*snap && (*snap)->size() >= 8) {
    auto seq = keys::read_be64(**snap);
    if (auto err = st.impl->restore(std::string_view{**snap}.substr(8)))
      return err;
    from = seq + 1;
  }
  st.next_journal_seq = from;
  caf::error bad;
  auto err = store->scan(column::journal, keys::actor_prefix(st.id), keys::actor_seq(st.id, from),
                         [&](std::string_view k, std::string_view v) {
                           auto ev = decode<step_effects::event>(v);
                           if (!ev) {
                             bad = std::move(ev.error());
                             return false;
                           }
                           auto seq = keys::read_be64(k, k.size() - 8);
                           if (auto aerr = st.impl->apply(ev->type, ev->payload)) {
                             bad = make_error(errc::corrupt_record,
                                              "journal event " + std::to_string(seq) + " ("
                                                + ev->type + "): " + render(aerr));
                             return false;
                           }
                           st.next_journal_seq = keys::read_be64(k, k.size() - 8) + 1;
                           ++st.events_since_snapshot;
                           return true;
                         });
  return err ? err : bad;
}

void runtime::impl::dead_letter_corrupt(const std::string& actor, uint64_t seq, std::string raw,
                                        const caf::error& why) {
  dead_letter dl;
  dl.env.id = "corrupt-" + next_envelope_id();
  dl.env.to = actor;
  dl.error =
    "corrupt mailbox record at " + actor + " seq " + std::to_string(seq) + ": " + render(why);
  dl.failed_ms = now_ms();
  dl.raw = std::move(raw);
  commit_request req;
  req.ops.erase(column::mailbox, keys::actor_seq(actor, seq));
  req.ops.put(column::dead, dl.env.id, encode(dl));
  spdlog::error("{} (moved to dead letters as {})", dl.error, dl.env.id);
  req.done = [this](commit_result& r) {
    if (!r.err) {
      pending.fetch_sub(1);
      dead_lettered.fetch_add(1);
    }
  };
  coord->submit(req, true);
}

void runtime::impl::load_mailbox(activation_actor* self) {
  auto& st = self->state;
  std::vector<std::pair<uint64_t, std::string>> corrupt;
  bool more = false;
  auto err =
    store->scan(column::mailbox, keys::actor_prefix(st.id), keys::actor_seq(st.id, st.max_seen + 1),
                [&](std::string_view k, std::string_view v) {
                  if (st.queue.size() >= opts.activation_queue) {
                    more = true;
                    return false;
                  }
                  uint64_t seq = keys::read_be64(k, k.size() - 8);
                  st.max_seen = seq;
                  auto rec = decode<mailbox_record>(v);
                  if (!rec) {
                    dead_letter_corrupt(st.id, seq, std::string{v}, rec.error());
                    return true;
                  }
                  st.queue.emplace(seq, std::move(*rec));
                  return true;
                });
  if (err) {
    spdlog::warn("actor {}: cannot read its mailbox: {}", st.id, render(err));
    more = true;
  }
  st.overflow = more;
}

void runtime::impl::run_next(activation_actor* self) {
  auto& st = self->state;
  if (st.in_flight)
    return;
  if (st.queue.empty() && st.overflow) {
    load_mailbox(self);
    if (st.queue.empty() && st.overflow) { // the read failed: storage is recovering
      self->delayed_send(self, std::chrono::milliseconds{200}, tick_atom::value);
      return;
    }
  }
  if (st.queue.empty()) {
    if (!st.idle_armed) {
      st.idle_armed = true;
      self->delayed_send(self, st.kind->opts.idle_timeout, idle_atom::value);
    }
    return;
  }
  auto head = st.queue.begin();
  auto seq = head->first;
  auto& rec = head->second;
  const auto& env = rec.env;
  auto start = now_ms();
  if (env.not_before_ms > start) {
    self->delayed_send(self, std::chrono::milliseconds{env.not_before_ms - start},
                       tick_atom::value);
    return;
  }
  st.last_activity = start;
  step_effects fx;
  caf::error failure;
  if (env.deadline_ms > 0 && start > env.deadline_ms) {
    failure = make_error(errc::deadline_exceeded, "deadline passed before the message could run");
  } else {
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
    if (!failure && fx.deferred) {
      if (defer_step(self, seq, start, std::move(fx)))
        return;
      fx = step_effects{};
      failure = make_error(errc::busy, "too much blocking work in flight; will retry");
    }
  }
  finish_step(self, seq, start, fx, std::move(failure));
}

bool runtime::impl::defer_step(activation_actor* self, uint64_t seq, int64_t start,
                               step_effects fx) {
  auto& st = self->state;
  auto open = std::make_shared<deferred_step>();
  open->actor = st.impl;
  open->env = st.queue.begin()->second.env;
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
  st.in_flight = true;
  steps_in_flight.fetch_add(1);
  return true;
}

void runtime::impl::on_resumed(activation_actor* self, caf::error err) {
  auto& st = self->state;
  auto open = std::move(st.open);
  st.open.reset();
  if (!open)
    return;
  st.in_flight = false;
  steps_in_flight.fetch_sub(1);
  if (stopping.load())
    return; // not committed: the message runs again after a restart
  finish_step(self, open->seq, open->start, open->fx, std::move(err));
}

void runtime::impl::finish_step(activation_actor* self, uint64_t seq, int64_t start,
                                step_effects& fx, caf::error failure) {
  auto& st = self->state;
  auto& rec = st.queue.begin()->second;
  const auto& env = rec.env;
  const auto& kopts = st.kind->opts;
  if (!failure) {
    for (auto& out : fx.sends) {
      if (!valid_actor_id(out.env.to))
        failure = make_error(errc::invalid_argument, "invalid receiver id '" + out.env.to + "'");
      else if (!find_kind(out.env.to))
        failure =
          make_error(errc::unknown_actor_kind,
                     "no actor kind '" + std::string{kind_of(out.env.to)} + "' is registered");
      if (failure)
        break;
    }
  }
  commit_request req;
  auto mkey = keys::actor_seq(st.id, seq);
  trace_context parent;
  parse_traceparent(env.traceparent, parent);
  span_record span;
  if (opts.record_spans) {
    auto me = child_of(env.traceparent);
    span.trace_id = me.trace_id;
    span.span_id = me.span_id;
    span.parent_span_id = parent.span_id;
    span.actor = st.id;
    span.type = env.type;
    span.envelope_id = env.id;
    span.attempt = env.attempt;
    span.start_ms = start;
    span.end_ms = now_ms();
  }
  if (!failure) {
    req.ops.erase(column::mailbox, mkey);
    for (auto& ev : fx.events) {
      req.ops.put(column::journal, keys::actor_seq(st.id, st.next_journal_seq++), encode(ev));
      ++st.events_since_snapshot;
    }
    if (kopts.snapshot_every > 0 && st.events_since_snapshot >= kopts.snapshot_every) {
      if (auto snap = st.impl->snapshot()) {
        std::string value;
        keys::append_be64(value, st.next_journal_seq - 1);
        value += *snap;
        req.ops.put(column::snapshot, st.id, std::move(value));
        st.events_since_snapshot = 0;
      }
    }
    for (auto& out : fx.sends) {
      if (out.due_ms > 0)
        req.timers.emplace_back(out.due_ms, std::move(out.env));
      else
        req.enqueue.push_back(std::move(out.env));
    }
    req.publish = std::move(fx.published);
    st.after_commit = std::move(fx.after_commit);
    st.pending = outcome::done;
    span.status = "ok";
  } else {
    failed.fetch_add(1);
    st.kind->counters->failed.fetch_add(1);
    auto failures = env.attempt + 1;
    auto why = render(failure);
    span.status = why;
    bool permanent = code_of(failure) == errc::deadline_exceeded;
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
      spdlog::warn("trace={} actor={} message {} ({}) dead-lettered after {} attempts: {}",
                   parent.trace_id, st.id, env.id, env.type, failures, why);
    } else {
      st.updated = rec;
      st.updated.env.attempt = failures;
      st.updated.attempt_ms.push_back(start);
      st.updated.last_error = why;
      st.updated.env.not_before_ms = now_ms() + kopts.retry.delay(failures, unit_random()).count();
      req.ops.put(column::mailbox, mkey, encode(st.updated));
      st.pending = outcome::retry;
      spdlog::debug("trace={} actor={} attempt {} of {} failed: {}", parent.trace_id, st.id,
                    failures, env.id, why);
    }
    // The handler may have applied events before failing: rebuild the state
    // from storage, as a supervisor restarting the actor would.
    if (auto err = load_state(st))
      st.broken = std::move(err);
  }
  if (opts.record_spans && !span.trace_id.empty())
    req.ops.put(column::trace, span.trace_id + span.span_id, encode(span));
  st.in_flight = true;
  steps_in_flight.fetch_add(1);
  req.done = [handle = caf::actor{self}, seq](commit_result& r) {
    caf::anon_send(handle, committed_atom::value, seq, r.err ? render(r.err) : std::string{});
  };
  coord->submit(req, true);
}

void runtime::impl::on_commit(activation_actor* self, uint64_t seq, const std::string& err) {
  auto& st = self->state;
  st.in_flight = false;
  steps_in_flight.fetch_sub(1);
  auto what = st.pending;
  st.pending = outcome::none;
  auto after = std::move(st.after_commit);
  st.after_commit.clear();
  auto dead = std::move(st.dead);
  st.dead.reset();
  if (!err.empty()) {
    // Nothing of the step is on disk; the message is still in the mailbox.
    // State may be ahead of storage: rebuild it, then try again later.
    trace_context tc;
    if (!st.queue.empty())
      parse_traceparent(st.queue.begin()->second.env.traceparent, tc);
    // An unwritable storage logs once itself; per-step lines would flood.
    if (store->health().writable)
      spdlog::error("trace={} actor={} step commit failed, will retry: {}", tc.trace_id, st.id,
                    err);
    else
      spdlog::debug("trace={} actor={} step commit failed, will retry: {}", tc.trace_id, st.id,
                    err);
    // The failed write may still have reached the log (a write error after
    // the append): the mailbox on disk is the truth, so the window is
    // dropped and re-read, never re-run from memory.
    st.queue.clear();
    st.max_seen = 0;
    st.overflow = true;
    if (auto lerr = load_state(st))
      return end_activation(self, std::move(lerr));
    self->delayed_send(self, std::chrono::milliseconds{200}, tick_atom::value);
    return;
  }
  switch (what) {
    case outcome::done:
      st.queue.erase(seq);
      pending.fetch_sub(1);
      processed.fetch_add(1);
      st.kind->counters->processed.fetch_add(1);
      for (auto& fn : after)
        fn();
      if (step_observer)
        step_observer(st.id);
      break;
    case outcome::retry:
      st.queue[seq] = std::move(st.updated);
      retried.fetch_add(1);
      st.kind->counters->retried.fetch_add(1);
      break;
    case outcome::dead:
      st.queue.erase(seq);
      pending.fetch_sub(1);
      dead_lettered.fetch_add(1);
      st.kind->counters->dead_lettered.fetch_add(1);
      if (dead)
        st.kind->opts.on_dead_letter(*dead);
      break;
    case outcome::none: break;
  }
  if (st.broken)
    return end_activation(self, std::move(st.broken));
  run_next(self);
}

void runtime::impl::end_activation(activation_actor* self, caf::error why) {
  if (code_of(why) == errc::corrupt_record)
    stop_actor(self->state.id, render(why));
  self->quit(std::move(why));
}

void runtime::impl::on_activation_exit(const std::string& id, const caf::actor_addr& addr,
                                       const caf::error& reason) {
  // Passivation and shutdown end with CAF's own reasons; a failure with ours.
  if (code_of(reason) == errc::none || stopping.load())
    return forget(id, addr);
  if (stop_reason(id))
    return forget(id, addr);
  fail_head(id, addr, render(reason));
}

// An activation died outside a handler (factory, replay, snapshot): its head
// message counts a failed attempt under the kind's retry policy, as a
// failing handler would, and the actor is woken again after the backoff.
// The dead activation's route stays until this is committed, so no new
// activation runs the head meanwhile.
void runtime::impl::fail_head(const std::string& id, const caf::actor_addr& addr,
                              const std::string& why) {
  const auto* kind = find_kind(id);
  std::string key, value;
  auto err = store->scan(column::mailbox, keys::actor_prefix(id), "",
                         [&](std::string_view k, std::string_view v) {
                           key = std::string{k};
                           value = std::string{v};
                           return false;
                         });
  auto now = now_ms();
  auto rec = decode<mailbox_record>(value);
  if (kind == nullptr || err || key.empty() || !rec || rec->env.not_before_ms > now) {
    forget(id, addr);
    if (!key.empty())
      wake_at(id, rec && rec->env.not_before_ms > now ? rec->env.not_before_ms : now + 200);
    return;
  }
  failed.fetch_add(1);
  kind->counters->failed.fetch_add(1);
  auto failures = rec->env.attempt + 1;
  commit_request req;
  std::optional<dead_letter> dead;
  int64_t due = now;
  if (failures >= kind->opts.retry.max_attempts) {
    dead_letter dl;
    dl.env = rec->env;
    dl.env.attempt = failures;
    dl.error = why;
    dl.attempts = failures;
    dl.failed_ms = now;
    dl.attempt_ms = rec->attempt_ms;
    dl.attempt_ms.push_back(now);
    req.ops.erase(column::mailbox, key);
    req.ops.put(column::dead, dl.env.id, encode(dl));
    spdlog::warn("actor={} message {} ({}) dead-lettered after {} attempts: {}", id, dl.env.id,
                 dl.env.type, failures, why);
    dead = std::move(dl);
  } else {
    rec->env.attempt = failures;
    rec->attempt_ms.push_back(now);
    rec->last_error = why;
    due = now + kind->opts.retry.delay(failures, unit_random()).count();
    rec->env.not_before_ms = due;
    req.ops.put(column::mailbox, key, encode(*rec));
  }
  req.done = [this, id, addr, kind, dead = std::move(dead), due](commit_result& r) {
    forget(id, addr);
    if (r.err) {
      wake_at(id, now_ms() + 200);
      return;
    }
    if (dead) {
      pending.fetch_sub(1);
      dead_lettered.fetch_add(1);
      kind->counters->dead_lettered.fetch_add(1);
      if (kind->opts.on_dead_letter)
        kind->opts.on_dead_letter(*dead);
    } else {
      retried.fetch_add(1);
      kind->counters->retried.fetch_add(1);
    }
    wake_at(id, due);
  };
  if (!coord->submit(req, true))
    forget(id, addr); // stopping: recovery after the restart retries it
}

namespace {

caf::behavior activation_fn(activation_actor* self, runtime::impl* rt, std::string id) {
  auto& st = self->state;
  st.rt = rt;
  st.id = std::move(id);
  st.kind = rt->find_kind(st.id);
  st.last_activity = now_ms();
  rt->active.fetch_add(1);
  rt->activations.fetch_add(1);
  self->attach_functor([rt, id = st.id, addr = self->address()](const caf::error& reason) {
    rt->active.fetch_sub(1);
    rt->on_activation_exit(id, addr, reason);
  });
  // Exceptions outside the handler's own try (the factory, restore or apply
  // while replaying, snapshot) end the activation with this reason.
  self->set_exception_handler(
    [id = st.id](caf::scheduled_actor*, std::exception_ptr& ep) -> caf::error {
      std::string what = "a non-standard exception";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      spdlog::error("actor={} activation failed outside its handler: {}", id, what);
      return make_error(errc::handler_failed, "activation failed outside its handler: " + what);
    });
  if (auto err = rt->load_state(st)) {
    spdlog::error("actor={} cannot restore state: {}", st.id, render(err));
    rt->end_activation(self, std::move(err));
    return {};
  }
  rt->load_mailbox(self);
  self->send(self, tick_atom::value); // run what the mailbox already holds
  return {
    [=](deliver_atom, uint64_t seq, envelope& env) {
      auto& s = self->state;
      ++s.received;
      if (seq <= s.max_seen)
        return rt->run_next(self); // already loaded from storage
      if (s.overflow || s.queue.size() >= rt->opts.activation_queue) {
        s.overflow = true; // storage has it; read it when the window drains
      } else {
        s.max_seen = seq;
        s.queue.emplace(seq, mailbox_record{std::move(env), {}, {}});
      }
      rt->run_next(self);
    },
    [=](committed_atom, uint64_t seq, const std::string& err) { rt->on_commit(self, seq, err); },
    [=](tick_atom) { rt->run_next(self); },
    [=](resumed_atom, caf::error& err) { rt->on_resumed(self, std::move(err)); },
    [=](idle_atom) {
      auto& s = self->state;
      s.idle_armed = false;
      if (!s.queue.empty() || s.in_flight || s.overflow)
        return;
      auto idle_for = now_ms() - s.last_activity;
      auto timeout = s.kind->opts.idle_timeout.count();
      if (idle_for >= timeout && rt->try_passivate(s.id, s.received)) {
        rt->passivations.fetch_add(1);
        self->quit();
        return;
      }
      s.idle_armed = true;
      auto wait = idle_for >= timeout ? timeout : timeout - idle_for;
      self->delayed_send(self, std::chrono::milliseconds{wait}, idle_atom::value);
    },
  };
}

} // namespace

caf::actor runtime::impl::spawn_activation(const std::string& id) {
  return sys->spawn<caf::lazy_init>(activation_fn, this, id);
}

// -- services --------------------------------------------------------------------

void runtime::impl::fire_timers() {
  auto now = static_cast<uint64_t>(now_ms());
  std::vector<std::pair<std::string, std::string>> due;
  ignore_error(store->scan(column::timer, "", "", [&](std::string_view k, std::string_view v) {
    if (k.size() != 16 || keys::read_be64(k) > now || due.size() >= 1024)
      return false;
    due.emplace_back(std::string{k}, std::string{v});
    return true;
  }));
  for (auto& [key, value] : due) {
    {
      std::lock_guard<std::mutex> guard{svc_mtx};
      if (!timers_in_flight.insert(key).second)
        continue;
    }
    // The scan may predate the commit of an earlier firing of this timer
    // (whose in-flight mark is gone by now): fire only if it is still there.
    auto still = store->get(column::timer, key);
    if (!still || !*still) {
      std::lock_guard<std::mutex> guard{svc_mtx};
      timers_in_flight.erase(key);
      continue;
    }
    commit_request req;
    req.ops.erase(column::timer, key);
    auto env = decode<envelope>(value);
    if (env) {
      req.enqueue.push_back(std::move(*env));
    } else {
      dead_letter dl;
      dl.env.id = "corrupt-timer-" + next_envelope_id();
      dl.error = "corrupt timer record: " + render(env.error());
      dl.failed_ms = now_ms();
      dl.raw = value;
      req.ops.put(column::dead, dl.env.id, encode(dl));
    }
    req.done = [this, key = key](commit_result& r) {
      if (!r.err)
        timers.fetch_sub(1);
      std::lock_guard<std::mutex> guard{svc_mtx};
      timers_in_flight.erase(key);
    };
    coord->submit(req, true);
  }
}

void runtime::impl::pump_topics() {
  std::set<std::string> topics;
  {
    std::lock_guard<std::mutex> guard{svc_mtx};
    topics.swap(dirty_topics);
  }
  for (const auto& topic : topics) {
    auto prefix = keys::actor_prefix(topic);
    std::vector<std::string> subs;
    ignore_error(
      store->scan(column::subscription, prefix, "", [&](std::string_view k, std::string_view) {
        subs.emplace_back(k.substr(prefix.size()));
        return true;
      }));
    for (auto& subscriber : subs) {
      auto sub_key = prefix + subscriber;
      {
        std::lock_guard<std::mutex> guard{svc_mtx};
        if (!pumps_in_flight.insert(sub_key).second) {
          dirty_topics.insert(topic); // look again once that delivery committed
          continue;
        }
      }
      // Read the offset only now that no other delivery for this
      // subscription is in flight: an offset read earlier may predate the
      // commit of the previous delivery and would deliver its events twice.
      uint64_t offset = 0;
      auto row = store->get(column::subscription, sub_key);
      if (!row || !*row || (*row)->size() != 8) {
        std::lock_guard<std::mutex> guard{svc_mtx};
        pumps_in_flight.erase(sub_key);
        continue;
      }
      offset = keys::read_be64(**row);
      commit_request req;
      uint64_t next = offset;
      bool more = false;
      ignore_error(store->scan(column::topic, prefix, keys::actor_seq(topic, offset),
                               [&](std::string_view k, std::string_view v) {
                                 if (req.enqueue.size() >= 256) {
                                   more = true;
                                   return false;
                                 }
                                 auto ev = decode<step_effects::event>(v);
                                 next = keys::read_be64(k, k.size() - 8) + 1;
                                 if (!ev)
                                   return true; // a corrupt topic row cannot be delivered; skip it
                                 envelope env;
                                 env.id = next_envelope_id();
                                 env.from = "topic/" + topic;
                                 env.to = subscriber;
                                 env.type = ev->type;
                                 env.payload = std::move(ev->payload);
                                 env.traceparent = format_traceparent(new_trace());
                                 env.idempotency_key = topic + ":" + std::to_string(next - 1);
                                 env.created_ms = now_ms();
                                 req.enqueue.push_back(std::move(env));
                                 return true;
                               }));
      if (req.enqueue.empty() && next == offset) {
        std::lock_guard<std::mutex> guard{svc_mtx};
        pumps_in_flight.erase(sub_key);
        continue;
      }
      std::string value;
      keys::append_be64(value, next);
      req.ops.put(column::subscription, sub_key, std::move(value));
      req.done = [this, sub_key, topic, more](commit_result& r) {
        std::lock_guard<std::mutex> guard{svc_mtx};
        pumps_in_flight.erase(sub_key);
        if (more || r.err)
          dirty_topics.insert(topic);
      };
      coord->submit(req, true);
    }
  }
}

void runtime::impl::sweep() {
  std::string cursor;
  {
    std::lock_guard<std::mutex> guard{svc_mtx};
    if (!need_sweep)
      return;
    need_sweep = false;
    cursor = sweep_cursor;
  }
  std::string last_actor;
  bool paused = false;
  ignore_error(store->scan(column::mailbox, "", cursor, [&](std::string_view k, std::string_view) {
    std::string_view actor;
    uint64_t seq = 0;
    if (!keys::split_actor_seq(k, actor, seq) || actor == last_actor)
      return true;
    last_actor = std::string{actor};
    if (!wake(last_actor)) {
      paused = true;
      return false;
    }
    return true;
  }));
  std::lock_guard<std::mutex> guard{svc_mtx};
  if (paused) {
    sweep_cursor = keys::actor_prefix(last_actor);
    need_sweep = true;
  } else {
    sweep_cursor.clear();
  }
}

void runtime::impl::return_memory() {
  // Passivated activations free their memory, but the allocator keeps the
  // pages; after a wave of passivations hand them back, so the resident size
  // follows the live actors (invariant 6) rather than the historical peak.
  auto now = std::chrono::steady_clock::now();
  if (now - last_trim < std::chrono::seconds{1})
    return;
  last_trim = now;
  auto passivated = passivations.load();
  if (passivated - passivations_at_trim >= 10'000) {
    passivations_at_trim = passivated;
    malloc_trim(0);
  }
}

void runtime::impl::collect_expired() {
  // Dedupe claims and spans expire; a few thousand rows per second are
  // examined, resuming where the last pass stopped, so the cost stays flat
  // and the two families stay bounded by their retention.
  auto now = std::chrono::steady_clock::now();
  if (now - last_gc < std::chrono::seconds{1})
    return;
  last_gc = now;
  constexpr size_t rows_per_pass = 4096;
  auto wall = now_ms();
  std::vector<std::string> dedupe_keys;
  std::string last_key;
  size_t seen = 0;
  ignore_error(
    store->scan(column::dedupe, "", gc_dedupe_cursor, [&](std::string_view k, std::string_view v) {
      if (++seen > rows_per_pass)
        return false;
      last_key = std::string{k};
      if (v.size() >= 8 && static_cast<int64_t>(keys::read_be64(v)) <= wall)
        dedupe_keys.emplace_back(k);
      return true;
    }));
  gc_dedupe_cursor = seen > rows_per_pass ? last_key : std::string{};
  if (!dedupe_keys.empty()) {
    commit_request req;
    req.expire_dedupe = std::move(dedupe_keys);
    auto n = req.expire_dedupe.size();
    req.done = [this, n](commit_result& r) {
      if (!r.err)
        expired.fetch_add(n);
    };
    coord->submit(req, true);
  }
  write_set spans;
  seen = 0;
  auto horizon = wall - opts.span_retention.count();
  ignore_error(
    store->scan(column::trace, "", gc_trace_cursor, [&](std::string_view k, std::string_view v) {
      if (++seen > rows_per_pass)
        return false;
      last_key = std::string{k};
      auto span = decode<span_record>(v);
      if (!span || span->end_ms < horizon)
        spans.erase(column::trace, std::string{k});
      return true;
    }));
  gc_trace_cursor = seen > rows_per_pass ? last_key : std::string{};
  if (!spans.empty()) {
    auto n = spans.size();
    if (!store->write(spans, false))
      expired.fetch_add(n);
  }
}

void runtime::impl::run_services() {
  pthread_setname_np(pthread_self(), "cairn.services");
  std::unique_lock<std::mutex> lock{svc_mtx};
  while (!svc_stop) {
    svc_cv.wait_for(lock, std::chrono::milliseconds{5});
    if (svc_stop)
      break;
    lock.unlock();
    // While storage is unwritable (a full disk) only its recovery is tried:
    // timers, topics and sweeps would write, and retry once it recovers.
    if (store->recover()) {
      fire_timers();
      pump_topics();
      sweep();
      collect_expired();
      wake_due();
    }
    return_memory();
    lock.lock();
  }
}

void runtime::impl::wake_due() {
  std::vector<std::string> due;
  {
    std::lock_guard<std::mutex> guard{svc_mtx};
    auto now = now_ms();
    while (!delayed_wakes.empty() && delayed_wakes.begin()->first <= now) {
      due.push_back(std::move(delayed_wakes.begin()->second));
      delayed_wakes.erase(delayed_wakes.begin());
    }
  }
  for (const auto& id : due)
    if (!wake(id))
      request_sweep(); // at the activation cap: the sweep resumes it later
}

void runtime::impl::stop() {
  std::lock_guard<std::mutex> guard{lifecycle_mtx};
  if (stopped)
    return;
  accepting.store(false);
  stopping.store(true);
  if (services.joinable()) {
    {
      std::lock_guard<std::mutex> g{svc_mtx};
      svc_stop = true;
    }
    svc_cv.notify_one();
    services.join();
  }
  // Deferred steps see `stopping` and return; queued ones are dropped (their
  // messages stay in the mailboxes and run again after a restart).
  if (pool)
    pool->stop();
  if (sys) {
    for (auto& sup : supervisors)
      caf::anon_send_exit(sup, caf::exit_reason::user_shutdown);
    supervisors.clear();
    // Activations finish the message they are handling (CAF never interrupts
    // a handler), then stop; their last commits are still in the queue.
    for (auto& sh : shards) {
      std::lock_guard<std::mutex> g{sh.mtx};
      for (auto& [id, r] : sh.routes)
        caf::anon_send_exit(r.handle, caf::exit_reason::user_shutdown);
      sh.routes.clear();
    }
    sys->await_all_actors_done();
  }
  if (coord)
    coord->stop();
  if (auto err = store->flush())
    spdlog::error("flush at shutdown failed: {}", render(err));
  // Storage stays open (read-only use by the API) until the runtime is
  // destroyed; nothing writes any more.
  stopped = true;
}

// -- runtime -------------------------------------------------------------------------

runtime::runtime(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

runtime::~runtime() {
  stop();
}

caf::expected<std::unique_ptr<runtime>> runtime::open(runtime_options opts) {
  auto st = open_rocksdb(storage_options{opts.data_dir, false});
  if (!st)
    return std::move(st.error());
  auto p = std::make_unique<impl>();
  p->opts = std::move(opts);
  p->store = std::move(*st);
  if (p->opts.wrap_storage)
    p->store = p->opts.wrap_storage(std::move(p->store));
  return std::unique_ptr<runtime>{new runtime(std::move(p))};
}

caf::expected<caf::actor> runtime::spawn_supervisor(supervisor_spec spec,
                                                    std::vector<child_spec> children) {
  auto& d = *impl_;
  std::lock_guard<std::mutex> guard{d.lifecycle_mtx};
  if (!d.started || d.stopped || !d.sys)
    return make_error(errc::shutting_down, "supervisors need a started, running runtime");
  auto sup = cairn::spawn_supervisor(*d.sys, std::move(spec), std::move(children));
  d.supervisors.push_back(sup);
  return sup;
}

caf::actor_system& runtime::system() {
  return *impl_->sys;
}

caf::error runtime::register_kind(std::string kind, actor_factory factory, kind_options opts) {
  auto& d = *impl_;
  if (kind.empty() || kind.find('/') != std::string::npos)
    return make_error(errc::invalid_argument,
                      "invalid actor kind '" + kind + "': expected a non-empty name without '/'");
  if (!factory)
    return make_error(errc::invalid_argument, "actor kind '" + kind + "' has no factory");
  std::unique_lock<std::shared_mutex> guard{d.kinds_mtx};
  auto entry = std::make_unique<kind_entry>(kind_entry{std::move(factory), std::move(opts)});
  auto it = d.kinds.find(kind);
  if (it == d.kinds.end()) {
    d.kinds.emplace(std::move(kind), std::move(entry));
    return {};
  }
  // Activations hold pointers to entries: a running node never replaces one.
  if (d.kinds_frozen)
    return make_error(errc::conflict, "actor kind '" + kind
                                        + "' is already registered and the node is running; "
                                          "register each kind once, before start()");
  it->second = std::move(entry);
  return {};
}

caf::error runtime::start() {
  auto& d = *impl_;
  std::lock_guard<std::mutex> guard{d.lifecycle_mtx};
  if (d.started)
    return make_error(errc::invalid_argument, "runtime already started");
  if (d.stopped)
    return make_error(errc::shutting_down, "runtime was stopped");
  uint64_t next_seq = 1;
  auto hw = d.store->get(column::meta, "seq");
  if (!hw)
    return std::move(hw.error());
  if (*hw && (*hw)->size() == 8)
    next_seq = keys::read_be64(**hw);
  // Recovery: count what is pending and armed; activations replay on demand.
  int64_t pending = 0, timers = 0;
  // The sequence high-water mark is written with every batch; a row beyond
  // it (from a restore or a hand-made repair) still must not be overtaken.
  if (auto err = d.store->scan(column::mailbox, "", "", [&](std::string_view k, std::string_view) {
        ++pending;
        std::string_view actor;
        uint64_t seq = 0;
        if (keys::split_actor_seq(k, actor, seq))
          next_seq = std::max(next_seq, seq + 1);
        return true;
      }))
    return err;
  if (auto err = d.store->scan(column::timer, "", "", [&](std::string_view, std::string_view) {
        ++timers;
        return true;
      }))
    return err;
  d.pending.store(pending);
  d.timers.store(timers);
  d.cfg = std::make_unique<caf::actor_system_config>();
  auto threads =
    d.opts.threads > 0 ? d.opts.threads : std::max(2u, std::thread::hardware_concurrency());
  d.cfg->set("scheduler.max-threads", threads);
  d.cfg->set("logger.console", caf::atom("none"));
  d.sys = std::make_unique<caf::actor_system>(*d.cfg);
  d.pool = std::make_unique<internal::blocking_pool>(std::max<size_t>(1, d.opts.blocking_threads),
                                                     std::max<size_t>(1, d.opts.blocking_queue),
                                                     "cairn.blocking");
  internal::commit_coordinator::settings cs;
  cs.sync = d.opts.mode == durability::fsync;
  cs.max_batch = d.opts.max_batch;
  cs.max_wait = d.opts.max_wait;
  cs.max_queued = d.opts.max_queued_commits;
  cs.place = d.opts.place;
  cs.dedupe_window_ms = d.opts.dedupe_window.count();
  d.coord = std::make_unique<internal::commit_coordinator>(
    *d.store, cs, next_seq, [p = &d](commit_result& r) { p->on_committed(r); });
  d.coord_live.store(true);
  {
    std::lock_guard<std::mutex> g{d.svc_mtx};
    d.need_sweep = pending > 0;
    // Every topic with subscriptions may have undelivered events.
    ignore_error(
      d.store->scan(column::subscription, "", "", [&](std::string_view k, std::string_view) {
        auto pos = k.find('\0');
        if (pos != std::string_view::npos)
          d.dirty_topics.emplace(k.substr(0, pos));
        return true;
      }));
  }
  size_t kind_count = 0;
  {
    std::unique_lock<std::shared_mutex> g{d.kinds_mtx};
    d.kinds_frozen = true;
    kind_count = d.kinds.size();
  }
  d.sweep(); // resume mailboxes before reporting ready
  d.services = std::thread{[p = &d] { p->run_services(); }};
  d.started = true;
  d.accepting.store(true);
  spdlog::info("runtime ready: {} pending messages, {} timers, {} kinds", pending, timers,
               kind_count);
  return {};
}

void runtime::stop() {
  impl_->stop();
}

void runtime::accept_async(envelope env, std::function<void(caf::expected<std::string>)> done) {
  auto& d = *impl_;
  if (!d.accepting.load())
    return done(make_error(errc::shutting_down, "the node is not accepting messages"));
  if (!valid_actor_id(env.to))
    return done(
      make_error(errc::invalid_argument, "invalid actor id '" + env.to + "': expected kind/key"));
  if (!d.find_kind(env.to))
    return done(make_error(errc::unknown_actor_kind, "no actor kind '"
                                                       + std::string{kind_of(env.to)}
                                                       + "' is registered on this node"));
  if (env.type.empty())
    return done(make_error(errc::invalid_argument, "message type is empty"));
  // Refused at once while storage is unwritable; the services thread retries it.
  if (auto health = d.store->health(); !health.writable)
    return done(make_error(errc::storage_write_failed,
                           "storage is not writable (" + health.reason + "); retry after 1 s"));
  // Reserve a place first, so concurrent accepts can never overshoot the cap.
  auto load = d.reserved.fetch_add(1) + d.pending.load();
  if (load >= static_cast<int64_t>(d.opts.max_pending)) {
    d.reserved.fetch_sub(1);
    d.busy.fetch_add(1);
    return done(
      make_error(errc::busy, "node holds " + std::to_string(load) + " pending messages (cap "
                               + std::to_string(d.opts.max_pending) + "); retry after 100 ms"));
  }
  if (env.id.empty())
    env.id = next_envelope_id();
  if (env.from.empty())
    env.from = "external";
  if (env.created_ms == 0)
    env.created_ms = now_ms();
  trace_context tc;
  if (!parse_traceparent(env.traceparent, tc))
    env.traceparent = format_traceparent(new_trace());
  commit_request req;
  req.enqueue.push_back(std::move(env));
  req.dedupe = true;
  auto cb = std::make_shared<std::function<void(caf::expected<std::string>)>>(std::move(done));
  req.done = [p = &d, cb,
              counters = d.find_kind(req.enqueue.front().to)->counters](commit_result& r) {
    p->reserved.fetch_sub(1);
    if (r.err)
      return (*cb)(std::move(r.err));
    if (r.duplicates > 0) {
      p->duplicates.fetch_add(1);
    } else {
      p->accepted.fetch_add(1);
      counters->accepted.fetch_add(1);
    }
    (*cb)(r.ids.front());
  };
  if (!d.coord->submit(req, false)) {
    d.reserved.fetch_sub(1);
    d.busy.fetch_add(1);
    (*cb)(make_error(errc::busy, "commit queue full; retry after 100 ms"));
  }
}

caf::expected<std::string> runtime::accept(envelope env) {
  std::promise<caf::expected<std::string>> promise;
  auto future = promise.get_future();
  accept_async(std::move(env),
               [&promise](caf::expected<std::string> r) { promise.set_value(std::move(r)); });
  return future.get();
}

caf::error runtime::subscribe(std::string topic, std::string subscriber, bool from_beginning) {
  auto& d = *impl_;
  if (topic.empty() || topic.find('\0') != std::string::npos)
    return make_error(errc::invalid_argument, "invalid topic name");
  if (!valid_actor_id(subscriber))
    return make_error(errc::invalid_argument, "invalid subscriber id '" + subscriber + "'");
  uint64_t offset = 0;
  auto prefix = keys::actor_prefix(topic);
  if (!from_beginning) {
    ignore_error(d.store->last(column::topic, prefix, [&](std::string_view k, std::string_view) {
      offset = keys::read_be64(k, k.size() - 8) + 1;
      return false;
    }));
  }
  std::string value;
  keys::append_be64(value, offset);
  write_set ws;
  ws.put(column::subscription, prefix + subscriber, std::move(value));
  if (auto err = d.store->write(ws, d.opts.mode == durability::fsync))
    return err;
  {
    std::lock_guard<std::mutex> guard{d.svc_mtx};
    d.dirty_topics.insert(topic);
  }
  d.svc_cv.notify_one();
  return {};
}

caf::expected<std::vector<dead_letter>> runtime::dead_letters(size_t limit,
                                                              std::string_view after) {
  std::vector<dead_letter> out;
  std::string from{after};
  if (!from.empty())
    from.push_back('\0'); // exclusive
  auto err = impl_->store->scan(column::dead, "", from, [&](std::string_view, std::string_view v) {
    if (out.size() >= limit)
      return false;
    if (auto dl = decode<dead_letter>(v))
      out.push_back(std::move(*dl));
    return true;
  });
  if (err)
    return err;
  return out;
}

caf::expected<dead_letter> runtime::find_dead_letter(std::string_view id) {
  auto v = impl_->store->get(column::dead, id);
  if (!v)
    return std::move(v.error());
  if (!*v)
    return make_error(errc::not_found, "no dead letter with id " + std::string{id});
  return decode<dead_letter>(**v);
}

caf::error runtime::redrive(std::string_view id) {
  auto& d = *impl_;
  if (!d.accepting.load())
    return make_error(errc::shutting_down, "the node is not accepting messages");
  auto dl = find_dead_letter(id);
  if (!dl)
    return std::move(dl.error());
  if (!dl->raw.empty() || dl->env.to.empty() || !d.find_kind(dl->env.to))
    return make_error(errc::conflict, "dead letter " + std::string{id} + " cannot be redriven: "
                                        + (dl->raw.empty() ? "its receiver kind is not registered"
                                                           : "it holds a corrupt record"));
  // The writer re-checks that the dead letter is still there when it builds
  // the batch (claim_dead): of concurrent redrives and discards of one id,
  // exactly one commits and the others get not_found.
  commit_request req;
  req.claim_dead = std::string{id};
  req.ops.erase(column::dead, std::string{id});
  auto env = std::move(dl->env);
  env.attempt = 0;
  env.not_before_ms = 0;
  req.enqueue.push_back(std::move(env));
  return d.commit_and_wait(req);
}

caf::error runtime::discard(std::string_view id) {
  auto& d = *impl_;
  if (!d.accepting.load())
    return make_error(errc::shutting_down, "the node is not accepting changes");
  auto v = d.store->get(column::dead, id);
  if (!v)
    return std::move(v.error());
  if (!*v)
    return make_error(errc::not_found, "no dead letter with id " + std::string{id});
  commit_request req;
  req.claim_dead = std::string{id};
  req.ops.erase(column::dead, std::string{id});
  return d.commit_and_wait(req);
}

caf::error
runtime::read_journal(std::string_view actor_id, uint64_t from_seq, size_t limit,
                      const std::function<void(uint64_t, std::string_view, std::string_view)>& fn) {
  size_t n = 0;
  caf::error bad;
  auto err = impl_->store->scan(column::journal, keys::actor_prefix(actor_id),
                                keys::actor_seq(actor_id, from_seq),
                                [&](std::string_view k, std::string_view v) {
                                  if (n >= limit)
                                    return false;
                                  auto ev = decode<step_effects::event>(v);
                                  if (!ev) {
                                    bad = std::move(ev.error());
                                    return false;
                                  }
                                  fn(keys::read_be64(k, k.size() - 8), ev->type, ev->payload);
                                  ++n;
                                  return true;
                                });
  return err ? err : bad;
}

caf::expected<std::vector<runtime::timer_info>> runtime::timers(size_t limit) {
  std::vector<timer_info> out;
  auto err = impl_->store->scan(column::timer, "", "", [&](std::string_view k, std::string_view v) {
    if (out.size() >= limit || k.size() != 16)
      return false;
    timer_info t;
    t.due_ms = static_cast<int64_t>(keys::read_be64(k));
    if (auto env = decode<envelope>(v)) {
      t.to = env->to;
      t.type = env->type;
      t.envelope_id = env->id;
    } else {
      t.type = "(corrupt)";
    }
    out.push_back(std::move(t));
    return true;
  });
  if (err)
    return err;
  return out;
}

namespace {

// Collects distinct `kind/...` actor ids of one column family, skipping from
// one actor's rows to the next with a seek each.
caf::error distinct_actors(storage& st, column cf, const std::string& prefix, std::string cursor,
                           size_t limit, std::vector<std::string>& out) {
  while (out.size() < limit) {
    std::string found;
    auto err = st.scan(cf, prefix, cursor, [&](std::string_view k, std::string_view) {
      std::string_view actor;
      uint64_t seq = 0;
      if (keys::split_actor_seq(k, actor, seq))
        found = std::string{actor};
      return false;
    });
    if (err)
      return err;
    if (found.empty())
      return {};
    out.push_back(found);
    cursor = found + '\x01'; // past every `found \0 seq` row
  }
  return {};
}

} // namespace

caf::expected<std::vector<std::string>> runtime::actor_ids(std::string_view kind,
                                                           std::string_view after, size_t limit) {
  auto& st = *impl_->store;
  std::string prefix = kind.empty() ? std::string{} : std::string{kind} + "/";
  std::string cursor = after.empty() ? std::string{} : std::string{after} + '\x01';
  std::vector<std::string> a, b;
  if (auto err = distinct_actors(st, column::journal, prefix, cursor, limit, a))
    return err;
  if (auto err = distinct_actors(st, column::mailbox, prefix, cursor, limit, b))
    return err;
  std::vector<std::string> out;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  if (out.size() > limit)
    out.resize(limit);
  return out;
}

caf::expected<runtime::actor_summary> runtime::describe(std::string_view id) {
  auto& d = *impl_;
  actor_summary s;
  s.id = std::string{id};
  auto prefix = keys::actor_prefix(id);
  bool first = true;
  auto err = d.store->scan(column::mailbox, prefix, "", [&](std::string_view, std::string_view v) {
    if (first) {
      first = false;
      if (auto rec = decode<mailbox_record>(v)) {
        s.head_attempts = rec->env.attempt;
        s.last_error = rec->last_error;
      } else {
        s.last_error = "corrupt record: " + render(rec.error());
      }
    }
    return ++s.mailbox_depth < 1'000'000;
  });
  if (err)
    return err;
  if (auto e = d.store->last(column::journal, prefix, [&](std::string_view k, std::string_view) {
        s.journal_length = keys::read_be64(k, k.size() - 8);
        return false;
      }))
    return e;
  auto snap = d.store->get(column::snapshot, id);
  if (!snap)
    return std::move(snap.error());
  if (*snap && (*snap)->size() >= 8)
    s.snapshot_seq = keys::read_be64(**snap);
  {
    auto key = std::string{id};
    auto& sh = d.shard_for(key);
    std::lock_guard<std::mutex> guard{sh.mtx};
    s.active = sh.routes.count(key) != 0;
    if (auto it = sh.stopped.find(key); it != sh.stopped.end()) {
      s.stopped = true;
      s.stop_reason = it->second;
    }
  }
  if (s.mailbox_depth == 0 && s.journal_length == 0 && s.snapshot_seq == 0 && !s.active)
    return make_error(errc::not_found, "no actor " + s.id + " on this node");
  // State is derived: rebuild it from storage (snapshot + journal) in a
  // private instance, never by reaching into the live activation.
  if (const auto* kind = d.find_kind(id); kind != nullptr && !s.stopped) {
    activation_state probe;
    probe.id = s.id;
    probe.kind = kind;
    try {
      if (auto lerr = d.load_state(probe))
        s.state_error = render(lerr);
      else if (auto text = probe.impl->describe())
        s.state_json = std::move(*text);
    } catch (const std::exception& e) {
      s.state_error = std::string{"cannot rebuild the state: "} + e.what();
    } catch (...) {
      s.state_error = "cannot rebuild the state: a non-standard exception";
    }
  }
  return s;
}

caf::expected<std::vector<runtime::topic_info>> runtime::topics(size_t limit) {
  auto& st = *impl_->store;
  std::map<std::string, topic_info> found;
  std::string cursor;
  while (found.size() < limit) {
    std::string name;
    uint64_t last = 0;
    auto err = st.scan(column::topic, "", cursor, [&](std::string_view k, std::string_view) {
      std::string_view topic;
      uint64_t seq = 0;
      if (keys::split_actor_seq(k, topic, seq))
        name = std::string{topic};
      return false;
    });
    if (err)
      return err;
    if (name.empty())
      break;
    ignore_error(
      st.last(column::topic, keys::actor_prefix(name), [&](std::string_view k, std::string_view) {
        last = keys::read_be64(k, k.size() - 8) + 1;
        return false;
      }));
    found[name].name = name;
    found[name].events = last;
    cursor = name + '\x01';
  }
  auto err = st.scan(column::subscription, "", "", [&](std::string_view k, std::string_view v) {
    auto pos = k.find('\0');
    if (pos == std::string_view::npos || v.size() != 8)
      return true;
    std::string name{k.substr(0, pos)};
    if (found.count(name) == 0 && found.size() >= limit)
      return true;
    found[name].name = name;
    found[name].subscriptions.emplace_back(std::string{k.substr(pos + 1)}, keys::read_be64(v));
    return true;
  });
  if (err)
    return err;
  std::vector<topic_info> out;
  for (auto& [name, t] : found)
    out.push_back(std::move(t));
  return out;
}

void runtime::observe_steps(std::function<void(const std::string& actor_id)> fn) {
  impl_->step_observer = std::move(fn);
}

bool runtime::ready() const {
  return impl_->accepting.load();
}

runtime_stats runtime::stats() const {
  auto& d = *impl_;
  runtime_stats s;
  s.accepted = d.accepted.load();
  s.duplicates = d.duplicates.load();
  s.busy = d.busy.load();
  s.processed = d.processed.load();
  s.failed = d.failed.load();
  s.retried = d.retried.load();
  s.dead_lettered = d.dead_lettered.load();
  if (d.coord_live.load()) {
    s.commits = d.coord->commits();
    s.commit_ops = d.coord->committed_requests();
  }
  s.pending = static_cast<uint64_t>(std::max<int64_t>(0, d.pending.load()));
  s.active = static_cast<uint64_t>(std::max<int64_t>(0, d.active.load()));
  s.activations = d.activations.load();
  s.passivations = d.passivations.load();
  s.timers = static_cast<uint64_t>(std::max<int64_t>(0, d.timers.load()));
  s.expired = d.expired.load();
  {
    std::shared_lock<std::shared_mutex> guard{d.kinds_mtx};
    for (const auto& [name, k] : d.kinds)
      s.by_kind[name] = kind_stats{k->counters->accepted.load(), k->counters->processed.load(),
                                   k->counters->failed.load(), k->counters->retried.load(),
                                   k->counters->dead_lettered.load()};
  }
  s.stopped_actors = d.stopped_actors.load();
  auto health = d.store->health();
  s.storage_writable = health.writable;
  s.storage_unwritable_reason = std::move(health.reason);
  s.storage_write_failures = health.write_failures;
  s.storage_outages = health.outages;
  if (d.coord_live.load())
    s.commit = d.coord->histograms();
  return s;
}

bool runtime::idle() const {
  auto& d = *impl_;
  if (d.pending.load() > 0 || d.reserved.load() > 0 || d.timers.load() > 0
      || d.steps_in_flight.load() > 0)
    return false;
  std::lock_guard<std::mutex> guard{d.svc_mtx};
  return d.dirty_topics.empty() && d.pumps_in_flight.empty() && d.timers_in_flight.empty();
}

const runtime_options& runtime::options() const {
  return impl_->opts;
}

storage& runtime::store() {
  return *impl_->store;
}

} // namespace cairn
