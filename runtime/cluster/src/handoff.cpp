// SPDX-License-Identifier: Apache-2.0
// Shard handover with data (docs/cluster.md, "Shard handoff with data"):
// the source freezes the shards the rebalancer marked, waits until what
// their actors sent is acknowledged, carries every mailbox, journal,
// snapshot and idempotency row to the target, has the target count them,
// flips ownership in etcd, and deletes its copy. The target's half writes
// the chunks and wakes the shards' actors once etcd names it the owner.
#include <future>
#include <sstream>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "cairn/codec.hpp"
#include "cairn/envelope.hpp"
#include "cairn/error.hpp"
#include "cairn/runtime.hpp"
#include "cluster_impl.hpp"
#include "transport.hpp"
#include "wire.hpp"

namespace cairn::cluster {

namespace json = boost::json;

namespace {

constexpr int64_t give_up_after_ms = 60'000;

std::string to_csv(const std::set<uint32_t>& shards) {
  std::string out;
  for (auto s : shards)
    out += (out.empty() ? "" : ",") + std::to_string(s);
  return out;
}

std::set<uint32_t> from_csv(const std::string& csv) {
  std::set<uint32_t> out;
  std::stringstream in{csv};
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty())
      out.insert(static_cast<uint32_t>(std::stoul(item)));
  return out;
}

bool parse_shards(const std::string& csv, std::set<uint32_t>& out) {
  try {
    out = from_csv(csv);
    return true;
  } catch (...) {
    return false;
  }
}

/// Rows per family: mailbox, journal, snapshot, idempotency.
std::array<uint64_t, 4> count_rows(const std::vector<runtime::actor_row>& rows) {
  std::array<uint64_t, 4> n{};
  for (auto& r : rows)
    ++n[r.family == column::mailbox    ? 0
        : r.family == column::journal  ? 1
        : r.family == column::snapshot ? 2
                                       : 3];
  return n;
}

/// `meta cluster/handovers`: target -> shards handed (or being handed) to it.
std::map<std::string, std::set<uint32_t>> read_record(runtime& rt) {
  std::map<std::string, std::set<uint32_t>> out;
  auto stored = rt.read_meta("cluster/handovers");
  if (!stored || !*stored)
    return out;
  boost::system::error_code ec;
  auto v = json::parse(**stored, ec);
  if (ec || !v.is_object())
    return out;
  for (auto& [target, csv] : v.as_object())
    if (csv.is_string())
      out[std::string{target}] = from_csv(std::string{csv.as_string()});
  return out;
}

caf::error write_record(runtime& rt, const std::map<std::string, std::set<uint32_t>>& rec) {
  json::object o;
  for (auto& [target, shards] : rec)
    o[target] = to_csv(shards);
  return rt.write_meta("cluster/handovers", json::serialize(o));
}

/// Rows as the wire carries them (family, key length, key, value).
std::string parse_rows(std::vector<std::string>& rows, std::vector<runtime::actor_row>& out) {
  out.reserve(rows.size());
  for (auto& w : rows) {
    if (w.size() < 9)
      return "a malformed row";
    auto family = static_cast<column>(static_cast<uint8_t>(w[0]));
    auto klen = wire::get_be64(w, 1);
    if (klen > w.size() - 9)
      return "a malformed row";
    out.push_back(runtime::actor_row{family, w.substr(9, klen), w.substr(9 + klen)});
  }
  return {};
}

/// Sends timer rows to the owners of their receivers' shards, then deletes
/// them here. Empty if every one went, else why not.
std::string ship_timers(cluster_node::impl& d, const cluster_view& v,
                        std::vector<runtime::actor_row> rows) {
  std::map<std::string, std::vector<runtime::actor_row>> by_owner;
  for (auto& r : rows) {
    auto env = decode<envelope>(r.value);
    if (!env)
      continue; // timer_rows gives decodable rows only
    auto& owner = v.shard[shard_of(env->to, v.shards)].owner;
    if (owner.empty() || owner == d.opts.node_id)
      return "timer for " + env->to + ": its shard has no other owner to take it";
    by_owner[owner].push_back(std::move(r));
  }
  for (auto& [owner, mine] : by_owner) {
    if (auto err = d.net->send_timers(owner, mine))
      return detail_of(err);
    // Sent: deleted here. A crash before this sends them again, and the
    // owner holds each once.
    if (auto err = d.rt->erase_rows(mine))
      return "cannot delete the timers sent to " + owner + ": " + detail_of(err);
    d.timers_moved.fetch_add(mine.size());
    spdlog::info("cluster: {} timers sent to {}, their receivers' owner", mine.size(), owner);
  }
  return {};
}

} // namespace

