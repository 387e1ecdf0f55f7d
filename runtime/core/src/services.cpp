// SPDX-License-Identifier: Apache-2.0
// The services thread: durable timers, topic pumps, mailbox sweeps (waking
// actors with waiting mail), retention of expired rows, and the reopen of
// storage after a failed write. Its span work is in span_services.cpp.
#include "internal/runtime_impl.hpp"

#include <algorithm>

// jemalloc's control call, when the executable links it (CMake option
// CAIRN_JEMALLOC) or preloads it; null with glibc's malloc alone.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
  __attribute__((weak));

namespace cairn {

// -- services --------------------------------------------------------------------

void runtime::impl::fire_timers() {
  auto now = static_cast<uint64_t>(now_ms());
  std::vector<std::pair<std::string, std::string>> due;
  ignore_error(store->scan(column::timer, "", "", [&](std::string_view k, std::string_view v) {
    if (k.size() != 16 || keys::read_be64(k) > now || due.size() >= 1024)
      return false;
    if (opts.fires) // held back (its shard is handed over): not even tried
      if (auto env = decode<envelope>(v); env && !opts.fires(env->to))
        return true;
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
      req.fires_timer = true;
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
                                 env.traceparent = new_traceparent();
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
    // At the activation cap no actor can be woken: the sweep waits (asked
    // again every few milliseconds) for an activation to end, instead of
    // reading the whole backlog over and over to find that out.
    if (active.load() >= static_cast<int64_t>(opts.max_active))
      return;
    need_sweep = false;
    cursor = sweep_cursor;
  }
  // Collect a batch of actor ids first, then wake them outside the scan: a
  // wake takes a routing shard's lock, which must never be taken while a
  // storage lock is held (the commit writer takes them the other way round).
  // An actor with a long backlog is stepped over by a new scan past its
  // rows rather than read row by row.
  constexpr size_t batch = 1024;
  constexpr size_t rows_before_skip = 16;
  std::vector<std::string> actors;
  bool more = false;
  std::string skip_to = std::move(cursor);
  do {
    auto from = std::move(skip_to);
    skip_to.clear();
    size_t same = 0;
    ignore_error(store->scan(column::mailbox, "", from, [&](std::string_view k, std::string_view) {
      std::string_view actor;
      uint64_t seq = 0;
      if (!keys::split_actor_seq(k, actor, seq))
        return true;
      if (!actors.empty() && actor == actors.back()) {
        if (++same < rows_before_skip)
          return true;
        skip_to = keys::actor_prefix(actor) + std::string(9, '\xff');
        return false;
      }
      if (actors.size() == batch) {
        more = true;
        return false;
      }
      actors.emplace_back(actor);
      same = 0;
      return true;
    }));
  } while (!skip_to.empty() && !more);
  std::string resume_at; // the next sweep's first key, if there is one
  for (const auto& id : actors) {
    if (!wake(id)) {
      resume_at = keys::actor_prefix(id); // paused: try this actor again
      break;
    }
  }
  if (resume_at.empty() && more) // past every row of the last actor woken
    resume_at = keys::actor_prefix(actors.back()) + std::string(9, '\xff');
  std::lock_guard<std::mutex> guard{svc_mtx};
  if (!resume_at.empty()) {
    sweep_cursor = std::move(resume_at);
    need_sweep = true;
  } else {
    sweep_cursor.clear();
  }
}

void runtime::impl::return_memory() {
  // Passivated activations free their memory, but the allocator keeps the
  // pages; after a wave of passivations hand them back, so the resident size
  // follows the live actors (invariant 6) rather than the historical peak.
  // A wave is the live count falling by 10,000 from its peak since the last
  // return. A steady churn of short-lived actors (an MCP call each) frees what
  // it allocates next, and returning pages under it only made the writer fault
  // fresh memtable pages back in (it did so once a second at 10,000 calls/s).
  //
  // A wave's tail: the passivations after its return (a wave falls for as
  // long as its actors took to start; one return catches it part way) are
  // returned once the live count has not moved for a second. Without it a
  // million passivated actors left 60 MiB of freed pages resident, for good:
  // an idle allocator does not decay them. Only after a wave, so a churn that
  // stops is left alone as it was while it ran.
  auto live = active.load();
  active_peak = std::max(active_peak, live);
  auto now = std::chrono::steady_clock::now();
  if (live != live_seen) {
    live_seen = live;
    live_moved = now;
  }
  bool wave = now - last_trim >= std::chrono::seconds{1} && active_peak - live >= 10'000;
  bool tail = wave_tail && live < active_peak && now - live_moved >= std::chrono::seconds{1};
  if (!wave && !tail)
    return;
  wave_tail = wave;
  last_trim = now;
  active_peak = live;
  memory_returns.fetch_add(1);
  if (mallctl != nullptr)
    mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0); // 4096: all arenas
  else
    malloc_trim(0);
}

void runtime::impl::collect_expired() {
  // Dedupe claims and spans expire. A few thousand dedupe claims per second
  // are examined, resuming where the last pass stopped, so the cost stays
  // flat and the family stays bounded by its retention.
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
  expire_spans(wall);
  prune_journals(wall);
}

// Journal retention: events a snapshot covers, of kinds that keep them for
// a while only, are deleted a few thousand rows per pass, resuming where the
// last pass stopped. No activation reads them again (replay starts after
// the snapshot), and none writes them (new events get higher numbers).
void runtime::impl::prune_journals(int64_t wall) {
  {
    std::shared_lock<std::shared_mutex> guard{kinds_mtx};
    bool any = false;
    for (const auto& [name, k] : kinds)
      any = any || k->opts.keep_covered_events.has_value();
    if (!any)
      return;
  }
  constexpr size_t rows_per_pass = 4096;
  size_t seen = 0;
  std::string last_key, snap_actor;
  uint64_t snap_seq = 0;
  write_set pruned;
  ignore_error(store->scan(
    column::journal, "", gc_journal_cursor, [&](std::string_view k, std::string_view v) {
      if (++seen > rows_per_pass)
        return false;
      last_key = std::string{k};
      std::string_view actor;
      uint64_t seq = 0;
      if (!keys::split_actor_seq(k, actor, seq))
        return true;
      const auto* kind = find_kind(actor);
      if (kind == nullptr || !kind->opts.keep_covered_events)
        return true;
      if (actor != snap_actor) {
        snap_actor = std::string{actor};
        snap_seq = 0;
        auto snap = store->get(column::snapshot, actor);
        if (snap && *snap && (*snap)->size() >= 8)
          snap_seq = keys::read_be64(**snap);
      }
      if (seq > snap_seq)
        return true;
      auto keep = kind->opts.keep_covered_events->count();
      if (keep > 0) {
        auto rec = decode<journal_record>(v);
        if (!rec || rec->time_ms + keep > wall) // time 0 (before layout 3): old enough
          return true;
      }
      pruned.erase(column::journal, std::string{k});
      return true;
    }));
  gc_journal_cursor = seen > rows_per_pass ? last_key : std::string{};
  if (!pruned.empty()) {
    auto n = pruned.size();
    if (!store->write(pruned, false))
      journal_pruned.fetch_add(n);
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
      index_spans();
      wake_due();
    }
    return_memory();
    place_commit_thread(false);
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

} // namespace cairn
