// SPDX-License-Identifier: Apache-2.0
// `cairn node` as a cluster member (docs/cluster.md): the member built from
// the settings and put into the runtime's seams, and its endpoints on the
// node API.
#include "cairn/cluster/cluster_node.hpp"
#include "cairn/node_api.hpp"
#include "cairn/runtime.hpp"
#include "commands/node_run.hpp"

namespace cairn::cli {

std::unique_ptr<cluster::cluster_node> cluster_member(const node_settings& ns,
                                                      runtime_options& opts) {
  if (ns.cluster_etcd.empty())
    return nullptr; // the embedded default: one node, no etcd
  cluster::cluster_options co;
  co.etcd = ns.cluster_etcd;
  co.node_id = ns.node_id;
  co.listen = ns.cluster_listen;
  co.shards = ns.shards;
  co.shards_given = ns.shards_given;
  co.lease_ttl_s = static_cast<int>(ns.cluster_lease_ttl);
  co.outbox_cap = static_cast<uint64_t>(ns.cluster_outbox_cap);
  auto member = std::make_unique<cluster::cluster_node>(co);
  // A member routes by the shard map from the first commit on.
  opts.place = member->placement();
  opts.on_forwarded = member->forwarded_hook();
  opts.admit = member->admission();
  opts.fires = member->timer_gate();
  return member;
}

void wire_cluster_api(cluster::cluster_node& member, node_api_options& api) {
  auto* m = &member;
  api.cluster_status = [m] { return m->status_json(); };
  api.cluster_drain = [m](const std::string& id) { return m->request_drain(id); };
  api.cluster_forget = [m](const std::string& id) { return m->request_forget(id); };
}

} // namespace cairn::cli
