// SPDX-License-Identifier: Apache-2.0
// Where a node's messages go and what it may work on (docs/cluster.md,
// "Placement" and "Fencing"): the placement and admission seams the runtime
// calls on its commit thread, the sticky rule's counts, and the fence.
#include "cairn/runtime.hpp"
#include "cluster_impl.hpp"
#include "transport.hpp"

namespace cairn::cluster {

cairn::placement cluster_node::impl::place(std::string_view actor_id) const {
  auto v = current();
  if (!v || v->shards == 0 || v->shard.size() != v->shards)
    return placement::here();
  auto n = shard_of(actor_id, v->shards);
  auto& s = v->shard[n];
  std::string dest = s.owner == opts.node_id ? std::string{} : s.owner;
  if (s.owner == opts.node_id && s.state == "moving") {
    // Being handed over: nothing may be added to its rows here. Senders
    // retry (accepts answer 429, steps run again without spending an attempt).
    busy_refusals.fetch_add(1);
    return placement::full_at(s.target);
  }
  if (auto p = sticky_peer(n, dest); !p.empty())
    dest = p;
  if (dest.empty()) {
    if (!fence_valid()) {
      // Fenced (the lease may be gone, the shard given to another): an
      // accepted message could be stranded here. Senders retry.
      busy_refusals.fetch_add(1);
      return placement::full_at(opts.node_id);
    }
    return placement::here();
  }
  if (opts.outbox_cap > 0 && outbox_full(dest)) {
    busy_refusals.fetch_add(1);
    return placement::full_at(dest);
  }
  return placement::at(dest);
}

bool cluster_node::impl::admit(std::string_view actor_id) const {
  auto v = current();
  if (!v || v->shards == 0 || v->shard.size() != v->shards)
    return true;
  auto& s = v->shard[shard_of(actor_id, v->shards)];
  if (s.owner != opts.node_id || s.state != "owned")
    return false;
  if (!fence_valid()) {
    fence_refusals.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

std::string cluster_node::impl::destination(const cluster_view& v, const std::string& peer,
                                            std::string_view actor) const {
  if (v.shards == 0 || v.shard.size() != v.shards)
    return peer;
  auto& s = v.shard[shard_of(actor, v.shards)];
  if (s.owner == peer || s.state != "owned" || s.owner.empty())
    return peer; // still its owner, or moving: it waits there
  return s.owner == opts.node_id ? std::string{} : s.owner;
}

void cluster_node::impl::count_outbox(const std::string& peer, std::string_view actor,
                                      int64_t delta) {
  auto v = current();
  if (!v || v->shards == 0)
    return;
  auto n = shard_of(actor, v->shards);
  std::lock_guard<std::mutex> guard{sticky_mtx};
  auto& per = sticky[n];
  auto& c = per[peer];
  c += delta;
  if (c <= 0)
    per.erase(peer);
  if (per.empty())
    sticky.erase(n);
}

std::string cluster_node::impl::sticky_peer(uint32_t shard, const std::string& dest) const {
  std::lock_guard<std::mutex> guard{sticky_mtx};
  auto it = sticky.find(shard);
  if (it == sticky.end())
    return {};
  for (auto& [peer, n] : it->second)
    if (n > 0 && peer != dest)
      return peer;
  return {};
}

bool cluster_node::impl::outbox_full(const std::string& peer_id) const {
  std::lock_guard<std::mutex> guard{peers_mtx};
  auto it = peers.find(peer_id);
  return it != peers.end()
         && it->second->depth.load(std::memory_order_relaxed)
              >= static_cast<int64_t>(opts.outbox_cap);
}

placement_fn cluster_node::placement() {
  auto* d = impl_.get();
  return [d](std::string_view id) { return d->place(id); };
}

std::function<void(const std::vector<std::pair<std::string, std::string>>&)>
cluster_node::forwarded_hook() {
  auto* d = impl_.get();
  return [d](const std::vector<std::pair<std::string, std::string>>& rows) {
    std::string last;
    for (auto& [p, to] : rows) {
      auto stats = d->peer(p);
      stats->depth.fetch_add(1);
      stats->added.fetch_add(1);
      d->count_outbox(p, to, 1);
      if (p != last && d->net)
        d->net->wake(p);
      last = p;
    }
  };
}

std::function<bool(std::string_view)> cluster_node::admission() {
  auto* d = impl_.get();
  return [d](std::string_view id) { return d->admit(id); };
}

std::function<bool(std::string_view)> cluster_node::timer_gate() {
  auto* d = impl_.get();
  return [d](std::string_view to) { return d->fires(to); };
}

bool cluster_node::impl::fires(std::string_view to) const {
  if (!timers_ready.load() || timers_leaving.load())
    return false;
  auto v = current();
  if (!v || v->shards == 0)
    return false;
  auto held = std::atomic_load(&held_shards);
  return !held || held->count(shard_of(to, v->shards)) == 0;
}

bool cluster_node::impl::fence_valid() const {
  return steady_ms() < fence_until.load(std::memory_order_relaxed);
}

} // namespace cairn::cluster
