// SPDX-License-Identifier: Apache-2.0
// `cairn cluster status`: members, shards per node, moves, and this node's
// outboxes toward its peers (GET /api/v1/cluster).
#include <cstdio>

#include <boost/json.hpp>

#include "commands/client_output.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

void add_cluster_status(CLI::App& cluster, int& exit_code) {
  auto* cmd = cluster.add_subcommand(
    "status", "Members and their shards, moves, and the outbox toward each peer");
  auto o = add_client_options(cmd);
  cmd->callback([o, &exit_code] {
    exit_code = run_call(*o, "GET", "/api/v1/cluster", "", [](const boost::json::value& v) {
      std::printf("node %s in cluster %s: %s shards, rebalancer %s, etcd %s\n\n",
                  field(v, "node_id").c_str(), field(v, "cluster_id").c_str(),
                  field(v, "shards").c_str(), field(v, "rebalancer").c_str(),
                  v.at("etcd").at("reachable").as_bool() ? "reachable" : "UNREACHABLE");
      print_table({"MEMBER", "STATE", "SHARDS", "HTTP", "PEERS DIAL"},
                  rows_of(v, "members", {"node_id", "state", "shards", "http", "caf"}));
      auto& moves = v.at("moves").as_array();
      if (!moves.empty()) {
        std::printf("\n");
        print_table({"MOVING SHARD", "FROM", "TO"}, rows_of(v, "moves", {"shard", "from", "to"}));
      }
      if (!v.at("peers").as_array().empty()) {
        std::printf("\n");
        print_table(
          {"PEER", "CONNECTED", "OUTBOX", "OLDEST MS", "FORWARDED", "ACK MS", "RECONNECTS"},
          rows_of(v, "peers",
                  {"node_id", "connected", "outbox_depth", "outbox_oldest_ms", "forwarded",
                   "ack_latency_ms", "reconnects"}));
      }
    });
  });
}

} // namespace cairn::cli
