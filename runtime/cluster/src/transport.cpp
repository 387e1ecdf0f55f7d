// SPDX-License-Identifier: Apache-2.0
// Store-and-forward between nodes over CAF's middleman (docs/cluster.md,
// "Transport"). The sender's outbox row is deleted only after the receiver
// acknowledged it, and the receiver acknowledges only after the row is in its
// own commit; it skips rows at or below the high-water mark it stored for
// that sender, in the same commit. So a row is applied once whatever is lost
// or killed in between.
#include "transport.hpp"

#include <csignal>
#include <cstdlib>
#include <deque>
#include <future>
#include <map>
#include <pthread.h>
#include <random>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <spdlog/spdlog.h>

#include "cairn/error.hpp"
#include "cairn/runtime.hpp"
#include "wire.hpp"

namespace cairn::cluster {

namespace {

using namespace wire;

/// One row on the wire: be64(seq) be64(size of to) to record.
/// seq, receiver length, receiver, claim flag (0 or 1), record.
std::string wire_row(const runtime::outbox_row& r) {
  std::string out;
  out.reserve(17 + r.to.size() + r.record.size());
  put_be64(out, r.seq);
  put_be64(out, r.to.size());
  out += r.to;
  out.push_back(r.claim ? '\1' : '\0');
  out += r.record;
  return out;
}

bool parse_wire_row(std::string_view s, uint64_t& seq, std::string_view& to, bool& claim,
                    std::string_view& record) {
  if (s.size() < 17)
    return false;
  seq = get_be64(s, 0);
  auto n = get_be64(s, 8);
  if (n > s.size() - 17)
    return false;
  to = s.substr(16, n);
  claim = s[16 + n] != '\0';
  record = s.substr(17 + n);
  return true;
}

/// `cluster.ingress.after_persist=kill@N` in CAIRN_TEST_POINTS: N, else 0.
int kill_point() {
  const char* env = std::getenv("CAIRN_TEST_POINTS");
  if (env == nullptr)
    return 0;
  std::string s{env};
  const std::string key = "cluster.ingress.after_persist=kill@";
  auto at = s.find(key);
  if (at == std::string::npos)
    return 0;
  return std::atoi(s.c_str() + at + key.size());
}

// At most this many `forward {peer}` spans per batch: one per trace, so a
// batch of many traces does not cost a span per message.
constexpr size_t max_forward_spans = 64;

/// The spans of one acknowledged batch toward `peer`: one per trace among
/// the messages' trace contexts `tps`, a producer span under the step that
/// sent the first of them, from the batch's send to its acknowledgement.
std::vector<span_record> forward_spans(const std::string& peer, const std::vector<std::string>& tps,
                                       int64_t start_us, int64_t end_us) {
  std::map<std::string, std::pair<std::string, int64_t>> traces; // trace -> (parent, count)
  for (const auto& tp : tps) {
    trace_context ctx;
    if (!parse_traceparent(tp, ctx))
      continue;
    auto it = traces.find(ctx.trace_id);
    if (it != traces.end()) {
      ++it->second.second;
    } else if (traces.size() < max_forward_spans) {
      traces.emplace(ctx.trace_id, std::make_pair(ctx.span_id, int64_t{1}));
    }
  }
  std::vector<span_record> out;
  out.reserve(traces.size());
  for (auto& [trace, parent] : traces) {
    span_record s;
    s.trace_id = trace;
    s.span_id = new_trace().span_id;
    s.parent_span_id = parent.first;
    s.name = "forward " + peer;
    s.kind = span_kind::producer;
    s.start_us = start_us;
    s.end_us = std::max(end_us, start_us);
    s.status = span_status::ok;
    s.attributes = {{"cairn.peer.node", peer},
                    {"cairn.outbox.envelopes", parent.second},
                    {"cairn.outbox.batch", static_cast<int64_t>(tps.size())}};
    out.push_back(std::move(s));
  }
  return out;
}

} // namespace

/// The ingress's bookkeeping; touched only by the ingress actor.
struct transport::ingress_state {
  caf::actor handle;
  caf::actor handoff; ///< takes the rows of shards handed over to this node
  /// A batch waiting its turn (batches of one sender commit one at a time,
  /// in the order they came).
  struct batch {
    caf::response_promise promise;
    uint64_t token = 0;
    uint64_t after = 0; ///< every earlier row of the sender was sent before this batch
    std::vector<std::string> rows;
    uint64_t done_below = 0; ///< the answer, once known
    uint64_t retry_ms = 0;
  };
  struct sender {
    bool loaded = false;
    uint64_t done_below = 0; ///< every row with a smaller seq is persisted here
    bool in_flight = false;  ///< the front batch is in the commit coordinator
    std::deque<batch> queue;
  };
  std::map<std::string, sender> senders; ///< "<node>/<incarnation>"
};

transport::transport(cluster_node::impl& node) : node_(node), kill_after_persist_(kill_point()) {}

transport::~transport() {
  stop();
}

caf::expected<uint16_t> transport::start(const std::string& host, uint16_t port) {
  cfg_ = std::make_unique<caf::actor_system_config>();
  cfg_->load<caf::io::middleman>();
  cfg_->set("scheduler.max-threads", 1); // the ingress is its one scheduled actor
  cfg_->set("logger.console", caf::atom("none"));
  sys_ = std::make_unique<caf::actor_system>(*cfg_);
  ingress_ = std::make_shared<ingress_state>();
  auto st = ingress_;
  auto* t = this;
  // A shard handed over to this node: its rows are written here, on a
  // thread of its own (writes wait for the commit; the ingress never does).
  auto& node = node_;
  auto handoff = sys_->spawn<caf::detached>([&node, t](caf::blocking_actor* self) {
    bool running = true;
    self->receive_while(running)(
      [&](chunk_atom, const std::string& from, const std::string& csv, uint64_t n,
          std::vector<std::string>& rows) -> caf::result<uint64_t> {
        auto why = node.take_chunk(from, csv, n, rows);
        if (!why.empty())
          return make_error(errc::conflict, why);
        return n;
      },
      [&](timers_atom, const std::string& from,
          std::vector<std::string>& rows) -> caf::result<uint64_t> {
        auto why = node.take_timers(from, rows);
        if (!why.empty())
          return make_error(errc::conflict, why);
        return uint64_t{rows.size()};
      },
      [&](verify_atom, const std::string& from, const std::string& csv,
          const std::string& counts) -> caf::result<uint64_t> {
        auto why = node.verify_import(from, csv, counts);
        if (!why.empty())
          return make_error(errc::conflict, why);
        return uint64_t{1};
      },
      [&](caf::exit_msg&) { running = false; },
      caf::after(std::chrono::milliseconds{500}) >> [&] { running = !t->stopping_.load(); });
  });
  st->handoff = handoff;
  st->handle = sys_->spawn([st, t](caf::event_based_actor* self) -> caf::behavior {
    return {
      [=](handoff_atom) { return st->handoff; },
      [=](probe_atom) { return now_ms() - t->node_.etcd_ok_ms.load(); },
      [=](forward_atom, const std::string& from, const std::string& incarnation, uint64_t token,
          uint64_t after,
          std::vector<std::string>& rows) -> caf::result<uint64_t, uint64_t, uint64_t> {
        auto promise = self->make_response_promise();
        if (!t->node_.running.load() || t->node_.rt == nullptr) {
          promise.deliver(token, uint64_t{0}, uint64_t{200});
          return promise;
        }
        auto key = from + "/" + incarnation;
        auto& snd = st->senders[key];
        if (snd.queue.size() >= 4) { // a sender keeps two in flight: this one is stale
          promise.deliver(token, uint64_t{0}, uint64_t{100});
          return promise;
        }
        snd.queue.push_back(ingress_state::batch{promise, token, after, std::move(rows), 0, 0});
        t->next_batch(*st, key);
        return promise;
      },
      [=](persisted_atom, const std::string& key, bool ok, uint64_t n) {
        auto& snd = st->senders[key];
        if (snd.queue.empty() || !snd.in_flight)
          return;
        snd.in_flight = false;
        auto b = std::move(snd.queue.front());
        snd.queue.pop_front();
        if (!ok) {
          b.promise.deliver(b.token, snd.done_below, uint64_t{500});
        } else {
          snd.done_below = std::max(snd.done_below, b.done_below);
          t->received_.fetch_add(n);
          if (t->kill_after_persist_ > 0 && ++t->persisted_ == t->kill_after_persist_) {
            spdlog::warn("cluster: test point cluster.ingress.after_persist: SIGKILL");
            ::raise(SIGKILL); // persisted, not acknowledged: the sender must resend
          }
          b.promise.deliver(b.token, b.done_below, b.retry_ms);
        }
        t->next_batch(*st, key);
      },
    };
  });
  auto bound = sys_->middleman().publish(st->handle, port, host.c_str(), true);
  if (!bound)
    return make_error(errc::unavailable, "cannot listen for peers on " + host + ":"
                                           + std::to_string(port) + ": "
                                           + sys_->render(bound.error()));
  return *bound;
}

void transport::next_batch(ingress_state& st, const std::string& key) {
  auto& snd = st.senders[key];
  auto* rt = node_.rt;
  while (!snd.in_flight && !snd.queue.empty()) {
    auto& b = snd.queue.front();
    auto answer = [&](uint64_t below, uint64_t retry) {
      b.promise.deliver(b.token, below, retry);
      snd.queue.pop_front();
    };
    if (!snd.loaded) {
      auto stored = rt->read_meta("cluster/in/" + key);
      if (!stored) {
        answer(0, 500);
        continue;
      }
      if (*stored && (*stored)->size() == 8)
        snd.done_below = get_be64(**stored, 0);
      snd.loaded = true;
    }
    // Rows sent before this batch that are not here yet (an earlier batch
    // was refused in part): taking this one would reorder. Resend from the mark.
    if (b.after > snd.done_below) {
      answer(snd.done_below, 50);
      continue;
    }
    std::vector<std::string> records;
    std::vector<bool> claims;
    uint64_t done_below = snd.done_below;
    bool wait = false, malformed = false;
    for (auto& row : b.rows) {
      uint64_t seq = 0;
      std::string_view to, record;
      bool claim = false;
      if (!parse_wire_row(row, seq, to, claim, record)) {
        malformed = true;
        break;
      }
      if (seq < snd.done_below) {
        duplicates_.fetch_add(1);
        continue;
      }
      if (!node_.admit(to)) {
        wait = true; // not owned here now (moved, or being handed over): the sender waits
        break;       // and sends it on once its map names another owner
      }
      records.emplace_back(record);
      claims.push_back(claim);
      done_below = seq + 1;
    }
    if (malformed)
      spdlog::warn("cluster: a malformed row from {}: the rest of its batch waits", key);
    b.done_below = done_below;
    b.retry_ms = wait || malformed ? 200 : 0;
    if (wait)
      waits_.fetch_add(1);
    if (records.empty()) {
      answer(b.done_below, b.retry_ms);
      continue;
    }
    std::string hw;
    put_be64(hw, done_below);
    snd.in_flight = true;
    auto n = records.size();
    rt->import_forwarded(
      std::move(records), std::move(claims), {{"cluster/in/" + key, std::move(hw)}},
      [h = st.handle, key, n](caf::error err) {
        caf::anon_send(h, persisted_atom::value, key, !err, uint64_t{n});
        if (err && code_of(err) != errc::shard_not_owned)
          spdlog::warn("cluster: forwarded batch not persisted: {}", render(err));
      });
  }
}

void transport::wake(const std::string& peer) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (stopping_)
    return;
  auto it = forwarders_.find(peer);
  if (it == forwarders_.end()) {
    auto f = std::make_unique<forwarder>();
    f->peer = peer;
    f->stats = node_.peer(peer);
    auto* raw = f.get();
    it = forwarders_.emplace(peer, std::move(f)).first;
    raw->thread = std::thread{[this, raw] { forward_loop(*raw); }};
    return;
  }
  {
    std::lock_guard<std::mutex> g{it->second->mtx};
    it->second->woken = true;
  }
  it->second->cv.notify_one();
}

