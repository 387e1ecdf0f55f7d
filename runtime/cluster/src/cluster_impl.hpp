// SPDX-License-Identifier: Apache-2.0
// The inside of one cluster node: the view of etcd it acts on, the rebalancer's
// plan, and the transport. Not installed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cairn/cluster/cluster_node.hpp"
#include "cairn/cluster/etcd_client.hpp"

namespace caf {
class actor_system;
class actor_system_config;
class actor;
} // namespace caf

namespace cairn::cluster {

/// Milliseconds of the steady clock (deadlines that no clock step moves).
inline int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

/// A member key (`/cairn/members/<node>`).
struct member_info {
  std::string node_id;
  std::string caf_host;
  uint16_t caf_port = 0;
  std::string http;
  std::string incarnation;
  std::string state = "active"; ///< active, or drained (leaving: no shard goes to it)
  int64_t started_ms = 0;
};

/// A shard key (`/cairn/shards/<nnnn>`).
struct shard_info {
  std::string owner;
  int64_t epoch = 0;
  std::string state = "owned"; ///< owned | moving
  std::string target;          ///< while moving
  int64_t mod_revision = 0;
};

/// What this node knows of the cluster: one consistent read of `/cairn/`.
struct cluster_view {
  std::string cluster_id;
  uint32_t shards = 0;
  std::string cluster_state; ///< creating | ready
  std::vector<shard_info> shard;
  std::map<std::string, member_info> members;
  std::string rebalancer;
  std::set<std::string> draining; ///< members asked to give their shards away
  int64_t revision = 0;
  int64_t read_at = 0; ///< etcd's revision when the map was read (orders two reads)
};

std::string member_json(const member_info& m);
std::optional<member_info> parse_member(const std::string& node_id, const std::string& json);
std::string shard_json(const shard_info& s);
std::optional<shard_info> parse_shard(const std::string& json);
std::string shard_key(uint32_t shard);
/// Builds a view from a range of `/cairn/`.
cluster_view make_view(const std::vector<etcd_kv>& kvs, int64_t revision);

/// A shard the rebalancer marks for a move.
struct planned_move {
  uint32_t shard;
  std::string from;
  std::string to;
};

/// The rebalancer's next moves, at most `limit`, all from one member: none
/// while any shard moves; else every shard of a draining member (to the
/// least loaded active ones); else from the most loaded active member to
/// the least loaded while their counts differ by more than one. Never a
/// shard whose owner has no member key (its data is on that node's disk).
/// Pure.
std::vector<planned_move> plan_moves(const cluster_view& v, size_t limit);

/// One peer's counters (the forwarder writes them, status reads them).
struct peer_stats {
  std::atomic<int64_t> depth{0};     ///< outbox rows toward the peer
  std::atomic<uint64_t> added{0};    ///< rows ever put in that outbox (counted after their commit)
  std::atomic<int64_t> oldest_ms{0}; ///< when the oldest unacknowledged batch was read (0: none)
  std::atomic<uint64_t> forwarded{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> reconnects{0};
  std::atomic<uint64_t> ack_us_sum{0};
  std::atomic<bool> connected{false};
  std::atomic<bool> drop_failed{false}; ///< acknowledged rows could not be deleted
};

class transport;

struct cluster_node::impl {
  cluster_options opts;
  std::optional<etcd_client> etcd;
  runtime* rt = nullptr;
  std::string incarnation;
  std::string http; ///< this node's API URL
  int64_t lease = 0;
  std::string caf_host;
  uint16_t caf_port = 0;

  std::shared_ptr<const cluster_view> view; ///< std::atomic_load / atomic_store
  std::shared_ptr<const cluster_view> current() const { return std::atomic_load(&view); }
  /// Publishes `v` unless a map read later was published already: the loop
  /// and the handover thread both read the map, and the older of two reads
  /// may finish last. False if `v` was older.
  bool publish_view(cluster_view v) {
    std::lock_guard<std::mutex> lock{view_mtx};
    auto now = current();
    if (now && v.read_at < now->read_at)
      return false;
    std::atomic_store(
      &view, std::shared_ptr<const cluster_view>{std::make_shared<cluster_view>(std::move(v))});
    return true;
  }
  std::mutex view_mtx; ///< publishers only; readers take `current()`

  std::unique_ptr<transport> net;

  // Peers and their counters (entries are never removed while running).
  mutable std::mutex peers_mtx;
  std::map<std::string, std::shared_ptr<peer_stats>> peers;
  std::shared_ptr<peer_stats> peer(const std::string& id);

  std::atomic<bool> running{false};
  std::atomic<int64_t> etcd_ok_ms{0};
  std::atomic<uint64_t> etcd_failures{0};
  std::atomic<uint64_t> moves_done{0};    ///< shards handed over by this node
  std::atomic<uint64_t> moves_aborted{0}; ///< handovers given up (the shard stayed here)
  std::atomic<uint64_t> rows_moved{0};    ///< rows carried by those handovers
  std::atomic<uint64_t> rows_imported{0}; ///< rows this node took over
  std::atomic<uint64_t> readdressed{0};   ///< outbox rows sent on to a shard's new owner
  std::mutex loop_mtx;
  std::condition_variable loop_cv;
  std::thread loop;
  /// Handovers run on a thread of their own: a long one never delays the
  /// lease renewals (and so the fence) on `loop`.
  std::thread handover_loop;
  void run_handovers();

