// SPDX-License-Identifier: Apache-2.0
// The transport between nodes (docs/cluster.md, "Transport"): one ingress
// actor per node published through CAF's middleman, one forwarder thread per
// peer shipping that peer's outbox in batches. Not installed.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <caf/expected.hpp>

#include "cairn/runtime.hpp"

#include "cluster_impl.hpp"

namespace cairn::cluster {

class transport {
public:
  explicit transport(cluster_node::impl& node);
  ~transport();
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  /// Starts CAF's network layer and publishes the ingress; the bound port.
  caf::expected<uint16_t> start(const std::string& host, uint16_t port);
  /// Wakes (or starts) the forwarder toward `peer`. Any thread; never blocks
  /// for long (the first call for a peer starts its thread).
  void wake(const std::string& peer);
  /// Stops the forwarders and the network layer. Idempotent.
  void stop();

  /// Carries a shard handover's rows to `peer` (docs/cluster.md,
  /// "Handoff"): chunks of at most 1 MiB, the first clearing what the peer
  /// holds of those shards, then a check that the peer holds exactly these
  /// rows. Blocking (the cluster loop's thread).
  caf::error hand_over(const std::string& peer, const std::string& shards_csv,
                       std::vector<runtime::actor_row> rows);
  /// Carries timer rows to `peer`, which holds each once however often it
  /// is sent. Blocking.
  caf::error send_timers(const std::string& peer, const std::vector<runtime::actor_row>& rows);

  /// Asks the node at host:port how long ago it last reached etcd (ms);
  /// nothing if it does not answer within a second. Blocking.
  std::optional<int64_t> probe(const std::string& host, uint16_t port);

  uint64_t received() const { return received_.load(); }
  uint64_t duplicates() const { return duplicates_.load(); }
  uint64_t waits() const { return waits_.load(); }

  struct forwarder;
  struct ingress_state;

private:
  /// The handoff actor of `peer` (a member now). Blocking.
  caf::expected<caf::actor> handoff_of(const std::string& peer);
  void forward_loop(forwarder& f);
  /// Takes the next batches of sender `key` in turn (the ingress actor only).
  void next_batch(ingress_state& st, const std::string& key);
  /// Sends outbox rows toward `f`'s peer whose shard has another owner now
  /// on to that owner (or into this node's mailbox), in order. False if
  /// some could not go now (refused, say while this node's fence lapsed, or
  /// more than one pass takes): the caller tries again soon. Rows the peer
  /// acknowledged (below `forwarder::acked_below`) are the peer's, whatever
  /// the map says now: they are never sent on, only dropped.
  bool readdress(forwarder& f);

  cluster_node::impl& node_;
  std::unique_ptr<caf::actor_system_config> cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::shared_ptr<ingress_state> ingress_;
  std::mutex mtx_;
  std::map<std::string, std::unique_ptr<forwarder>> forwarders_;
  std::atomic<bool> stopping_{false}; ///< read without mtx_ (forwarders hold their own lock)
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> duplicates_{0};
  std::atomic<uint64_t> waits_{0};
  int kill_after_persist_ = 0; ///< test point (CAIRN_TEST_POINTS): SIGKILL after the n-th
  std::atomic<int> persisted_{0};
};

/// One peer's forwarder: its thread ships that peer's outbox.
struct transport::forwarder {
  std::string peer;
  std::shared_ptr<peer_stats> stats;
  std::mutex mtx;
  std::condition_variable cv;
  bool woken = false;
  int64_t readdressed_at = -1;     ///< the map revision its outbox was last re-addressed at
  uint64_t added_at_readdress = 0; ///< and `peer_stats::added` read before that pass
  /// Every row below it was acknowledged by the peer (its drop may still be
  /// on its way to the disk). Only grows; the forwarder thread's alone.
  uint64_t acked_below = 0;
  std::thread thread;
};

} // namespace cairn::cluster
