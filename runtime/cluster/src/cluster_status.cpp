// SPDX-License-Identifier: Apache-2.0
// What a cluster node says about itself: `GET /api/v1/cluster` (members,
// shards per node, moves, the outbox toward each peer) and the per-peer
// metrics on /metrics.
#include <chrono>
#include <set>

#include <boost/json.hpp>

#include "cairn/envelope.hpp"
#include "cluster_impl.hpp"
#include "transport.hpp"

namespace cairn::cluster {

namespace json = boost::json;

uint32_t cluster_node::shards_owned() const {
  auto v = impl_->current();
  uint32_t n = 0;
  if (v)
    for (auto& s : v->shard)
      n += s.owner == impl_->opts.node_id ? 1 : 0;
  return n;
}

std::string cluster_node::status_json() const {
  auto& d = *impl_;
  auto v = d.current();
  json::object o;
  o["node_id"] = d.opts.node_id;
  o["cluster_id"] = v ? v->cluster_id : "";
  o["shards"] = v ? v->shards : 0;
  o["rebalancer"] = v ? v->rebalancer : "";
  o["etcd"] = json::object{{"endpoints", d.opts.etcd},
                           {"last_ok_ms", d.etcd_ok_ms.load()},
                           {"reachable", now_ms() - d.etcd_ok_ms.load() < 3000}};
  std::map<std::string, std::pair<uint64_t, uint64_t>> owned; // node -> shards, moving
  json::array moves;
  json::array owners; // by shard: where `shard_of(actor id)` lives
  if (v) {
    for (uint32_t s = 0; s < v->shard.size(); ++s) {
      auto& x = v->shard[s];
      owners.push_back(json::value(x.owner));
      ++owned[x.owner].first;
      if (x.state == "moving") {
        ++owned[x.owner].second;
        moves.push_back(json::object{{"shard", s}, {"from", x.owner}, {"to", x.target}});
      }
    }
  }
  json::array members;
  std::set<std::string> listed;
  if (v) {
    for (auto& [id, m] : v->members) {
      listed.insert(id);
      members.push_back(json::object{{"node_id", id},
                                     {"state", v->draining.count(id) ? "draining" : m.state},
                                     {"http", m.http},
                                     {"caf", m.caf_host + ":" + std::to_string(m.caf_port)},
                                     {"shards", owned[id].first},
                                     {"started_ms", m.started_ms}});
    }
  }
  for (auto& [id, n] : owned)
    if (!id.empty() && !listed.count(id))
      members.push_back(json::object{{"node_id", id}, {"state", "absent"}, {"shards", n.first}});
  o["members"] = std::move(members);
  o["moves"] = std::move(moves);
  o["owners"] = std::move(owners);
  json::array peers;
  {
    std::lock_guard<std::mutex> guard{d.peers_mtx};
    for (auto& [id, p] : d.peers) {
      auto oldest = p->oldest_ms.load();
      auto batches = p->batches.load();
      peers.push_back(json::object{
        {"node_id", id},
        {"connected", p->connected.load()},
        {"outbox_depth", std::max<int64_t>(0, p->depth.load())},
        {"outbox_oldest_ms", oldest == 0 ? 0 : now_ms() - oldest},
        {"forwarded", p->forwarded.load()},
        {"batches", batches},
        {"ack_latency_ms",
         batches == 0 ? 0.0 : static_cast<double>(p->ack_us_sum.load()) / 1000.0 / batches},
        {"reconnects", p->reconnects.load()}});
    }
  }
  o["peers"] = std::move(peers);
  if (d.net)
    o["ingress"] = json::object{{"received", d.net->received()},
                                {"duplicates", d.net->duplicates()},
                                {"waits", d.net->waits()}};
  o["moves_done"] = d.moves_done.load();
  o["moves_aborted"] = d.moves_aborted.load();
  o["rows_moved"] = d.rows_moved.load();
  o["rows_imported"] = d.rows_imported.load();
  o["timers_moved"] = d.timers_moved.load();
  o["readdressed"] = d.readdressed.load();
  o["draining"] = v && v->draining.count(d.opts.node_id) != 0;
  auto left = d.fence_until.load()
              - std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now().time_since_epoch())
                  .count();
  o["fence"] = json::object{{"valid", left > 0},
                            {"ms_left", std::max<int64_t>(0, left)},
                            {"refusals", d.fence_refusals.load()},
                            {"extensions", d.fence_extensions.load()}};
  return json::serialize(o);
}

