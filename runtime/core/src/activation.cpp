// SPDX-License-Identifier: Apache-2.0
// Activations: one CAF actor per active virtual actor, restored from its
// snapshot and journal, holding a bounded window of its mailbox; how an
// activation that dies is cleaned up and its head message retried.
#include "internal/runtime_impl.hpp"

namespace cairn {

// -- routing ---------------------------------------------------------------------

namespace {

/// Each receiver's rows, in seq order (requests are in commit order, and
/// each request's rows in seq order): first which group each row joins,
/// keyed by receivers not moved yet, then the moves.
template <class ForEachRow>
std::vector<std::vector<internal::routed>> by_receiver(size_t rows, ForEachRow each) {
  std::vector<std::vector<internal::routed>> groups;
  if (rows == 1) {
    each([&](internal::routed& r) { groups.emplace_back().push_back(std::move(r)); });
    return groups;
  }
  std::unordered_map<std::string_view, size_t> index;
  std::vector<size_t> group_of;
  group_of.reserve(rows);
  each([&](internal::routed& r) {
    group_of.push_back(index.try_emplace(r.env.to, index.size()).first->second);
  });
  // Each group's room first: a routed row holds a whole envelope, moved
  // once here rather than again each time its group's vector grows.
  std::vector<size_t> sizes(index.size());
  for (auto g : group_of)
    ++sizes[g];
  groups.resize(index.size());
  for (size_t g = 0; g < groups.size(); ++g)
    groups[g].reserve(sizes[g]);
  size_t k = 0;
  each([&](internal::routed& r) { groups[group_of[k++]].push_back(std::move(r)); });
  return groups;
}

} // namespace

void runtime::impl::on_committed(std::vector<commit_result*>& written) {
  size_t rows = 0, consumed = 0;
  for (auto* res : written) {
    rows += res->delivered.size();
    consumed += res->consumed;
    timers.fetch_add(static_cast<int64_t>(res->timers_added));
    if (!res->forwarded_to.empty() && opts.on_forwarded)
      opts.on_forwarded(res->forwarded_to);
    if (!res->topics.empty()) {
      {
        std::lock_guard<std::mutex> guard{svc_mtx};
        dirty_topics.insert(res->topics.begin(), res->topics.end());
      }
      svc_cv.notify_one();
    }
  }
  // A staged row consumed in this write is pending until its step's
  // callback, later in the same write, counts it processed.
  pending.fetch_add(static_cast<int64_t>(rows + consumed));
  if (rows == 0)
    return;
  auto groups = by_receiver(rows, [&](auto&& fn) {
    for (auto* res : written)
      for (auto& r : res->delivered)
        fn(r);
  });
  for (auto& g : groups)
    route_envelopes(g);
}

size_t runtime::impl::on_staged(std::vector<internal::routed>& rows, uint64_t epoch,
                                const std::unordered_set<std::string>& hold,
                                std::unordered_set<std::string>& unreached) {
  auto groups = by_receiver(rows.size(), [&](auto&& fn) {
    for (auto& r : rows)
      fn(r);
  });
  size_t reached = 0;
  for (auto& g : groups) {
    // Not routed now: routed once written, after what it must follow.
    if (hold.count(g.front().env.to) != 0) {
      unreached.insert(g.front().env.to);
      continue;
    }
    auto to = g.front().env.to; // the group's envelopes move on
    if (route_envelopes(g, epoch))
      ++reached;
    else
      unreached.insert(std::move(to));
  }
  return reached;
}

void runtime::impl::answer_epoch(activation_actor* self) {
  auto& st = self->state;
  // Held back only by the requests in flight, which are written already or
  // on their way: its answer is the next step request, once one is back.
  // Anything else (a deferred step, a retry or dead letter in flight, a
  // rebuild pending) answers now, not after the writer's whole wait.
  if (st.owed_epoch == 0
      || (!st.flights.empty() && !st.failing && !st.reload && !st.open
          && st.flights.back().what == outcome::done))
    return;
  coord->answer(std::exchange(st.owed_epoch, 0), st.id);
}

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
  auto err = store->scan(
    column::journal, keys::actor_prefix(st.id), keys::actor_seq(st.id, from),
    [&](std::string_view k, std::string_view v) {
      auto seq = keys::read_be64(k, k.size() - 8);
      auto ev = decode<journal_record>(v);
      if (!ev) {
        bad = make_error(errc::corrupt_record,
                         "journal event " + std::to_string(seq) + ": " + render(ev.error()));
        return false;
      }
      if (auto aerr = st.impl->apply(ev->type, ev->payload)) {
        bad = make_error(errc::corrupt_record, "journal event " + std::to_string(seq) + " ("
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
  req.home = actor;
  req.ops.erase(column::mailbox, keys::actor_seq(actor, seq));
  req.ops.put(column::dead, dl.env.id, encode(dl));
  spdlog::error("{} (moved to dead letters as {})", dl.error, dl.env.id);
  req.done = [this](commit_result& r) {
    if (!r.err) {
      pending.fetch_sub(1);
      dead_lettered.fetch_add(1);
      dead_stored.fetch_add(1);
    }
  };
  coord->submit(req, true);
}

void runtime::impl::load_mailbox(activation_actor* self) {
  auto& st = self->state;
  std::vector<std::pair<uint64_t, std::string>> corrupt;
  bool more = false;
  size_t read = 0;
  size_t limit = std::max<size_t>(1, std::min(opts.mailbox_read, opts.activation_queue));
  auto err =
    store->scan(column::mailbox, keys::actor_prefix(st.id), keys::actor_seq(st.id, st.max_seen + 1),
                [&](std::string_view k, std::string_view v) {
                  if (st.queue.size() >= opts.activation_queue || read >= limit) {
                    more = true;
                    return false;
                  }
                  ++read;
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
  mailbox_rows_read.fetch_add(read, std::memory_order_relaxed);
  if (err) {
    spdlog::warn("actor {}: cannot read its mailbox: {}", st.id, render(err));
    more = true;
  }
  st.overflow = more;
  if (more)
    st.window_full->store(true);
  if (st.dropped_staged != 0 && st.max_seen >= st.dropped_staged)
    st.dropped_staged = 0; // read back, with what was written before it
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

// A message committed between the mailbox scan above and `forget` was routed
// to the dead activation and dropped with it; its commit is visible by now
// (routing follows the commit), so a second look after `forget` finds it.
void runtime::impl::wake_if_mail(const std::string& id) {
  bool any = false;
  auto err = store->scan(column::mailbox, keys::actor_prefix(id), "", [&](auto, auto) {
    any = true;
    return false;
  });
  if (err || any)
    wake_at(id, now_ms() + (err ? 200 : 0));
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
    else
      wake_if_mail(id);
    return;
  }
  failed.fetch_add(1);
  kind->counters->failed.fetch_add(1);
  auto failures = rec->env.attempt + 1;
  commit_request req;
  req.home = id;
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
    if (code_of(r.err) == errc::shard_not_owned)
      return; // its mail went (or goes) with the shard
    if (r.err) {
      wake_at(id, now_ms() + 200);
      return;
    }
    if (dead) {
      pending.fetch_sub(1);
      dead_lettered.fetch_add(1);
      dead_stored.fetch_add(1);
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

/// One committed row handed over by the writer: into the window, unless it
/// was read from storage already or the window is full (then storage keeps
/// it, and it is read when the window drains).
void take_delivery(activation_state& s, size_t window, uint64_t seq, envelope& env,
                   bool provisional = false, const internal::step_hint& hint = {}) {
  ++s.received;
  // Written rows come in sequence order: one at or past the last staged
  // row dropped here means the written copies of all of them came before
  // it (or are in storage, or their write was refused).
  if (!provisional && s.dropped_staged != 0 && seq >= s.dropped_staged)
    s.dropped_staged = 0;
  // Staged rows come ahead of written ones, and again once written (unless
  // their step came in that write). `max_seen` follows the written rows only.
  auto at = s.queue.lower_bound(seq);
  if (at != s.queue.end() && at->first == seq) { // staged, now written: held already
    // Every written row below it is held or handled, unless one did not
    // fit (overflow): then storage is read from below it.
    if (!provisional && !s.overflow)
      s.max_seen = std::max(s.max_seen, seq);
    return;
  }
  if (!provisional && seq <= s.max_seen)
    return; // already loaded from storage
  if (provisional && s.dropped_staged != 0) {
    s.dropped_staged = std::max(s.dropped_staged, seq);
    return; // after a dropped one: comes again once written, in order
  }
  if (s.overflow || s.queue.size() >= window) {
    // A staged row too: it is routed again once written, or read then;
    // later staged rows wait for theirs.
    if (provisional)
      s.dropped_staged = std::max(s.dropped_staged, seq);
    s.overflow = true;
    s.window_full->store(true);
  } else {
    if (!provisional)
      s.max_seen = seq;
    // Made in its node: the envelope is moved into it once (a dozen
    // strings, each constructed from the sender's), not assigned over an
    // empty one.
    auto& rec = s.queue
                  .emplace_hint(at, std::piecewise_construct, std::forward_as_tuple(seq),
                                std::forward_as_tuple(std::move(env)))
                  ->second;
    rec.written_once = !provisional;
    rec.provisional = provisional;
    rec.hint = hint;
  }
}

} // namespace

caf::behavior activation_fn(activation_actor* self, runtime::impl* rt, std::string id,
                            std::shared_ptr<std::atomic<bool>> full, bool fresh) {
  auto& st = self->state;
  st.rt = rt;
  st.window_full = std::move(full);
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
  if (fresh) {
    // A new actor (`accept_new_async`): no snapshot, journal or earlier
    // mail to read; its first message is on its way from the route.
    st.impl = st.kind->factory(st.id);
  } else {
    if (auto err = rt->load_state(st)) {
      spdlog::error("actor={} cannot restore state: {}", st.id, render(err));
      rt->end_activation(self, std::move(err));
      return {};
    }
    rt->load_mailbox(self);
    self->send(self, tick_atom::value); // run what the mailbox already holds
  }
  return {
    // Each handler first takes the quiet commits that came, and ends by
    // asking for a message if it now waits for one (`await_quiet_commits`).
    // A delivery comes after them: their rows were never written, so no
    // delivery names them, and they no longer fill the window.
    [=](deliver_atom, uint64_t seq, envelope& env) {
      rt->take_quiet_commits(self->state);
      take_delivery(self->state, rt->opts.activation_queue, seq, env);
      rt->run_next(self);
      rt->await_quiet_commits(self);
    },
    [=](deliver_atom, std::vector<internal::routed>& rows) {
      rt->take_quiet_commits(self->state);
      for (auto& r : rows)
        take_delivery(self->state, rt->opts.activation_queue, r.seq, r.env, false, r.hint);
      rt->run_next(self);
      rt->await_quiet_commits(self);
    },
    [=](deliver_atom, std::vector<internal::routed>& rows, uint64_t epoch) {
      // Staged rows, not written yet: the writer waits for this actor's
      // step (or answer) to write them with it.
      rt->take_quiet_commits(self->state);
      for (auto& r : rows)
        take_delivery(self->state, rt->opts.activation_queue, r.seq, r.env, true, r.hint);
      if ((epoch & internal::joined_epoch_bit) == 0) // joined rows are not waited for
        self->state.owed_epoch = epoch;
      rt->run_next(self);
      rt->answer_epoch(self);
      rt->await_quiet_commits(self);
    },
    [=](committed_atom, uint64_t seq, const caf::error& err) {
      auto commits = self->state.quiet; // the state may be torn down below
      rt->on_commit(self, seq, err);
      commits->sent.fetch_sub(1); // later flights may be counted again
      rt->answer_epoch(self);
      rt->await_quiet_commits(self);
    },
    [=](committed_atom) { // quiet commits came while this actor waited for one
      rt->after_commits(self);
      rt->answer_epoch(self);
      rt->await_quiet_commits(self);
    },
    [=](tick_atom) {
      if (self->state.tick_due != 0 && now_ms() >= self->state.tick_due)
        self->state.tick_due = 0;
      rt->take_quiet_commits(self->state);
      rt->run_next(self);
      rt->answer_epoch(self);
      rt->await_quiet_commits(self);
    },
    [=](resumed_atom, caf::error& err) {
      rt->take_quiet_commits(self->state);
      rt->on_resumed(self, std::move(err));
      rt->answer_epoch(self);
      rt->await_quiet_commits(self);
    },
    [=](idle_atom) {
      auto& s = self->state;
      s.idle_armed = false;
      if (rt->take_quiet_commits(s) && (!s.queue.empty() || s.reload)) {
        // Quiet commits that came: what waited for them runs now.
        rt->after_commits(self);
        rt->answer_epoch(self);
        rt->await_quiet_commits(self);
        return;
      }
      // Dropped staged rows: not before their writes are done (then the
      // handshake below tells whether their copies came; a new activation
      // reads what was written).
      if (!s.queue.empty() || s.open || !s.flights.empty() || s.overflow
          || (s.dropped_staged != 0 && rt->coord->settled() <= s.dropped_staged)) {
        rt->await_quiet_commits(self); // flights still out: looks again later
        return;
      }
      auto idle_for = now_ms() - s.last_activity;
      auto timeout = s.kind->opts.idle_timeout.count();
      if (idle_for >= timeout && rt->try_passivate(s.id, s.received)) {
        rt->passivations.fetch_add(1);
        self->quit();
        return;
      }
      s.idle_armed = true;
      auto wait = idle_for >= timeout ? timeout : timeout - idle_for;
      // A kind without idle time that could not passivate (a message is on
      // its way) looks again later, not in a loop.
      wait = std::max<int64_t>(wait, timeout > 0 ? 0 : 100);
      self->delayed_send(self, std::chrono::milliseconds{wait}, idle_atom::value);
    },
  };
}

caf::actor runtime::impl::spawn_activation(const std::string& id,
                                           std::shared_ptr<std::atomic<bool>> full, bool fresh) {
  return sys->spawn<caf::lazy_init>(activation_fn, this, id, std::move(full), fresh);
}

} // namespace cairn
