// SPDX-License-Identifier: Apache-2.0
// A step request's commit: submitted (`submit_steps`, with what the commit
// thread does once it is durable), then back at its actor by message
// (`on_commit`: retry, dead letter, a failed write) or counted without one
// (quiet commits of staged steps), then what waited for it.
#include <algorithm>
#include <atomic>

#include "cairn/log_context.hpp"
#include "internal/retired_rows.hpp"
#include "internal/runtime_impl.hpp"

namespace cairn {

namespace {

std::atomic<uint64_t> rows_kept{0};
std::atomic<uint64_t> rows_freed{0};

struct retired {
  bool keep = false;
  std::vector<std::map<uint64_t, mailbox_record>::node_type> rows;

  /// Frees the last `n` rows kept.
  void free(size_t n) noexcept {
    n = std::min(n, rows.size());
    rows.resize(rows.size() - n);
    rows_freed.fetch_add(n, std::memory_order_release);
  }

  ~retired() { free(rows.size()); }
};

thread_local retired retired_here;

/// Drops a handled row from an activation's window: freed now, or kept
/// for this thread's next idle moment (retired_rows.hpp).
void drop_handled(std::map<uint64_t, mailbox_record>& queue, uint64_t seq) {
  // Handled rows are the oldest: the head, unless a retry reordered them.
  auto it = queue.begin();
  if (it == queue.end() || it->first != seq)
    it = queue.find(seq);
  if (it == queue.end())
    return;
  auto& r = retired_here;
  if (!r.keep) {
    queue.erase(it);
    return;
  }
  r.rows.push_back(queue.extract(it));
  rows_kept.fetch_add(1, std::memory_order_release);
  if (r.rows.size() >= internal::retired_rows_cap)
    r.free(r.rows.size());
}

} // namespace

void internal::keep_retired_rows(bool keep) noexcept {
  retired_here.keep = keep;
  if (!keep)
    retired_here.free(retired_here.rows.size());
}

bool internal::free_retired_rows() noexcept {
  if (retired_here.rows.empty())
    return false;
  // A few at a time: a job that comes meanwhile waits for these only.
  retired_here.free(internal::retired_rows_per_free);
  return true;
}

internal::retired_rows_count internal::retired_rows_counted() noexcept {
  // Freed first: a row is counted kept before it can be counted freed.
  auto freed = rows_freed.load(std::memory_order_acquire);
  return {rows_kept.load(std::memory_order_acquire), freed};
}

void runtime::impl::submit_steps(activation_actor* self, commit_request& req, uint64_t seq) {
  auto& st = self->state;
  steps_in_flight.fetch_add(1);
  // Built on the state the requests in flight left: refused if one fails.
  req.follows = !st.flights.empty();
  req.epoch = std::exchange(st.owed_epoch, 0); // the writer counts it for its stage
  flight fl;
  fl.seq = seq;
  fl.what = std::exchange(st.pending, outcome::none);
  fl.batch = std::move(st.batch);
  st.batch.clear();
  if (fl.what == outcome::retry)
    fl.updated = std::move(st.updated);
  fl.dead = std::move(st.dead);
  st.dead.reset();
  // Steps that succeeded are counted and answered (observers, after_commit:
  // a waiting caller) on the commit thread as soon as they are durable, not
  // after a trip through this actor's mailbox; the actor then drops them
  // from its queue and runs on.
  std::vector<std::function<void()>> after;
  size_t done = 0;
  if (fl.what == outcome::done) {
    after = std::move(st.after_commit);
    done = fl.batch.size();
  }
  st.after_commit.clear(); // a failed step's: never run
  // A kind without idle time passivates once its queue is empty: if these
  // steps empty it, the activation ends now, not after a round trip for the
  // commit (`begin_retire`); the commit's callback ends its route.
  bool retire = done > 0 && st.kind->opts.idle_timeout.count() <= 0 && st.flights.empty()
                && st.queue.size() == done && !st.overflow && st.dropped_staged == 0 && !st.reload
                && !st.broken && begin_retire(st.id, self->address(), st.received);
  // A flight of steps on staged rows is quiet: its commit, if it succeeds,
  // is counted for the actor to take when it next runs, not sent (a message
  // and a scheduler wake-up per actor and write were about a tenth of the
  // node's CPU at batch 64). The actor asks for a message when it waits for
  // one (`await_quiet_commits`). Only staged rows: a row loaded from
  // storage, or delivered written, may have another delivery on its way
  // (its staged copy, or its written one) that must find it still held, so
  // its commit comes by message, after that delivery. Not for a kind
  // without idle time: its activation ends with its last commit.
  fl.quiet = done > 0 && !retire && st.kind->opts.idle_timeout.count() > 0 && st.batch_staged;
  bool quiet = fl.quiet;
  st.flights.push_back(std::move(fl));
  req.done = [this, handle = caf::actor{self}, seq, done, retire, after = std::move(after),
              counters = st.kind->counters, id = st.id, quiet,
              commits = st.quiet](commit_result& r) {
    if (!r.err && done > 0) {
      pending.fetch_sub(static_cast<int64_t>(done));
      processed.fetch_add(done);
      counters->processed.fetch_add(done);
      for (size_t i = 0; i < done; ++i)
        for (const auto& observe : step_observers)
          observe(id);
      for (const auto& fn : after)
        fn();
    }
    if (retire) {
      steps_in_flight.fetch_sub(1);
      // Refused because the shard moved: its mail went with it.
      end_retire(id, r.err && code_of(r.err) != errc::shard_not_owned);
      return;
    }
    if (quiet && !r.err && !r.consumed_written && commits->sent.load() == 0) {
      steps_in_flight.fetch_sub(1);
      commits->done.fetch_add(1);
      if (commits->wanted.exchange(false))
        caf::anon_send(handle, committed_atom::value);
      return;
    }
    commits->sent.fetch_add(1);
    caf::anon_send(handle, committed_atom::value, seq, r.err);
  };
  coord->submit(req, true);
  if (retire) {
    passivations.fetch_add(1);
    self->quit();
  }
}

bool runtime::impl::take_quiet_commits(activation_state& st) {
  st.quiet_taken += st.quiet->done.exchange(0);
  bool any = false;
  // The counted ones are the oldest flights (`quiet_commits`).
  while (st.quiet_taken > 0 && !st.flights.empty() && st.flights.front().quiet) {
    for (auto done : st.flights.front().batch)
      drop_handled(st.queue, done);
    st.flights.pop_front();
    --st.quiet_taken;
    any = true;
  }
  return any;
}

void runtime::impl::await_quiet_commits(activation_actor* self) {
  auto& st = self->state;
  if (std::none_of(st.flights.begin(), st.flights.end(), [](const flight& f) { return f.quiet; }))
    return;
  // Waiting for a commit: a stage's answer held back, a rebuild or a read of
  // storage after the flights, or a row that has not run.
  bool waiting = st.owed_epoch != 0 || st.reload || st.overflow || st.failing;
  for (auto it = st.queue.begin(); !waiting && it != st.queue.end(); ++it)
    waiting = !it->second.running;
  if (!waiting) {
    // Only rows whose steps are in flight: the idle check takes the commits
    // later if nothing else comes first.
    if (!st.idle_armed) {
      st.idle_armed = true;
      self->delayed_send(self, st.kind->opts.idle_timeout, idle_atom::value);
    }
    return;
  }
  st.quiet->wanted.store(true);
  if (st.quiet->done.load() > 0 && st.quiet->wanted.exchange(false))
    self->send(self, committed_atom::value); // one came meanwhile
}

void runtime::impl::on_commit(activation_actor* self, uint64_t seq, const caf::error& err) {
  auto& st = self->state;
  take_quiet_commits(st); // those before it
  steps_in_flight.fetch_sub(1);
  if (st.flights.empty())
    return;
  auto fl = std::move(st.flights.front());
  st.flights.pop_front();
  if (code_of(err) == errc::shard_not_owned) {
    // The shard moved away or is being handed over: not a failure of the
    // handler, no attempt is spent. Its mail stays where it is (and moves
    // with the shard); this activation ends.
    st.queue.clear();
    self->quit();
    return;
  }
  if (err && !st.failing) {
    st.failing = true;
    // Nothing of the step is on disk; the message is still in the mailbox.
    // State may be ahead of storage: rebuild it, then try again later.
    trace_context tc;
    if (!st.queue.empty())
      parse_traceparent(st.queue.begin()->second.env.traceparent, tc);
    // An unwritable storage logs once itself, and a full outbox toward a
    // peer is counted there; per-step lines would flood.
    log_scope scope{tc.trace_id, {}, st.id};
    if (store->health().writable && code_of(err) != errc::busy)
      spdlog::error("step commit failed, will retry: {}", render(err));
    else
      spdlog::debug("step commit failed, will retry: {}", render(err));
  }
  if (st.failing) {
    if (!st.flights.empty())
      return; // refused after it (they follow it): rebuilt once all are back
    st.failing = false;
    st.reload = false;
    st.pending = outcome::none;
    st.batch.clear();
    st.after_commit.clear();
    st.dead.reset();
    // The failed write may still have reached the log (a write error after
    // the append): the mailbox on disk is the truth, so the window is
    // dropped and re-read, never re-run from memory.
    for (const auto& [row_seq, row] : st.queue)
      if (row.provisional)
        st.dropped_staged = std::max(st.dropped_staged, row_seq);
    st.queue.clear();
    st.max_seen = 0;
    st.overflow = true;
    st.window_full->store(true);
    if (auto lerr = load_state(st))
      return end_activation(self, std::move(lerr));
    self->delayed_send(self, std::chrono::milliseconds{200}, tick_atom::value);
    return;
  }
  switch (fl.what) {
    case outcome::done: // counted and answered on the commit thread (submit_steps)
      for (auto done : fl.batch)
        drop_handled(st.queue, done);
      break;
    case outcome::retry:
      st.queue[seq] = std::move(fl.updated);
      retried.fetch_add(1);
      st.kind->counters->retried.fetch_add(1);
      break;
    case outcome::dead:
      st.queue.erase(seq);
      pending.fetch_sub(1);
      dead_lettered.fetch_add(1);
      dead_stored.fetch_add(1);
      st.kind->counters->dead_lettered.fetch_add(1);
      if (fl.dead)
        st.kind->opts.on_dead_letter(*fl.dead);
      break;
    case outcome::none: break;
  }
  after_commits(self);
}

void runtime::impl::after_commits(activation_actor* self) {
  auto& st = self->state;
  take_quiet_commits(st); // those after it, if any came
  // A handler that ran after the committed steps changed the state in
  // memory only: rebuild it from storage, once every flight is back.
  if (st.reload && st.flights.empty()) {
    st.reload = false;
    if (!st.broken)
      if (auto lerr = load_state(st))
        st.broken = std::move(lerr);
  }
  // Not before its last flight is back (a wake for quiet commits can come
  // while the retry or dead letter that found it broken is in flight).
  if (st.broken && st.flights.empty())
    return end_activation(self, std::move(st.broken));
  run_next(self);
}

} // namespace cairn