void cluster_node::impl::publish_held(const std::map<std::string, std::set<uint32_t>>& record) {
  auto held = std::make_shared<std::set<uint32_t>>();
  for (auto& [target, shards] : record)
    held->insert(shards.begin(), shards.end());
  std::atomic_store(&held_shards, std::shared_ptr<const std::set<uint32_t>>{std::move(held)});
}

std::string cluster_node::impl::take_timers(const std::string& from,
                                            std::vector<std::string>& rows) {
  std::vector<runtime::actor_row> out;
  if (auto why = parse_rows(rows, out); !why.empty())
    return why;
  for (auto& r : out)
    if (r.family != column::timer)
      return "only timer rows are sent this way";
  auto done = std::make_shared<std::promise<caf::error>>();
  auto result = done->get_future();
  rt->import_actor_rows(std::move(out), [done](caf::error err) { done->set_value(err); });
  if (auto err = result.get())
    return "cannot write the timers from " + from + ": " + detail_of(err);
  return {};
}

void cluster_node::impl::send_timers_away(const cluster_view& v) {
  bool owns_any = false;
  for (auto& x : v.shard)
    owns_any = owns_any || x.owner == opts.node_id;
  bool leaving = v.draining.count(opts.node_id) != 0 && !owns_any;
  if (!leaving) {
    timers_leaving.store(false);
    return;
  }
  if (!timers_leaving.exchange(true)) {
    // A barrier: a timer firing admitted before the flag is on disk (and
    // its row gone) before the timers are read; any later one is refused.
    if (auto err = rt->write_meta("cluster/timers_leaving", "1"))
      return timers_leaving.store(false);
  }
  auto rows = rt->timer_rows([](std::string_view) { return true; });
  if (!rows || rows->empty())
    return;
  auto n = rows->size();
  if (auto why = ship_timers(*this, v, std::move(*rows)); !why.empty())
    spdlog::warn("cluster: {} timers wait here to be sent away: {}", n, why);
}

void cluster_node::impl::hand_over(const cluster_view& v) {
  if (!timers_ready.load()) {
    publish_held(read_record(*rt));
    timers_ready.store(true);
  }
  settle_handovers(v);
  send_timers_away(v);
  std::map<std::string, std::set<uint32_t>> wanted;
  for (uint32_t s = 0; s < v.shard.size(); ++s) {
    auto& x = v.shard[s];
    if (x.owner == opts.node_id && x.state == "moving" && !x.target.empty())
      wanted[x.target].insert(s);
  }
  for (auto it = handovers.begin(); it != handovers.end();)
    it = wanted.count(it->first) ? std::next(it) : handovers.erase(it);
  for (auto& [target, shards] : wanted) {
    auto& h = handovers[target];
    if (h.shards != shards)
      h = handover{target, shards, now_ms(), {}};
    hand_over_to(v, h);
  }
}