  // Outbox rows per (shard, peer): while a peer's outbox holds rows for a
  // shard, new envelopes for it go there too (they are re-addressed with
  // them, in order), so one actor's messages never take two paths.
  mutable std::mutex sticky_mtx;
  std::map<uint32_t, std::map<std::string, int64_t>> sticky;
  void count_outbox(const std::string& peer, std::string_view actor, int64_t delta);
  std::string sticky_peer(uint32_t shard, const std::string& dest) const;

  // A handover this node runs as its source (the loop thread only).
  struct handover {
    std::string target;
    std::set<uint32_t> shards;
    int64_t since_ms = 0;
    std::string why_waiting; ///< for the log and the status
  };
  std::map<std::string, handover> handovers; ///< by target
  std::atomic<int64_t> handover_rows{0};     ///< rows being carried now (status)
  std::set<uint32_t> owned_before;           ///< shards owned at the previous round
  bool first_round = true;

  // Fencing: work for an owned shard is admitted only until `fence_until`
  // (steady ms): the time the last lease renewal was sent plus the TTL less
  // a second, published after a read of the map that followed it; or, with
  // etcd out of reach for a majority of the members, one TTL more at a time.
  std::atomic<int64_t> fence_until{0};
  mutable std::atomic<uint64_t> fence_refusals{0};
  std::atomic<uint64_t> fence_extensions{0};
  bool fence_valid() const;
  /// etcd does not answer: extend the fence if most members say so too.
  void extend_by_majority(const cluster_view& v);
  bool extended_last = false; ///< the previous round extended (log once)
  uint64_t refusals_seen = 0; ///< fence refusals woken up after (loop thread)

  // Forgetting (`cairn cluster forget`).
  std::mutex forget_mtx;
  std::vector<std::string> forget_requests;
  void forget(const cluster_view& v, const std::string& node);

  // Draining (`cairn cluster drain`).
  std::mutex drain_mtx;
  std::vector<std::string> drain_requests; ///< node ids to mark, for the loop
  std::atomic<bool> drained{false};

  cairn::placement place(std::string_view actor_id) const;
  bool admit(std::string_view actor_id) const;
  /// Where outbox rows toward `peer` for `actor` belong now: `peer` (keep
  /// them), "" (this node), or another node.
  std::string destination(const cluster_view& v, const std::string& peer,
                          std::string_view actor) const;
  bool outbox_full(const std::string& peer_id) const;
  mutable std::atomic<uint64_t> busy_refusals{0};
  caf::error create_or_check_cluster();
  caf::error register_member();
  caf::error refresh();
  void run_loop();
  /// Renews the lease (or registers again if etcd expired it); the fence
  /// this renewal allows once the map was read after it (0: none).
  int64_t keep_alive();
  void rebalance(const cluster_view& v);
  void hand_over(const cluster_view& v);
  void hand_over_to(const cluster_view& v, handover& h);
  caf::error abort_handover(const cluster_view& v, const handover& h);
  /// Deletes the rows of shards this node handed over (recorded in `meta
  /// cluster/handovers` before each flip) once etcd names their new owner;
  /// after a crash too.
  void settle_handovers(const cluster_view& v);
  void after_round(const cluster_view& v);
  /// The target's half (the transport's handoff thread): a chunk of rows
  /// of the shards in `csv` from `from`; chunk 0 first clears what this node
  /// holds of them. Empty if written, else why not.
  std::string take_chunk(const std::string& from, const std::string& csv, uint64_t n,
                         std::vector<std::string>& rows);
  /// Whether this node holds exactly the rows counted in `counts`
  /// ("mailbox,journal,snapshot,dedupe") of those shards. Empty if so.
  std::string verify_import(const std::string& from, const std::string& csv,
                            const std::string& counts);

  // Timers (docs/cluster.md, "Handoff"): a due timer fires on the node that
  // holds it, through `place`, except while its shard is handed over from
  // here (the shards of the handover record) or while this node, drained
  // of shards, sends its timers to their receivers' owners.
  std::shared_ptr<const std::set<uint32_t>> held_shards; ///< std::atomic_load / atomic_store
  std::atomic<bool> timers_ready{false};                 ///< the record was read once
  std::atomic<bool> timers_leaving{false};               ///< draining and no shard owned
  std::atomic<uint64_t> timers_moved{0};
  bool fires(std::string_view to) const;
  void publish_held(const std::map<std::string, std::set<uint32_t>>& record);
  /// The receiving half: timer rows from `from`, each held once.
  std::string take_timers(const std::string& from, std::vector<std::string>& rows);
  /// A draining node that owns no shard sends its remaining timers away.
  void send_timers_away(const cluster_view& v);
};

} // namespace cairn::cluster