void transport::forward_loop(forwarder& f) {
  pthread_setname_np(pthread_self(), "cairn.forward");
  std::mt19937 rng{std::random_device{}()};
  caf::scoped_actor self{*sys_};
  caf::actor handle;
  std::string addr;
  uint64_t from = 0;      ///< every row below it is acknowledged
  uint64_t next_read = 0; ///< every row below it is sent (or acknowledged)
  uint64_t sent = 0;
  int failures = 0;
  bool ever_connected = false;
  struct in_flight {
    uint64_t token;
    std::vector<uint64_t> seqs;
    std::vector<std::string> tos; ///< the receiver of each row
    std::chrono::steady_clock::time_point t0;
    std::vector<std::string> tps; ///< the trace context of each row
    int64_t t0_us = 0;            ///< when it was sent (Unix µs)
  };
  std::deque<in_flight> window; ///< batches sent and not yet answered, oldest first
  // Never under mtx_: `wake` takes mtx_ and then a forwarder's lock.
  auto stopping = [this] { return stopping_.load(); };
  // Waits for a wake-up, a stop or `d`, whichever first.
  auto pause = [&](std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock{f.mtx};
    f.cv.wait_for(lock, d, [&] { return f.woken || stopping(); });
    f.woken = false;
  };
  auto backoff = [&] {
    auto cap = std::min<int64_t>(5000, int64_t{50} << std::min(failures, 7));
    std::uniform_int_distribution<int64_t> jitter{cap / 2, cap};
    pause(std::chrono::milliseconds{jitter(rng)});
  };
  // Forgets what is in flight: sending starts again at the first row not
  // acknowledged (the receiver skips what it already has).
  auto rewind = [&] {
    window.clear();
    next_read = from;
  };
  while (!stopping()) {
    if (f.stats->drop_failed.exchange(false)) {
      // Acknowledged rows that could not be deleted: everything still in the
      // outbox goes again (the receiver answers duplicates, and they go).
      from = 0;
      rewind();
    }
    auto view = node_.current();
    auto m = view ? view->members.find(f.peer) : decltype(view->members.end()){};
    if (!view || m == view->members.end()) {
      f.stats->connected.store(false);
      handle = caf::actor{};
      rewind();
      // Rows for shards it gave away go to their owners: again whenever
      // the map changed or rows were added (the sticky rule keeps sending a
      // shard's new mail here while older rows of it wait here). `added` is
      // read before the pass: a row committed during it counts as new, and
      // is moved by the next pass (read after the pass, it would be taken
      // as seen and wait for a change of the map that may never come).
      auto added = f.stats->added.load();
      if (view && (view->revision != f.readdressed_at || added != f.added_at_readdress)) {
        // Done only when every row that has another owner went: rows
        // refused now (say, while this node's fence lapsed) go next pass.
        bool all = readdress(f);
        f.readdressed_at = all ? view->revision : -1;
        f.added_at_readdress = added;
      }
      pause(std::chrono::milliseconds{500}); // no member key: not dialled
      continue;
    }
    auto want = m->second.caf_host + ":" + std::to_string(m->second.caf_port);
    if (!handle || want != addr) {
      f.stats->connected.store(false);
      rewind();
      auto h = sys_->middleman().remote_actor(m->second.caf_host, m->second.caf_port);
      if (!h) {
        ++failures;
        backoff();
        continue;
      }
      handle = *h;
      self->monitor(handle);
      addr = want;
      if (ever_connected)
        f.stats->reconnects.fetch_add(1);
      ever_connected = true;
      failures = 0;
      f.stats->connected.store(true);
    }
    // Up to two batches in flight: the receiver commits one while the
    // next travels.
    while (window.size() < batches_in_flight) {
      auto rows = node_.rt->read_outbox(f.peer, next_read, batch_rows, batch_bytes);
      if (!rows || rows->empty()) {
        if (rows && window.empty()) {
          f.stats->oldest_ms.store(0);
          // The counters may drift by a row when a relay races a drop: the
          // empty outbox is the truth.
          f.stats->depth.store(0);
        }
        break;
      }
      if (f.stats->oldest_ms.load() == 0)
        f.stats->oldest_ms.store(now_ms());
      std::vector<std::string> wire;
      wire.reserve(rows->size());
      in_flight b{++sent, {}, {}, std::chrono::steady_clock::now(), {}, now_us()};
      for (auto& r : *rows) {
        wire.push_back(wire_row(r));
        b.seqs.push_back(r.seq);
        b.tos.push_back(r.to);
        b.tps.push_back(std::move(r.traceparent));
      }
      // A plain send: the ingress's answer comes back as a message, so one
      // receive also sees the peer's down message (a killed peer answers
      // nothing, and waiting out the timeout would stall this peer).
      self->send(handle, forward_atom::value, node_.opts.node_id, node_.incarnation, b.token,
                 next_read, std::move(wire));
      next_read = b.seqs.back() + 1;
      window.push_back(std::move(b));
    }
    if (window.empty()) {
      pause(std::chrono::milliseconds{500});
      continue;
    }
    bool ok = false, waiting = true;
    uint64_t below = 0, retry = 0;
    auto token = window.front().token;
    while (waiting) {
      self->receive(
        [&](uint64_t tok, uint64_t b, uint64_t r) {
          if (tok != token)
            return; // the answer to a batch already given up on
          ok = true;
          below = b;
          retry = r;
          waiting = false;
        },
        [&](caf::down_msg& down) {
          if (down.source == handle.address())
            waiting = false;
        },
        [&](caf::error&) { waiting = false; },
        caf::after(request_timeout) >> [&] { waiting = false; });
    }
    if (!ok) {
      // Dead, unreachable or too slow: dial again and resend.
      handle = caf::actor{};
      f.stats->connected.store(false);
      rewind();
      ++failures;
      backoff();
      continue;
    }
    auto front = std::move(window.front());
    window.pop_front();
    f.stats->ack_us_sum.fetch_add(
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - front.t0)
                              .count()));
    f.stats->batches.fetch_add(1);
    std::vector<uint64_t> acked;
    std::vector<std::string> acked_to;
    std::vector<std::string> acked_tps;
    std::string refused_to; ///< the receiver of the first row not taken
    for (size_t k = 0; k < front.seqs.size(); ++k) {
      if (front.seqs[k] < below) {
        acked.push_back(front.seqs[k]);
        acked_to.push_back(std::move(front.tos[k]));
        acked_tps.push_back(std::move(front.tps[k]));
      } else if (refused_to.empty()) {
        refused_to = front.tos[k];
      }
    }
    // Never past this batch: the receiver's mark may cover rows of the next
    // batch too, but those are deleted only when that batch is answered, so
    // a rewind must still send them (they come back as duplicates, and go).
    from = std::max(from, std::min(below, front.seqs.back() + 1));
    f.acked_below = std::max(f.acked_below, from);
    if (!acked.empty()) {
      node_.rt->record_spans(forward_spans(f.peer, acked_tps, front.t0_us, now_us()));
      auto n = static_cast<int64_t>(acked.size());
      f.stats->forwarded.fetch_add(acked.size());
      f.stats->oldest_ms.store(now_ms());
      auto* d = &node_;
      node_.rt->drop_outbox(
        f.peer, std::move(acked),
        [d, peer = f.peer, stats = f.stats, n, tos = std::move(acked_to)](caf::error err) {
          if (err) {
            stats->drop_failed.store(true); // they stay: send them again
            return;
          }
          stats->depth.fetch_sub(n);
          for (auto& to : tos)
            d->count_outbox(peer, to, -1);
        });
    }
    if (below <= front.seqs.back()) {
      // Taken in part or not at all (a shard moved away or on its way, a
      // busy receiver): the batch after it will be refused too. Rows whose
      // shard has another owner now go there; the rest are sent again later.
      rewind();
      auto v = node_.current();
      if (v && !refused_to.empty() && node_.destination(*v, f.peer, refused_to) != f.peer)
        (void)readdress(f); // what stays goes with the next refusal
      pause(std::chrono::milliseconds{std::max<uint64_t>(retry, 50)});
    }
  }
  f.stats->connected.store(false);
}

void transport::stop() {
  std::map<std::string, std::unique_ptr<forwarder>> fs;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopping_.exchange(true))
      return;
    fs.swap(forwarders_);
  }
  for (auto& [peer, f] : fs) {
    {
      std::lock_guard<std::mutex> g{f->mtx}; // a forwarder between its check and its wait
      f->woken = true;
    }
    f->cv.notify_all();
    if (f->thread.joinable())
      f->thread.join();
  }
  if (sys_) {
    if (ingress_) {
      caf::anon_send_exit(ingress_->handle, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(ingress_->handoff, caf::exit_reason::user_shutdown);
    }
    ingress_.reset();
    sys_.reset(); // waits for its actors and closes the middleman's sockets
  }
}

} // namespace cairn::cluster
