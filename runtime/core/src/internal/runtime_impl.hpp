// SPDX-License-Identifier: Apache-2.0
// The runtime's private parts, shared by its implementation files: the kind
// table and `runtime::impl` with the router (route_envelope, wake, passivation
// handshake); the activation's state is in activation_state.hpp, with the
// names of the commit coordinator's types used here. Never included by
// anything outside runtime/core/src.
#pragma once

#include "cairn/runtime.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <iterator>
#include <malloc.h>
#include <map>
#include <mutex>
#include <optional>
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
#include "internal/activation_state.hpp"
#include "internal/blocking_pool.hpp"
#include "internal/commit_coordinator.hpp"
#include "internal/keys.hpp"
#include "internal/span_codec.hpp"

namespace cairn {

using namespace activation_detail;

struct runtime::impl {
  std::vector<std::function<void(const std::string&)>> step_observers; // added before start
  struct route {
    caf::actor handle;
    uint64_t sent = 0;
    std::shared_ptr<std::atomic<bool>> window_full; // see activation_state
    /// Its activation ended with its last steps' commit in flight
    /// (`begin_retire`): the route stays, so that nothing else runs the
    /// actor on storage the commit has not reached, until `end_retire`.
    bool retiring = false;
    bool missed = false; ///< while retiring, a delivery or wake came: wake it after
  };
  struct shard {
    std::mutex mtx;
    std::unordered_map<std::string, route> routes;
    /// Actors stopped because their stored state cannot be rebuilt: id -> why.
    std::unordered_map<std::string, std::string> stopped;
  };

  runtime_options opts;
  /// When this process's runtime was made (Unix ms): a message accepted
  /// before it was accepted by an earlier run of the node, and its first
  /// step here is a resumption (`cairn.resumed`, `resumed_from`).
  int64_t started_ms = now_ms();
  std::unique_ptr<storage> store;
  // Kinds may be added while the node runs (MCP tools); an entry is never
  // replaced or removed after start, so pointers from find_kind stay valid.
  std::unordered_map<std::string, std::unique_ptr<kind_entry>> kinds;
  // Every codec any kind declared, by type tag (guarded by kinds_mtx).
  std::unordered_map<std::string, message_codec> codecs;
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
  std::atomic<int64_t> dead_stored{0}; // dead letters in storage (counted at start)

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

  /// The kind of `actor_id`, or null. Looked up for every message, on every
  /// thread: a thread keeps the entries it found (for this runtime and
  /// `kinds_version`) and reads them without `kinds_mtx`, whose shared lock
  /// moved one cache line between the cores on each call (12 % of the
  /// producers' samples in `cairn bench`). Misses are not kept.
  const kind_entry* find_kind(std::string_view actor_id) const;
  std::atomic<uint64_t> kinds_version{0}; ///< bumped by each registration
  const uint64_t instance = next_instance();
  static uint64_t next_instance();

  // -- routing ----------------------------------------------------------------

  /// `fresh`: the actor is new (`commit_request::fresh`), its activation
  /// reads neither state nor mail from storage.
  caf::actor spawn_activation(const std::string& id, std::shared_ptr<std::atomic<bool>> full,
                              bool fresh);

  route new_route(const std::string& id, bool fresh = false) {
    auto full = std::make_shared<std::atomic<bool>>(false);
    return route{spawn_activation(id, full, fresh), 0, full};
  }

  // Hands one actor's freshly committed envelopes (in seq order) to its
  // activation in one message, spawning one if needed. Called on the commit
  // thread; never blocks on storage. `epoch` (not 0): staged rows, routed
  // before their write. True if the activation was sent them.
  bool route_envelopes(std::vector<internal::routed>& rs, uint64_t epoch = 0) {
    const auto& to = rs.front().env.to;
    if (stopping.load() || !find_kind(to))
      return false; // stays in the mailbox; recovery picks it up
    auto& sh = shard_for(to);
    std::lock_guard<std::mutex> guard{sh.mtx};
    auto it = sh.routes.find(to);
    if (it == sh.routes.end()) {
      if (sh.stopped.count(to) != 0)
        return false; // kept in its mailbox until an operator repairs the actor
      if (active.load() >= static_cast<int64_t>(opts.max_active)) {
        request_sweep();
        return false;
      }
      // New with nothing in storage only if every row says so.
      bool fresh = std::all_of(rs.begin(), rs.end(), [](auto& r) { return r.fresh; });
      it = sh.routes.emplace(to, new_route(to, fresh)).first;
    }
    if (it->second.retiring) {
      it->second.missed = true; // read from storage once the last commit is in
      return false;
    }
    // A full window reads these rows from storage later: nothing to carry.
    if (it->second.window_full->load())
      return false;
    it->second.sent += rs.size(); // counted per envelope, as the activation does
    if (epoch != 0)
      caf::anon_send(it->second.handle, deliver_atom::value, std::move(rs), epoch);
    else if (rs.size() == 1)
      caf::anon_send(it->second.handle, deliver_atom::value, rs.front().seq,
                     std::move(rs.front().env));
    else
      caf::anon_send(it->second.handle, deliver_atom::value, std::move(rs));
    return true;
  }