std::string cluster_node::metrics_text() const {
  auto& d = *impl_;
  std::string out;
  auto family = [&out](const char* name, const char* type, const char* help) {
    out += std::string{"# HELP "} + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  std::vector<std::pair<std::string, std::shared_ptr<peer_stats>>> peers;
  {
    std::lock_guard<std::mutex> guard{d.peers_mtx};
    peers.assign(d.peers.begin(), d.peers.end());
  }
  auto per_peer = [&](const char* name, const char* type, const char* help, auto value) {
    family(name, type, help);
    for (auto& [id, p] : peers)
      out += std::string{name} + "{peer=\"" + id + "\"} " + std::to_string(value(*p)) + "\n";
  };
  per_peer("cairn_cluster_outbox_depth", "gauge", "Outbox rows waiting for the peer.",
           [](peer_stats& p) { return std::max<int64_t>(0, p.depth.load()); });
  per_peer("cairn_cluster_forwarded_total", "counter", "Rows the peer acknowledged.",
           [](peer_stats& p) { return p.forwarded.load(); });
  per_peer("cairn_cluster_batches_total", "counter", "Batches the peer acknowledged.",
           [](peer_stats& p) { return p.batches.load(); });
  per_peer("cairn_cluster_ack_seconds_total", "counter",
           "Time from sending a batch to the peer's answer, summed over the batches counted in "
           "cairn_cluster_batches_total (their ratio: the mean acknowledgement latency).",
           [](peer_stats& p) { return static_cast<double>(p.ack_us_sum.load()) / 1e6; });
  per_peer("cairn_cluster_reconnects_total", "counter", "Connections to the peer made again.",
           [](peer_stats& p) { return p.reconnects.load(); });
  per_peer("cairn_cluster_peer_connected", "gauge", "1 while connected to the peer.",
           [](peer_stats& p) { return p.connected.load() ? 1 : 0; });
  auto plain = [&](const char* name, const char* type, const char* help, uint64_t v) {
    family(name, type, help);
    out += std::string{name} + " " + std::to_string(v) + "\n";
  };
  if (d.net) {
    plain("cairn_cluster_received_total", "counter", "Forwarded rows persisted here.",
          d.net->received());
    plain("cairn_cluster_duplicates_total", "counter",
          "Forwarded rows received again and skipped (at or below the sender's mark).",
          d.net->duplicates());
    plain("cairn_cluster_waits_total", "counter",
          "Forwarded batches taken in part or not at all (a shard not admitted here now).",
          d.net->waits());
  }
  plain("cairn_cluster_busy_total", "counter",
        "Messages refused (busy) because the outbox toward their owner was at its cap.",
        d.busy_refusals.load());
  plain("cairn_cluster_shards_owned", "gauge", "Shards this node owns.", shards_owned());
  plain("cairn_cluster_moves_total", "counter", "Shards this node handed over with their data.",
        d.moves_done.load());
  plain("cairn_cluster_fence_refusals_total", "counter",
        "Steps and forwarded messages refused because this node's fence had lapsed.",
        d.fence_refusals.load());
  plain("cairn_cluster_fence_extensions_total", "counter",
        "Fence extensions while etcd was out of reach for most members.",
        d.fence_extensions.load());
  plain("cairn_cluster_moves_aborted_total", "counter",
        "Handovers given up (the shards stayed here).", d.moves_aborted.load());
  plain("cairn_cluster_rows_moved_total", "counter", "Rows carried to other nodes by handovers.",
        d.rows_moved.load());
  plain("cairn_cluster_rows_imported_total", "counter", "Rows taken over from other nodes.",
        d.rows_imported.load());
  plain("cairn_cluster_timers_moved_total", "counter",
        "Timers sent to the owners of their receivers' shards (handovers, drains).",
        d.timers_moved.load());
  plain("cairn_cluster_readdressed_total", "counter",
        "Outbox rows sent on to their shard's new owner.", d.readdressed.load());
  return out;
}

} // namespace cairn::cluster
