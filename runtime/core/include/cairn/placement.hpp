// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace cairn {

/// Where the messages of one actor go: this node's durable mailbox, or the
/// outbox toward the peer node that owns the actor (the cluster layer ships
/// outbox rows and deletes them once the peer has persisted them).
struct placement {
  std::string peer;  ///< empty: local
  bool full = false; ///< the outbox toward `peer` is at its cap: refuse as `busy`

  /// True if the actor is on this node (its messages go to the mailbox).
  bool local() const noexcept { return peer.empty(); }
  /// The actor is on this node.
  static placement here() { return {}; }
  /// The actor is on `peer_node`: its messages go to the outbox toward it.
  static placement at(std::string peer_node) { return placement{std::move(peer_node), false}; }
  /// Backpressure: the commit that would add this envelope fails with
  /// `busy` and writes nothing (accepts answer 503; a step is tried again).
  static placement full_at(std::string peer_node) { return placement{std::move(peer_node), true}; }
};

/// Decides the placement of an actor id. The one routing decision of a node:
/// the commit coordinator asks it for every envelope it enqueues, inside the
/// step's batch, so a message for a remote actor commits atomically with the
/// step that sent it (invariant 2). Called on the commit thread: it must be
/// thread-safe, fast, and never block (read a shard map already in memory).
/// Empty (the default): every actor is local, the embedded single node.
using placement_fn = std::function<placement(std::string_view actor_id)>;

/// The shard of an actor id in a cluster of `shards` shards (docs/cluster.md,
/// "Placement"): FNV-1a 64 over the whole id (`kind/key`), mixed by
/// MurmurHash3's 64-bit finalizer (FNV's low bits alone spread poorly under a
/// modulus), modulo `shards`. A topic's shard is that of `topic/<name>`.
/// Changing this function moves every actor of every cluster: golden
/// vectors in the tests pin it. `shards` must be at least 1. Pure.
inline uint32_t shard_of(std::string_view actor_id, uint32_t shards) noexcept {
  uint64_t h = 0xcbf29ce484222325ULL; // FNV-1a 64 offset basis
  for (unsigned char c : actor_id) {
    h ^= c;
    h *= 0x100000001b3ULL; // FNV prime
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return static_cast<uint32_t>(h % shards);
}

} // namespace cairn
