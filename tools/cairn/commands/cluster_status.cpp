// SPDX-License-Identifier: Apache-2.0
// `cairn cluster status`: members, shards per node, moves, and this node's
// outboxes toward its peers (GET /api/v1/cluster). `cairn cluster drain`:
// moves every shard of a member away, after which that node stops.
#include <chrono>
#include <cstdio>
#include <thread>

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
      std::printf("node %s in cluster %s: %s shards, rebalancer %s, etcd %s\n",
                  field(v, "node_id").c_str(), field(v, "cluster_id").c_str(),
                  field(v, "shards").c_str(), field(v, "rebalancer").c_str(),
                  v.at("etcd").at("reachable").as_bool() ? "reachable" : "UNREACHABLE");
      if (auto* fence = v.as_object().if_contains("fence"))
        std::printf("fence %s (%s ms left); moved %s shards (%s rows), took %s rows; %s\n",
                    fence->at("valid").as_bool() ? "valid" : "LAPSED: this node's shards wait",
                    field(*fence, "ms_left").c_str(), field(v, "moves_done").c_str(),
                    field(v, "rows_moved").c_str(), field(v, "rows_imported").c_str(),
                    v.at("draining").as_bool() ? "DRAINING" : "active");
      std::printf("\n");
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

namespace {

/// Whether `node` is still a member in a `GET /api/v1/cluster` answer, and
/// how many shards it owns.
bool member_of(const boost::json::value& v, const std::string& node, int64_t& shards) {
  for (auto& m : v.at("members").as_array())
    if (m.at("node_id") == boost::json::value(node)
        && m.at("state") != boost::json::value("absent")) {
      shards = m.at("shards").to_number<int64_t>();
      return true;
    }
  return false;
}

} // namespace

void add_cluster_drain(CLI::App& cluster, int& exit_code) {
  auto* cmd = cluster.add_subcommand(
    "drain", "Move every shard of a member (with its data) to the others; that node then stops "
             "with exit 0");
  auto node = std::make_shared<std::string>();
  auto wait = std::make_shared<bool>(false);
  auto timeout = std::make_shared<int>(600);
  cmd->add_option("NODE", *node, "The member to drain (its node id)")->required();
  cmd->add_flag("--wait", *wait, "Wait until the member owns no shard and has stopped");
  cmd->add_option("--timeout", *timeout, "With --wait: give up after this many seconds")
    ->check(CLI::Range(1, 86'400));
  auto o = add_client_options(cmd);
  cmd->callback([o, node, wait, timeout, &exit_code] {
    auto body = boost::json::serialize(boost::json::object{{"node", *node}});
    auto asked = call_node(*o, "POST", "/api/v1/cluster/drain", body);
    if (asked.code != exit_ok) {
      exit_code = asked.code;
      return;
    }
    if (!*wait) {
      if (o->json)
        std::printf("%s\n", asked.raw.c_str());
      else
        std::printf("drain of %s asked: its shards move to the other members, then it stops\n",
                    node->c_str());
      exit_code = exit_ok;
      return;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{*timeout};
    int64_t last = -1;
    for (;;) {
      auto st = call_node(*o, "GET", "/api/v1/cluster");
      if (st.code != exit_ok) {
        exit_code = st.code;
        return;
      }
      int64_t shards = 0;
      if (!member_of(st.body, *node, shards)) {
        if (o->json)
          std::printf("{\"node\":\"%s\",\"drained\":true}\n", node->c_str());
        else
          std::printf("%s drained: it owns no shard and has left the cluster\n", node->c_str());
        exit_code = exit_ok;
        return;
      }
      if (shards != last && !o->json)
        std::printf("%s owns %lld shards\n", node->c_str(), static_cast<long long>(shards));
      last = shards;
      if (std::chrono::steady_clock::now() >= deadline) {
        std::fprintf(stderr,
                     "cairn: %s still owns %lld shards after %d s (see cairn cluster "
                     "status)\n",
                     node->c_str(), static_cast<long long>(shards), *timeout);
        exit_code = exit_node_error;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{500});
    }
  });
}

void add_cluster_forget(CLI::App& cluster, int& exit_code) {
  auto* cmd = cluster.add_subcommand(
    "forget", "Give the shards of a member whose disk is gone to the others, empty (what was on "
              "its disk is lost to the cluster)");
  auto node = std::make_shared<std::string>();
  auto yes = std::make_shared<bool>(false);
  cmd->add_option("NODE", *node, "The node to forget (not a member now)")->required();
  cmd->add_flag("--yes", *yes, "Confirm: its mailboxes, journals and timers are given up");
  auto o = add_client_options(cmd);
  cmd->callback([o, node, yes, &exit_code] {
    if (!*yes) {
      std::fprintf(stderr,
                   "cairn: forgetting %s gives its shards to the other members empty: the "
                   "mailboxes, journals and timers on its disk are lost to the cluster. If its "
                   "disk survives, start it again instead. To go on: cairn cluster forget %s "
                   "--yes\n",
                   node->c_str(), node->c_str());
      exit_code = exit_usage;
      return;
    }
    auto body = boost::json::serialize(boost::json::object{{"node", *node}});
    exit_code =
      run_call(*o, "POST", "/api/v1/cluster/forget", body, [&](const boost::json::value&) {
        std::printf("%s forgotten: its shards start empty on the other members\n", node->c_str());
      });
  });
}

} // namespace cairn::cli
