// SPDX-License-Identifier: Apache-2.0
// What operators ask of a cluster (docs/cluster.md): draining a member,
// forgetting a dead one, and keeping the fence while etcd is out of reach
// for most members.
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "cairn/error.hpp"
#include "cairn/runtime.hpp"
#include "cluster_impl.hpp"
#include "transport.hpp"

namespace cairn::cluster {

namespace {

constexpr size_t ops_per_txn = 60; // compares + puts stay under etcd's 128

} // namespace

std::string cluster_node::request_drain(const std::string& node_id) {
  auto& d = *impl_;
  auto v = d.current();
  if (!v || v->members.count(node_id) == 0)
    return "no member '" + node_id + "' in this cluster now (see cairn cluster status)";
  {
    std::lock_guard<std::mutex> guard{d.drain_mtx};
    d.drain_requests.push_back(node_id);
  }
  d.loop_cv.notify_all();
  return {};
}

std::string cluster_node::request_forget(const std::string& node_id) {
  auto& d = *impl_;
  auto v = d.current();
  if (!v)
    return "this node has no shard map yet";
  if (v->members.count(node_id) != 0)
    return "node " + node_id + " is a member (its lease is alive): drain it, or stop it first";
  bool owns = false;
  for (auto& s : v->shard)
    owns = owns || s.owner == node_id;
  if (!owns)
    return "node " + node_id + " owns no shard";
  {
    std::lock_guard<std::mutex> guard{d.forget_mtx};
    d.forget_requests.push_back(node_id);
  }
  d.loop_cv.notify_all();
  return {};
}

void cluster_node::impl::forget(const cluster_view& v, const std::string& node) {
  // Its shards restart empty on the live members, least loaded first; the
  // txn holds only while the node has no member key and no shard key changed.
  std::map<std::string, size_t> load;
  for (auto& [id, m] : v.members)
    if (v.draining.count(id) == 0)
      load[id] = 0;
  if (load.empty())
    return;
  for (auto& s : v.shard)
    if (auto it = load.find(s.owner); it != load.end())
      ++it->second;
  std::vector<etcd_compare> cmp{etcd_compare::absent("/cairn/members/" + node)};
  std::vector<etcd_op> ops;
  size_t moved = 0;
  auto flush = [&] {
    if (ops.empty())
      return true;
    auto ok = etcd->txn(cmp, ops);
    cmp.resize(1);
    ops.clear();
    return ok && *ok;
  };
  for (uint32_t n = 0; n < v.shard.size(); ++n) {
    auto x = v.shard[n];
    if (x.owner != node)
      continue;
    auto least = std::min_element(load.begin(), load.end(), [](auto& a, auto& b) {
      return a.second != b.second ? a.second < b.second : a.first < b.first;
    });
    cmp.push_back(etcd_compare::modified_at(shard_key(n), x.mod_revision));
    x.owner = least->first;
    x.state = "owned";
    x.target.clear();
    ++x.epoch;
    ops.push_back(etcd_op::put(shard_key(n), shard_json(x)));
    ++least->second;
    ++moved;
    if (ops.size() >= ops_per_txn / 2 && !flush()) {
      spdlog::warn("cluster: forgetting {} stopped: it came back, or the map changed", node);
      return;
    }
  }
  if (!flush()) {
    spdlog::warn("cluster: forgetting {} stopped: it came back, or the map changed", node);
    return;
  }
  spdlog::warn("cluster: forgot node {}: its {} shards start empty on the other members (what "
               "was on its disk is gone for the cluster)",
               node, moved);
  ignore_error(refresh());
}

bool cluster_node::drained() const {
  return impl_->drained.load();
}

void cluster_node::impl::extend_by_majority(const cluster_view& v) {
  auto left = fence_until.load() - steady_ms();
  if (left > 1000)
    return;
  // Ask every member whether it reaches etcd; the ones that answer "no"
  // and this node make the count.
  size_t members = v.members.size() + (v.members.count(opts.node_id) ? 0 : 1);
  size_t cut_off = 1; // this node
  for (auto& [id, m] : v.members) {
    if (id == opts.node_id)
      continue;
    auto since = net->probe(m.caf_host, m.caf_port);
    if (since && *since > 1000)
      ++cut_off;
  }
  if (cut_off * 2 > members) {
    fence_until.store(steady_ms() + opts.lease_ttl_s * 1000 - 1000);
    fence_extensions.fetch_add(1);
    if (!extended_last)
      spdlog::warn("cluster: etcd is out of reach for {} of {} members: the shards owned here go "
                   "on, nothing moves until it returns",
                   cut_off, members);
    extended_last = true;
  } else if (left > 0 || extended_last) {
    spdlog::warn("cluster: etcd is out of reach here but not for most members ({} of {} cut "
                 "off): work for this node's shards stops until it reaches etcd again",
                 cut_off, members);
    extended_last = false;
  }
}

} // namespace cairn::cluster