void cluster_node::impl::hand_over_to(const cluster_view& v, handover& h) {
  auto owns = [&](std::string_view id) { return h.shards.count(shard_of(id, v.shards)) != 0; };
  auto wait = [&](const std::string& why) {
    if (why != h.why_waiting)
      spdlog::info("cluster: handover of shards {} to {} waits: {}", to_csv(h.shards), h.target,
                   why);
    h.why_waiting = why;
    if (now_ms() - h.since_ms < give_up_after_ms)
      return;
    spdlog::warn("cluster: handover of shards {} to {} given up after {} s: {}", to_csv(h.shards),
                 h.target, give_up_after_ms / 1000, why);
    if (!abort_handover(v, h))
      moves_aborted.fetch_add(h.shards.size());
    h.since_ms = now_ms();
  };
  // This view refuses the shards' steps (`admit`) and new mail for them
  // (`place`); a barrier puts every commit admitted before it on disk, so
  // their rows change no more.
  auto record = read_record(*rt);
  record[h.target].insert(h.shards.begin(), h.shards.end());
  publish_held(record); // their timers fire no more here: the write below is the barrier
  if (auto err = write_record(*rt, record))
    return wait("cannot write this node's handover record: " + detail_of(err));
  rt->evict_actors(owns);
  // What their actors sent must reach its receivers before they run on the
  // target, or a later message from there could overtake it.
  size_t unsent = 0;
  auto depths = rt->outbox_depths();
  if (!depths)
    return wait("cannot read the outbox: " + detail_of(depths.error()));
  for (auto& [peer, n] : *depths) {
    uint64_t from = 0;
    for (;;) {
      auto rows = rt->read_outbox(peer, from, 4096, 16 << 20);
      if (!rows || rows->empty())
        break;
      for (auto& r : *rows)
        unsent += owns(r.from) ? 1 : 0;
      from = rows->back().seq + 1;
    }
  }
  if (unsent > 0)
    return wait(std::to_string(unsent) + " messages their actors sent are not acknowledged yet");
  auto rows = rt->export_actor_rows(owns);
  if (!rows)
    return wait("cannot read their rows: " + detail_of(rows.error()));
  auto n = rows->size();
  auto t0 = std::chrono::steady_clock::now();
  handover_rows.store(static_cast<int64_t>(n));
  auto sent = net->hand_over(h.target, to_csv(h.shards), std::move(*rows));
  handover_rows.store(0);
  if (sent)
    return wait(detail_of(sent));
  // The flip: only if no shard key changed since this node read it.
  std::vector<etcd_compare> cmp;
  std::vector<etcd_op> ops;
  for (auto s : h.shards) {
    auto x = v.shard[s];
    cmp.push_back(etcd_compare::modified_at(shard_key(s), x.mod_revision));
    x.owner = h.target;
    x.state = "owned";
    x.target.clear();
    ++x.epoch;
    ops.push_back(etcd_op::put(shard_key(s), shard_json(x)));
  }
  auto flipped = etcd->txn(cmp, ops);
  if (!flipped)
    return wait("etcd: " + detail_of(flipped.error()));
  if (!*flipped)
    return wait("the shard map changed under the handover; reading it again");
  ignore_error(refresh());
  auto ms =
    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
      .count();
  moves_done.fetch_add(h.shards.size());
  rows_moved.fetch_add(n);
  spdlog::info("cluster: handed shards {} over to {} with {} rows ({} ms)", to_csv(h.shards),
               h.target, n, ms);
  settle_handovers(*current());
}

caf::error cluster_node::impl::abort_handover(const cluster_view& v, const handover& h) {
  std::vector<etcd_compare> cmp;
  std::vector<etcd_op> ops;
  for (auto s : h.shards) {
    auto x = v.shard[s];
    cmp.push_back(etcd_compare::modified_at(shard_key(s), x.mod_revision));
    x.state = "owned";
    x.target.clear();
    ops.push_back(etcd_op::put(shard_key(s), shard_json(x)));
  }
  auto ok = etcd->txn(cmp, ops);
  if (!ok)
    return ok.error();
  if (!*ok)
    return make_error(errc::conflict, "the shard map changed");
  ignore_error(refresh());
  rt->wake_stored(); // their actors run here again
  return {};
}

