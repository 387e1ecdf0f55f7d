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
#include <string>
#include <thread>

#include <caf/expected.hpp>

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

  uint64_t received() const { return received_.load(); }
  uint64_t duplicates() const { return duplicates_.load(); }
  uint64_t relayed() const { return relayed_.load(); }
  uint64_t waits() const { return waits_.load(); }

  struct forwarder;
  struct ingress_state;

private:
  void forward_loop(forwarder& f);
  /// Takes the next batches of sender `key` in turn (the ingress actor only).
  void next_batch(ingress_state& st, const std::string& key);

  cluster_node::impl& node_;
  std::unique_ptr<caf::actor_system_config> cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::shared_ptr<ingress_state> ingress_;
  std::mutex mtx_;
  std::map<std::string, std::unique_ptr<forwarder>> forwarders_;
  std::atomic<bool> stopping_{false}; ///< read without mtx_ (forwarders hold their own lock)
  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> duplicates_{0};
  std::atomic<uint64_t> relayed_{0};
  std::atomic<uint64_t> waits_{0};
  int kill_after_persist_ = 0; ///< test point (CAIRN_TEST_POINTS): SIGKILL after the n-th
  std::atomic<int> persisted_{0};
};

} // namespace cairn::cluster
