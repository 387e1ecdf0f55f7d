// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace cairn {

/// Where the messages of one actor go: this node's durable mailbox, or the
/// outbox toward the peer node that owns the actor (the cluster layer ships
/// outbox rows and deletes them once the peer has persisted them).
struct placement {
  std::string peer; ///< empty: local

  bool local() const noexcept { return peer.empty(); }
  static placement here() { return {}; }
  static placement at(std::string peer_node) { return placement{std::move(peer_node)}; }
};

/// Decides the placement of an actor id. The one routing decision of a node:
/// the commit coordinator asks it for every envelope it enqueues, inside the
/// step's batch, so a message for a remote actor commits atomically with the
/// step that sent it (invariant 2). Called on the commit thread: it must be
/// thread-safe, fast, and never block (read a shard map already in memory).
/// Empty (the default): every actor is local, the embedded single node.
using placement_fn = std::function<placement(std::string_view actor_id)>;

} // namespace cairn