void cluster_node::impl::settle_handovers(const cluster_view& v) {
  auto record = read_record(*rt);
  if (record.empty())
    return;
  bool changed = false;
  for (auto it = record.begin(); it != record.end();) {
    std::set<uint32_t> gone; // owned elsewhere now: this node's copy goes
    for (auto s = it->second.begin(); s != it->second.end();) {
      auto& x = v.shard.at(*s);
      bool here_moving = x.owner == opts.node_id && x.state == "moving";
      bool coming_back = x.state == "moving" && x.target == opts.node_id;
      if (here_moving || coming_back) {
        ++s;
        continue;
      }
      if (x.owner != opts.node_id)
        gone.insert(*s);
      s = it->second.erase(s);
      changed = true;
    }
    if (!gone.empty()) {
      // Their timers go to the new owners first (held back here since the
      // record named the shards), then every row of theirs is deleted.
      auto timers = rt->timer_rows(
        [&](std::string_view to) { return gone.count(shard_of(to, v.shards)) != 0; });
      auto why = timers ? ship_timers(*this, v, std::move(*timers)) : detail_of(timers.error());
      if (!why.empty()) {
        spdlog::warn("cluster: timers of shards {} handed over stay here for now: {}", to_csv(gone),
                     why);
        return; // the record stays; the next round tries again
      }
      auto deleted = rt->delete_actor_rows(
        [&](std::string_view id) { return gone.count(shard_of(id, v.shards)) != 0; });
      if (!deleted) {
        spdlog::warn("cluster: rows of shards {} handed over stay here for now: {}", to_csv(gone),
                     detail_of(deleted.error()));
        return; // the record stays; the next round tries again
      }
      spdlog::info("cluster: deleted {} rows of shards {} (owned by {} now)", *deleted,
                   to_csv(gone), it->first);
    }
    it = it->second.empty() ? record.erase(it) : std::next(it);
  }
  if (changed && !write_record(*rt, record))
    publish_held(record);
}

