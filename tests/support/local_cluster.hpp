// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "etcd_process.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"

namespace cairn::test {

/// A cluster on this machine for one test (docs/cluster.md, "Tests"): a real
/// etcd and N `cairn node` processes on free loopback ports, each with its
/// own temp data directory. Everything it started is killed (SIGKILL) when
/// it is destroyed, so a failing test leaves no process behind.
class local_cluster {
public:
  /// Starts etcd only; nodes start with `start(i)`. `node_args` are added to
  /// every node's command line (workload, lease TTL, ...).
  local_cluster(size_t nodes, uint32_t shards, std::vector<std::string> node_args = {});
  ~local_cluster();
  local_cluster(const local_cluster&) = delete;
  local_cluster& operator=(const local_cluster&) = delete;

  /// Starts node i (`n<i+1>`) and waits until it is ready; false (with its
  /// output in `last_error()`) if it exits first. `env` holds NAME=VALUE
  /// pairs set for that process only.
  bool start(size_t i, const std::vector<std::string>& env = {});
  void start_all();
  /// SIGKILL, and waits for the exit.
  void kill(size_t i);
  /// SIGTERM; the exit code.
  int stop(size_t i);
  bool running(size_t i);

  size_t size() const { return nodes_.size(); }
  std::string node_id(size_t i) const { return "n" + std::to_string(i + 1); }
  std::string data_dir(size_t i) const;
  uint16_t http_port(size_t i) const { return nodes_[i].port; }
  node_process& process(size_t i) { return *nodes_[i].proc; }
  etcd_process& etcd() { return *etcd_; }
  const std::string& last_error() const { return last_error_; }
  /// The command line node i starts with.
  std::vector<std::string> args(size_t i) const;

  /// `GET /api/v1/cluster` of node i (null if it does not answer).
  boost::json::value status(size_t i);
  /// True when node i sees every running node as a member, no shard
  /// moving, and every member owning ⌊shards/members⌋ shards or more.
  bool balanced(size_t i);
  /// `balanced(i)` on every running node (each reads the map on its own).
  bool balanced();
  /// The sum of an unlabelled or per-peer metric on node i (-1: no answer).
  int64_t metric(size_t i, const std::string& name);

private:
  struct node {
    std::unique_ptr<node_process> proc;
    uint16_t port = 0;
  };
  temp_dir dir_;
  std::unique_ptr<etcd_process> etcd_;
  uint32_t shards_;
  std::vector<std::string> extra_;
  std::vector<node> nodes_;
  std::string last_error_;
};

} // namespace cairn::test
