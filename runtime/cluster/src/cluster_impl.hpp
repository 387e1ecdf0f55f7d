// SPDX-License-Identifier: Apache-2.0
// The inside of one cluster node: the view of etcd it acts on, the rebalancer's
// plan, and the transport. Not installed.
#pragma once

#include <atomic>
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

/// A member key (`/cairn/members/<node>`).
struct member_info {
  std::string node_id;
  std::string caf_host;
  uint16_t caf_port = 0;
  std::string http;
  std::string incarnation;
  std::string state = "active"; ///< active | draining
  int64_t started_ms = 0;
};

/// A shard key (`/cairn/shards/<nnnn>`).
struct shard_info {
  std::string owner;
  int64_t epoch = 0;
  std::string state = "owned"; ///< owned | moving
  std::string target;          ///< while moving
  /// Holds data on its owner: not moved until handoff with data exists
  /// (docs/cluster.md, "Status").
  bool stay = false;
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
  int64_t revision = 0;
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

/// The rebalancer's next moves: none while any shard moves; otherwise from
/// the most loaded active member to the least loaded while their counts
/// differ by more than one, never a `stay` shard or one whose owner has no
/// member key, at most `limit`. Pure.
std::vector<planned_move> plan_moves(const cluster_view& v, size_t limit);

/// One peer's counters (the forwarder writes them, status reads them).
struct peer_stats {
  std::atomic<int64_t> depth{0};     ///< outbox rows toward the peer
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
  void publish_view(cluster_view v) {
    std::atomic_store(
      &view, std::shared_ptr<const cluster_view>{std::make_shared<cluster_view>(std::move(v))});
  }

  std::unique_ptr<transport> net;

  // Peers and their counters (entries are never removed while running).
  mutable std::mutex peers_mtx;
  std::map<std::string, std::shared_ptr<peer_stats>> peers;
  std::shared_ptr<peer_stats> peer(const std::string& id);

  std::atomic<bool> running{false};
  std::atomic<int64_t> etcd_ok_ms{0};
  std::atomic<uint64_t> etcd_failures{0};
  std::atomic<uint64_t> moves_done{0};
  std::atomic<uint64_t> moves_kept{0}; ///< a marked shard held data: it stayed
  std::mutex loop_mtx;
  std::condition_variable loop_cv;
  std::thread loop;

  cairn::placement place(std::string_view actor_id) const;
  bool outbox_full(const std::string& peer_id) const;
  mutable std::atomic<uint64_t> busy_refusals{0};
  caf::error create_or_check_cluster();
  caf::error register_member();
  caf::error refresh();
  void run_loop();
  void keep_alive();
  void rebalance(const cluster_view& v);
  void finish_moves(const cluster_view& v);
};

} // namespace cairn::cluster