void cluster_node::impl::after_round(const cluster_view& v) {
  std::set<uint32_t> owned;
  for (uint32_t s = 0; s < v.shard.size(); ++s)
    if (v.shard[s].owner == opts.node_id && v.shard[s].state == "owned")
      owned.insert(s);
  size_t gained = 0;
  for (auto s : owned)
    gained += owned_before.count(s) == 0 ? 1 : 0;
  // Steps refused while the fence had lapsed ended their activations: with
  // the fence valid again, their mail runs.
  auto refused = fence_refusals.load();
  bool woke_refused = refused != refusals_seen && fence_valid();
  if (woke_refused)
    refusals_seen = refused;
  if ((gained > 0 && !first_round) || woke_refused)
    rt->wake_stored(); // imported or refused mail runs here now
  first_round = false;
  if (gained > 0)
    spdlog::debug("cluster: {} shards owned here now", owned.size());
  owned_before = std::move(owned);
  // Drained: no shard, nothing handed over pending, nothing waiting to go.
  if (v.draining.count(opts.node_id) == 0 || drained.load())
    return;
  for (auto& x : v.shard)
    if (x.owner == opts.node_id)
      return;
  auto depths = rt->outbox_depths();
  if (!depths || !depths->empty() || !read_record(*rt).empty())
    return;
  // Its timers went to their receivers' owners (the handover thread).
  if (auto timers = rt->timer_rows([](std::string_view) { return true; });
      !timers || !timers->empty())
    return;
  // Topic events published here were delivered (their deliveries went
  // through `place`, so they are forwarded by now).
  auto topics = rt->topics(100'000);
  if (!topics)
    return;
  for (auto& t : *topics)
    for (auto& [subscriber, offset] : t.subscriptions)
      if (offset < t.events)
        return;
  // Leaving: the member key says so in the same transaction that deletes the
  // drain key. Until the lease is revoked at exit, the rebalancer would
  // otherwise see a member that is neither draining nor loaded, the least
  // loaded of all, and move shards toward a node that is about to go (their
  // handover then waits 60 s for it, frozen, and is given up).
  auto me = v.members.find(opts.node_id);
  if (me == v.members.end())
    return;
  auto leaving = me->second;
  leaving.state = "drained";
  auto key = "/cairn/members/" + opts.node_id;
  // (Under this node's lease: a lapsed lease fails the put, and the drain
  // key stays for the next round.)
  auto left = etcd->txn({}, {etcd_op::put(key, member_json(leaving), lease),
                             etcd_op::erase("/cairn/drain/" + opts.node_id)});
  if (!left || !*left)
    return;
  spdlog::info("cluster: drained (no shard owned here, every message forwarded and topic event "
               "delivered, every timer sent away); stopping");
  drained.store(true);
}

std::string cluster_node::impl::take_chunk(const std::string& from, const std::string& csv,
                                           uint64_t n, std::vector<std::string>& rows) {
  auto v = current();
  std::set<uint32_t> shards;
  if (!parse_shards(csv, shards))
    return "malformed shard list '" + csv + "'";
  for (auto s : shards) {
    if (!v || s >= v->shard.size())
      return "no shard " + std::to_string(s) + " in this node's map";
    auto& x = v->shard[s];
    if (x.owner != from || x.state != "moving" || x.target != opts.node_id)
      return "shard " + std::to_string(s) + " is not being handed from " + from
             + " to this node in its map (yet)";
  }
  auto owns = [&](std::string_view id) { return shards.count(shard_of(id, v->shards)) != 0; };
  if (n == 0) {
    // What an earlier, unfinished handover left here is not this one's.
    if (auto cleared = rt->delete_actor_rows(owns); !cleared)
      return "cannot clear earlier rows: " + detail_of(cleared.error());
    rt->evict_actors(owns);
  }
  std::vector<runtime::actor_row> out;
  if (auto why = parse_rows(rows, out); !why.empty())
    return why;
  for (auto& r : out)
    if (r.family == column::timer)
      return "timers come after the flip, not in a chunk";
  auto count = out.size();
  auto done = std::make_shared<std::promise<caf::error>>();
  auto result = done->get_future();
  rt->import_actor_rows(std::move(out), [done](caf::error err) { done->set_value(err); });
  if (auto err = result.get())
    return "cannot write the rows: " + detail_of(err);
  rows_imported.fetch_add(count);
  return {};
}

std::string cluster_node::impl::verify_import(const std::string& from, const std::string& csv,
                                              const std::string& counts) {
  auto v = current();
  std::set<uint32_t> shards;
  if (!parse_shards(csv, shards))
    return "malformed shard list '" + csv + "'";
  if (!v)
    return "no shard map here";
  auto held = rt->export_actor_rows(
    [&](std::string_view id) { return shards.count(shard_of(id, v->shards)) != 0; });
  if (!held)
    return "cannot count the rows: " + detail_of(held.error());
  auto have = count_rows(*held);
  auto expected = count_rows({});
  std::stringstream in{counts};
  std::string item;
  for (size_t i = 0; i < 4 && std::getline(in, item, ','); ++i)
    expected[i] = std::stoull(item);
  // Idempotency rows this node claimed as a sender may come on top.
  if (have[0] != expected[0] || have[1] != expected[1] || have[2] != expected[2]
      || have[3] < expected[3])
    return "rows from " + from + " do not add up here: mailbox " + std::to_string(have[0]) + "/"
           + std::to_string(expected[0]) + ", journal " + std::to_string(have[1]) + "/"
           + std::to_string(expected[1]) + ", snapshot " + std::to_string(have[2]) + "/"
           + std::to_string(expected[2]) + ", idempotency " + std::to_string(have[3]) + "/"
           + std::to_string(expected[3]);
  return {};
}

} // namespace cairn::cluster