  // Makes sure `id` has an activation that reads its mailbox.
  bool wake(const std::string& id) {
    if (stopping.load() || !find_kind(id))
      return true;
    auto& sh = shard_for(id);
    std::lock_guard<std::mutex> guard{sh.mtx};
    if (auto it = sh.routes.find(id); it != sh.routes.end()) {
      if (it->second.retiring)
        it->second.missed = true;
      return true;
    }
    if (sh.stopped.count(id) != 0)
      return true;
    if (active.load() >= static_cast<int64_t>(opts.max_active))
      return false;
    auto r = new_route(id);
    auto handle = r.handle;
    sh.routes.emplace(id, std::move(r));
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
  // (a newer activation keeps its route; a retiring one waits for its commit).
  void forget(const std::string& id, const caf::actor_addr& addr) {
    auto& sh = shard_for(id);
    std::lock_guard<std::mutex> guard{sh.mtx};
    auto it = sh.routes.find(id);
    if (it != sh.routes.end() && !it->second.retiring
        && caf::actor_cast<caf::actor_addr>(it->second.handle) == addr)
      sh.routes.erase(it);
  }

  // Passivation at submit, for a kind without idle time: the activation
  // `addr`, whose queue its steps in flight empty, ends now instead of
  // waiting for their commit, if every delivery routed to it was received.
  // Its route stays (retiring) until `end_retire`, after the commit.
  bool begin_retire(const std::string& id, const caf::actor_addr& addr, uint64_t received) {
    auto& sh = shard_for(id);
    std::lock_guard<std::mutex> guard{sh.mtx};
    auto it = sh.routes.find(id);
    if (it == sh.routes.end() || it->second.sent != received
        || caf::actor_cast<caf::actor_addr>(it->second.handle) != addr)
      return false;
    it->second.retiring = true;
    return true;
  }

  // The retiring activation's last commit is in. Its route goes; mail that
  // came meanwhile, or a failed commit (`commit_failed`: nothing written,
  // the messages are still in the mailbox), gets a new activation that
  // reads storage.
  void end_retire(const std::string& id, bool commit_failed) {
    bool missed = false;
    {
      auto& sh = shard_for(id);
      std::lock_guard<std::mutex> guard{sh.mtx};
      auto it = sh.routes.find(id);
      if (it == sh.routes.end() || !it->second.retiring)
        return;
      missed = it->second.missed;
      sh.routes.erase(it);
    }
    if (commit_failed)
      wake_at(id, now_ms() + 200); // as a failed commit retries
    else if (missed && !wake(id))
      request_sweep(); // at the activation cap: the sweep finds its mail
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
  void wake_if_mail(const std::string& id);

  // Wakes `id` at `due_ms` (services thread).
  void wake_at(const std::string& id, int64_t due_ms) {
    {
      std::lock_guard<std::mutex> guard{svc_mtx};
      delayed_wakes.emplace(due_ms, id);
    }
    svc_cv.notify_one();
  }

  // Called once per write with its committed requests, on the commit
  // thread: each receiver gets all its new rows of the write at once.
  void on_committed(std::vector<commit_result*>& written);
  /// Routes a stage's rows (commit thread); how many activations got some.
  size_t on_staged(std::vector<internal::routed>& rows, uint64_t epoch,
                   const std::unordered_set<std::string>& hold,
                   std::unordered_set<std::string>& unreached);
  /// Tells the commit writer, once, that this activation will not submit
  /// a step for the stage it got last before that stage's write.
  void answer_epoch(activation_actor* self);

  // Submits `req`; `done` gets its outcome on the commit thread (or at once
  // if the node is stopping).
  void commit_async(commit_request& req, std::function<void(caf::error)> done) {
    auto shared = std::make_shared<std::function<void(caf::error)>>(std::move(done));
    req.done = [shared](commit_result& r) { (*shared)(r.err); };
    if (!coord_live.load() || !coord->submit(req, true))
      (*shared)(make_error(errc::shutting_down, "the node is stopping; retry after it restarted"));
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
    bool asked = false;
    {
      std::lock_guard<std::mutex> guard{svc_mtx};
      asked = need_sweep;
      need_sweep = true;
    }
    if (!asked) // asked already: the services thread will get to it
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
  /// Binds the commit thread as `opts.commit_cpu` says: at start, and with
  /// `commit_cpu_auto` again every `commit_cpu_recheck` if the disk's
  /// interrupt moved (services thread). commit_cpu.cpp.
  void place_commit_thread(bool starting);
  /// Refuses a `commit_cpu` this process may not run on.
  static caf::error check_commit_cpu(int cpu);
  void collect_expired();
  std::chrono::steady_clock::time_point last_gc{};
  std::string gc_dedupe_cursor; // only the services thread touches these
  std::string gc_journal_cursor;
  std::string gc_span_cursor; ///< the last span deleted: the next pass starts after it
  int64_t gc_span_reset_ms = 0;
  std::atomic<uint64_t> journal_pruned{0};
  void expire_spans(int64_t wall);
  void prune_journals(int64_t wall);
  // The span index (services.cpp, `index_spans`): the last `trace` key indexed.
  void index_spans(bool now = false); ///< `now`: whatever the time since the last pass
  std::chrono::steady_clock::time_point last_index{};
  std::optional<std::string> span_index_at;
  using span_index_entry = internal::span_index_entry;
  /// A pass's working memory, kept for the next: allocating it afresh each
  /// second faulted its pages in again every time (a quarter of the
  /// indexer's samples). Released after a pass that used a quarter of it.
  std::vector<span_index_entry> span_entries;
  std::string span_rows;                     // the `trace` keys read, back to back
  std::vector<size_t> span_row_at;           // where each of them starts
  std::vector<span_index_entry> span_sorted; // the sort's second buffer
  std::atomic<uint64_t> spans_indexed{0};
  std::chrono::steady_clock::time_point last_trim{};
  std::chrono::steady_clock::time_point last_cpu_check{};
  int64_t active_peak = 0; // the most live activations seen since the last return
  int64_t live_seen = 0;   // the live activations at the last look
  std::chrono::steady_clock::time_point live_moved{}; // when that count last changed
  bool wave_tail = false; // a wave was returned: its tail is, once the count settles
  std::atomic<uint64_t> memory_returns{0};
  // Mailbox rows read from storage into activations (rare: an activation's
  // start, or a window overflowed); kept apart from the counters every step
  // touches above.
  std::atomic<uint64_t> mailbox_rows_read{0};

  // -- activation -------------------------------------------------------------

  caf::error load_state(activation_state& st);
  void load_mailbox(activation_actor* self);
  void run_next(activation_actor* self);
  bool defer_step(activation_actor* self, uint64_t seq, int64_t start, step_effects fx);
  void on_resumed(activation_actor* self, caf::error err);
  void finish_step(activation_actor* self, uint64_t seq, int64_t start, step_effects& fx,
                   caf::error failure);
  caf::error check_sends(const step_effects& fx);
  /// Adds the span of a step that succeeded to `req.spans`, encoded from the
  /// step's own values (`internal::append_step_span_member`). `span_value`:
  /// `fx.span_id` as a number when the caller made it from `row`'s envelope
  /// (so it is `internal::step_span_value` of its id and attempt), else 0.
  void put_step_span(commit_request& req, const activation_state& st, const mailbox_record& row,
                     std::string_view trace_id, std::string_view parent_span, int64_t start,
                     const step_effects& fx, uint64_t first_event, uint32_t events,
                     uint64_t span_value) const;
  /// Adds a step that succeeded on `row` (the queue's row `seq`) to `req`;
  /// `span_value` as for `put_step_span`.
  void add_done_step(activation_state& st, commit_request& req, uint64_t seq, mailbox_record& row,
                     int64_t start, step_effects& fx, uint64_t span_value = 0);
  void submit_steps(activation_actor* self, commit_request& req, uint64_t seq);
  void on_commit(activation_actor* self, uint64_t seq, const caf::error& err);
  /// Drops the flights whose quiet commits came (oldest first, up to the
  /// first flight that is not quiet); true if any did.
  bool take_quiet_commits(activation_state& st);
  /// What follows commits: the rebuild they waited for, then the next steps.
  void after_commits(activation_actor* self);
  /// After a handler: asks the commit thread for a message if the actor
  /// now waits for a quiet flight's commit, and arms the idle check when
  /// only committed rows are left.
  void await_quiet_commits(activation_actor* self);
  void end_activation(activation_actor* self, caf::error why);
  void dead_letter_corrupt(const std::string& actor, uint64_t seq, std::string raw,
                           const caf::error& why);

  void stop();
};

caf::behavior activation_fn(activation_actor* self, runtime::impl* rt, std::string id,
                            std::shared_ptr<std::atomic<bool>> full, bool fresh);

} // namespace cairn
