// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>

#include "cairn/http.hpp"
#include "cairn/placement.hpp"

namespace cairn {
class runtime;
} // namespace cairn

// One node's part in a cluster (docs/cluster.md): its membership in etcd,
// the shard map, the elected rebalancer, and the transport that ships its
// outbox to the peers that own the receivers. CAF's network layer and the
// JSON documents stay behind this header.
namespace cairn::cluster {

/// How a node takes part in a cluster. A plain value.
struct cluster_options {
  std::string etcd;                    ///< etcd client URLs, comma-separated
  std::string node_id;                 ///< [a-z0-9-]{1,32}
  std::string listen = "127.0.0.1:0";  ///< where the CAF ingress is published
  uint32_t shards = 256;               ///< used when this node creates the cluster
  bool shards_given = false;           ///< a differing explicit value is refused
  int lease_ttl_s = 6;                 ///< membership lease, 2..60 s
  uint64_t outbox_cap = 100'000;       ///< rows per peer before new messages to it are busy
  std::chrono::milliseconds poll{250}; ///< how often the shard map is read again
};

/// Checks a node id: [a-z0-9-]{1,32}. Empty if fine, else why not.
std::string check_node_id(const std::string& id);

/// One node of a cluster. Life cycle, in the node's start order:
/// construct; put `placement()` and `forwarded_hook()` into the runtime's
/// options; open the runtime; `join()`; start the runtime; `run()`; at
/// stop: `stop()` before the runtime stops.
class cluster_node {
public:
  /// Keeps `opts`; nothing is checked or contacted until `join`.
  explicit cluster_node(cluster_options opts);
  ~cluster_node();
  cluster_node(const cluster_node&) = delete;
  cluster_node& operator=(const cluster_node&) = delete;

  /// The runtime's placement seam: local, or the peer owning the shard.
  /// Empty map (before `join`): local.
  placement_fn placement();
  /// The runtime's `on_forwarded`: counts the rows and wakes the forwarders
  /// of those peers.
  std::function<void(const std::vector<std::pair<std::string, std::string>>&)> forwarded_hook();
  /// The runtime's `admit`: this node owns the actor's shard and is not
  /// handing it over.
  std::function<bool(std::string_view)> admission();
  /// The runtime's `fires`: a due timer is held back while its shard is
  /// handed over from here, or while a drained node sends its timers away.
  std::function<bool(std::string_view)> timer_gate();

  /// Joins (or creates) the cluster etcd describes: checks this data
  /// directory's node id, publishes the CAF ingress, registers under a
  /// lease (with `http_url`, its node API, for status), reads the shard
  /// map. Blocking; before the runtime starts.
  caf::error join(runtime& rt, std::string http_url);
  /// Starts the forwarders and the background loop (keep-alive, map
  /// polling, rebalancing). After the runtime started.
  void run();
  /// Stops forwarding and the loop, leaves the membership (revokes the
  /// lease). Idempotent. Rows not yet acknowledged stay in the outbox.
  void stop();

  /// `GET /api/v1/cluster` as JSON text.
  std::string status_json() const;
  /// The per-peer metrics, in the Prometheus text format.
  std::string metrics_text() const;
  /// Shards this node owns now.
  uint32_t shards_owned() const;
  /// `cairn cluster drain NODE`: asks the rebalancer to move every shard of
  /// that member away; once it owns none and its outbox is empty, that node
  /// stops by itself (exit 0). Never blocks (the loop writes the request to
  /// etcd). Empty if taken, else why not (an unknown node).
  std::string request_drain(const std::string& node_id);
  /// `cairn cluster forget NODE --yes`, for a node whose disk is gone: its
  /// shards are given to the live members at the next epoch and start
  /// empty there. Refused while NODE is a member. Never blocks (the loop
  /// writes it to etcd). Empty if taken, else why not.
  std::string request_forget(const std::string& node_id);
  /// True once this node was drained: it owns no shard and its outbox is
  /// empty. The node then stops.
  bool drained() const;

  /// Where reads about `actor_id` are answered: nothing if here (or not
  /// clustered yet), else the owner's node id and its API URL (empty URL:
  /// the owner is not a member now).
  struct remote_owner {
    std::string node_id; ///< the owning node's id
    std::string http;    ///< its node API URL; empty while it is not a member
  };
  /// See `remote_owner`.
  std::optional<remote_owner> owner_of(std::string_view actor_id) const;
  /// The other nodes holding data: the members with their API URLs (for
  /// reads asked of everyone), then owners of shards that are not members
  /// now (empty URL).
  std::vector<remote_owner> others() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

/// Reads anywhere (docs/cluster.md): wraps a node's HTTP handler so a GET
/// under `/api/v1/actors/{id}` (or of `/api/v1/plans/{id}`, the actor
/// `plan/<id>`) for an actor another node owns is answered by that node —
/// proxied (the caller's Authorization passed through), with
/// `Cairn-Served-By: <node>` on the answer; `503 owner_unavailable` when the
/// owner is not a member now. A dead letter this node does not hold
/// (`/api/v1/dead-letters/{id}`: show, redrive, discard) is asked of the
/// other members in turn. Proxied calls run on threads of their own, never
/// on an HTTP I/O thread. Everything else goes to `next`.
http_handler route_reads(cluster_node& c, http_handler next);

} // namespace cairn::cluster
