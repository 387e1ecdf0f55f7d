// SPDX-License-Identifier: Apache-2.0
// The execution layer: virtual actors as CAF actors over durable mailboxes.
//
// Each activation is a CAF event-based actor that holds one actor's state and
// a bounded window of its mailbox. Its steps' effects go to the commit
// coordinator as atomic requests; a step runs ahead of the requests still
// committing only on a staged row, and a failed request takes the ones that
// followed it down with it (step.cpp). Storage is the truth; the in-memory
// window and the routing of fresh envelopes are only a fast path, so a
// dropped delivery is recovered by re-reading the mailbox.
//
// This file: the lifecycle (open, recovery at start, stop), subscriptions
// and statistics. Accepting messages from outside, the activation, the step,
// the services thread and the read model have files of their own.
#include "internal/insert_hints.hpp"
#include "internal/runtime_impl.hpp"
#include "internal/scheduler.hpp"

namespace cairn {

void runtime::impl::stop() {
  std::lock_guard<std::mutex> guard{lifecycle_mtx};
  if (stopped)
    return;
  accepting.store(false);
  stopping.store(true);
  bool started_services = services.joinable();
  if (started_services) {
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
  // Nothing writes spans any more: the index takes the last ones, so the
  // next start has no tail to read.
  if (started_services)
    index_spans(true);
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
  if (auto err = impl::check_commit_cpu(opts.commit_cpu))
    return err;
  storage_options so;
  so.dir = opts.data_dir;
  so.wal_spare_bytes = opts.mode == durability::fsync ? opts.wal_spare_bytes : 0;
  auto st = open_rocksdb(so);
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

bool runtime::owns(std::string_view actor_id) const {
  return !impl_->opts.admit || impl_->opts.admit(actor_id);
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
  for (const auto* list : {&opts.accepts, &opts.events})
    for (const auto& c : *list)
      if (c.type.empty() || !c.to_json)
        return make_error(errc::invalid_argument, "actor kind '" + kind
                                                    + "' declares a message type without a name or "
                                                    + "JSON rendering");
  // An actor that passivates at once writes a row or two per activation:
  // a memtable insert hint would not pay for its entry (insert_hints.hpp).
  if (opts.idle_timeout.count() == 0)
    internal::skip_insert_hints(kind);
  std::unique_lock<std::shared_mutex> guard{d.kinds_mtx};
  for (const auto* list : {&opts.accepts, &opts.events})
    for (const auto& c : *list)
      d.codecs.insert_or_assign(c.type, c);
  auto entry = std::make_unique<kind_entry>(kind_entry{std::move(factory), std::move(opts)});
  auto it = d.kinds.find(kind);
  if (it == d.kinds.end()) {
    d.kinds.emplace(std::move(kind), std::move(entry));
    d.kinds_version.fetch_add(1, std::memory_order_release);
    return {};
  }
  // Activations hold pointers to entries: a running node never replaces one.
  if (d.kinds_frozen)
    return make_error(errc::conflict, "actor kind '" + kind
                                        + "' is already registered and the node is running; "
                                          "register each kind once, before start()");
  it->second = std::move(entry);
  d.kinds_version.fetch_add(1, std::memory_order_release);
  return {};
}

uint64_t runtime::impl::next_instance() {
  static std::atomic<uint64_t> last{0};
  return last.fetch_add(1) + 1;
}

const kind_entry* runtime::impl::find_kind(std::string_view actor_id) const {
  struct by_name {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  struct cache {
    uint64_t instance = 0;
    uint64_t version = 0;
    std::unordered_map<std::string, const kind_entry*, by_name, std::equal_to<>> found;
  };
  thread_local cache mine;
  auto version = kinds_version.load(std::memory_order_acquire);
  if (mine.instance != instance || mine.version != version) {
    mine.found.clear();
    mine.instance = instance;
    mine.version = version;
  }
  auto kind = kind_of(actor_id);
  if (auto it = mine.found.find(kind); it != mine.found.end())
    return it->second;
  std::shared_lock<std::shared_mutex> guard{kinds_mtx};
  auto it = kinds.find(std::string{kind});
  if (it == kinds.end())
    return nullptr;
  // Taken under the lock: a registration after this read bumps the version.
  if (kinds_version.load(std::memory_order_relaxed) == version)
    mine.found.emplace(std::string{kind}, it->second.get());
  return it->second.get();
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
  int64_t dead = 0;
  if (auto err = d.store->scan(column::dead, "", "", [&](std::string_view, std::string_view) {
        ++dead;
        return true;
      }))
    return err;
  d.pending.store(pending);
  d.timers.store(timers);
  d.dead_stored.store(dead);
  d.cfg = std::make_unique<caf::actor_system_config>();
  // By default one thread per core but the one the commit thread keeps busy:
  // a step never waits (handlers that block run on the blocking pool), so a
  // thread more than the cores left only adds switches (bench/RESULTS.md).
  size_t threads =
    d.opts.threads > 0 ? d.opts.threads : std::max(2u, std::thread::hardware_concurrency()) - 1;
  d.cfg->set("scheduler.max-threads", threads);
  internal::install_scheduler(*d.cfg, d.opts.scheduler); // CAF's policies, a quieter clock
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
  cs.admit = d.opts.admit;
  cs.fires = d.opts.fires;
  cs.dedupe_window_ms = d.opts.dedupe_window.count();
  cs.stage_wait = d.opts.stage_wait;
  d.coord = std::make_unique<internal::commit_coordinator>(
    *d.store, cs, next_seq, [p = &d](std::vector<commit_result*>& rs) { p->on_committed(rs); },
    [p = &d](std::vector<internal::routed>& rows, uint64_t epoch,
             const std::unordered_set<std::string>& hold,
             std::unordered_set<std::string>& unreached) {
      return p->on_staged(rows, epoch, hold, unreached);
    });
  d.coord_live.store(true);
  d.place_commit_thread(true);
  {
    // Every topic with subscriptions may have undelivered events. (Read
    // before taking svc_mtx: no storage lock is ever taken under it.)
    std::set<std::string> topics;
    ignore_error(
      d.store->scan(column::subscription, "", "", [&](std::string_view k, std::string_view) {
        auto pos = k.find('\0');
        if (pos != std::string_view::npos)
          topics.emplace(k.substr(0, pos));
        return true;
      }));
    std::lock_guard<std::mutex> g{d.svc_mtx};
    d.need_sweep = pending > 0;
    d.dirty_topics.insert(topics.begin(), topics.end());
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
  spdlog::info("runtime ready: {} pending messages, {} timers, {} dead letters, {} kinds", pending,
               timers, dead, kind_count);
  return {};
}

void runtime::stop() {
  impl_->stop();
}

const char* name_of(durability d) {
  return d == durability::fsync ? "fsync" : "os";
}

const char* name_of(scheduling s) {
  return s == scheduling::stealing ? "stealing" : "sharing";
}

std::optional<durability> durability_named(std::string_view name) {
  for (auto d : {durability::os, durability::fsync})
    if (name == name_of(d))
      return d;
  return std::nullopt;
}

std::optional<scheduling> scheduling_named(std::string_view name) {
  for (auto s : {scheduling::sharing, scheduling::stealing})
    if (name == name_of(s))
      return s;
  return std::nullopt;
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

void runtime::observe_steps(std::function<void(const std::string& actor_id)> fn) {
  impl_->step_observers.push_back(std::move(fn));
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
    s.log_bytes = d.store->bytes_written();
    s.rows_unwritten = d.coord->rows_unwritten();
    s.rows_carried = d.coord->rows_carried();
    s.commit_cpu = d.coord->cpu();
  }
  s.pending = static_cast<uint64_t>(std::max<int64_t>(0, d.pending.load()));
  s.active = static_cast<uint64_t>(std::max<int64_t>(0, d.active.load()));
  s.activations = d.activations.load();
  s.mailbox_rows_read = d.mailbox_rows_read.load();
  s.passivations = d.passivations.load();
  s.memory_returns = d.memory_returns.load();
  s.timers = static_cast<uint64_t>(std::max<int64_t>(0, d.timers.load()));
  s.dead_letters = static_cast<uint64_t>(std::max<int64_t>(0, d.dead_stored.load()));
  s.expired = d.expired.load();
  s.spans_indexed = d.spans_indexed.load(std::memory_order_relaxed);
  s.journal_pruned = d.journal_pruned.load();
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
