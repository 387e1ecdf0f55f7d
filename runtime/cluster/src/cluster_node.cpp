// SPDX-License-Identifier: Apache-2.0
// One node's membership (docs/cluster.md): identity in `meta`, the cluster
// document and shard keys in etcd, the member key under a lease, the shard
// map read every `poll`, the elected rebalancer, and a source node's half of
// a shard move.
#include <pthread.h>
#include <random>
#include <regex>
#include <set>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "cairn/error.hpp"
#include "cairn/runtime.hpp"
#include "cluster_impl.hpp"
#include "transport.hpp"

namespace cairn::cluster {

namespace json = boost::json;

namespace {

constexpr size_t ops_per_txn = 60;     // compares + puts stay under etcd's 128
constexpr size_t moves_per_round = 16; // one txn flips them all (2 ops each)

std::string random_hex(size_t n) {
  std::random_device rd;
  std::mt19937_64 rng{(static_cast<uint64_t>(rd()) << 32) ^ rd()};
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(digits[rng() % 16]);
  return out;
}

caf::error wrap(const caf::error& err, const std::string& what) {
  return make_error(errc::unavailable, what + ": " + detail_of(err));
}

} // namespace

std::string check_node_id(const std::string& id) {
  static const std::regex re{"[a-z0-9-]{1,32}"};
  if (!std::regex_match(id, re))
    return "node_id '" + id + "' must be 1 to 32 of a-z, 0-9 and '-'";
  return {};
}

std::shared_ptr<peer_stats> cluster_node::impl::peer(const std::string& id) {
  std::lock_guard<std::mutex> guard{peers_mtx};
  auto& p = peers[id];
  if (!p)
    p = std::make_shared<peer_stats>();
  return p;
}

cluster_node::cluster_node(cluster_options opts) : impl_(std::make_unique<impl>()) {
  impl_->opts = std::move(opts);
}

cluster_node::~cluster_node() {
  stop();
}

caf::error cluster_node::join(runtime& rt, std::string http_url) {
  auto& d = *impl_;
  d.rt = &rt;
  d.http = std::move(http_url);
  if (auto why = check_node_id(d.opts.node_id); !why.empty())
    return make_error(errc::invalid_argument, why);
  auto client = etcd_client::from_urls(d.opts.etcd);
  if (!client)
    return client.error();
  d.etcd.emplace(std::move(*client));
  // Identity: a data directory belongs to one node id for good.
  auto stored = rt.read_meta("cluster/node_id");
  if (!stored)
    return stored.error();
  if (*stored && **stored != d.opts.node_id)
    return make_error(errc::invalid_argument, "this data directory belongs to node '" + **stored
                                                + "', not '" + d.opts.node_id
                                                + "': start it with --node-id " + **stored);
  if (!*stored)
    if (auto err = rt.write_meta("cluster/node_id", d.opts.node_id))
      return err;
  auto inc = rt.read_meta("cluster/incarnation");
  if (!inc)
    return inc.error();
  if (*inc) {
    d.incarnation = **inc;
  } else {
    d.incarnation = random_hex(16);
    if (auto err = rt.write_meta("cluster/incarnation", d.incarnation))
      return err;
  }
  // The CAF ingress first: its port goes into the member key.
  auto colon = d.opts.listen.rfind(':');
  if (colon == std::string::npos)
    return make_error(errc::invalid_argument,
                      "cluster_listen '" + d.opts.listen + "' must be host:port");
  d.caf_host = d.opts.listen.substr(0, colon);
  if (d.caf_host == "0.0.0.0" || d.caf_host == "::" || d.caf_host.empty())
    return make_error(errc::invalid_argument, "cluster_listen '" + d.opts.listen
                                                + "': give the address peers should dial, not "
                                                  "a wildcard");
  uint16_t port = 0;
  try {
    port = static_cast<uint16_t>(std::stoul(d.opts.listen.substr(colon + 1)));
  } catch (...) {
    return make_error(errc::invalid_argument,
                      "cluster_listen '" + d.opts.listen + "': the port is not a number");
  }
  d.net = std::make_unique<transport>(d);
  auto bound = d.net->start(d.caf_host, port);
  if (!bound)
    return bound.error();
  d.caf_port = *bound;
  if (auto err = d.create_or_check_cluster())
    return err;
  auto registered_at = steady_ms();
  if (auto err = d.register_member())
    return err;
  if (auto err = d.refresh())
    return err;
  d.fence_until.store(registered_at + d.opts.lease_ttl_s * 1000 - 1000);
  spdlog::info("cluster: node {} joined cluster {} ({} shards, {} owned here); peers dial {}:{}",
               d.opts.node_id, d.current()->cluster_id, d.current()->shards, shards_owned(),
               d.caf_host, d.caf_port);
  return {};
}

caf::error cluster_node::impl::create_or_check_cluster() {
  for (int attempt = 0; attempt < 600; ++attempt) {
    auto got = etcd->get("/cairn/cluster");
    if (!got)
      return wrap(got.error(), "cannot reach etcd at " + opts.etcd);
    if (got->empty()) {
      json::object doc{{"cluster_id", random_hex(16)},
                       {"shards", opts.shards},
                       {"state", "creating"},
                       {"created_ms", now_ms()},
                       {"created_by", opts.node_id}};
      auto created = etcd->txn({etcd_compare::absent("/cairn/cluster")},
                               {etcd_op::put("/cairn/cluster", json::serialize(doc))});
      if (!created)
        return wrap(created.error(), "cannot create the cluster in etcd");
      continue; // read it back, whoever won
    }
    auto v = json::parse(got->front().value).as_object();
    auto shards = static_cast<uint32_t>(v["shards"].to_number<int64_t>());
    if (opts.shards_given && shards != opts.shards)
      return make_error(errc::invalid_argument,
                        "the cluster has " + std::to_string(shards) + " shards; --shards "
                          + std::to_string(opts.shards)
                          + " differs (the count is fixed when the cluster is created)");
    if (v["state"] == json::value("ready"))
      return {};
    if (v["created_by"] != json::value(opts.node_id)) {
      std::this_thread::sleep_for(std::chrono::milliseconds{100}); // its creator fills it in
      continue;
    }
    // Ours and not finished: every missing shard key to this node, epoch 1.
    auto existing = etcd->prefix("/cairn/shards/");
    if (!existing)
      return wrap(existing.error(), "cannot read the shard map");
    std::set<std::string> have;
    for (auto& kv : *existing)
      have.insert(kv.key);
    shard_info mine;
    mine.owner = opts.node_id;
    mine.epoch = 1;
    std::vector<etcd_compare> cmp;
    std::vector<etcd_op> ops;
    auto flush = [&]() -> caf::error {
      if (ops.empty())
        return {};
      auto ok = etcd->txn(cmp, ops);
      cmp.clear();
      ops.clear();
      return ok ? caf::error{} : wrap(ok.error(), "cannot write the shard map");
    };
    for (uint32_t s = 0; s < shards; ++s) {
      auto key = shard_key(s);
      if (have.count(key))
        continue;
      cmp.push_back(etcd_compare::absent(key));
      ops.push_back(etcd_op::put(key, shard_json(mine)));
      if (ops.size() >= ops_per_txn)
        if (auto err = flush())
          return err;
    }
    if (auto err = flush())
      return err;
    v["state"] = "ready";
    if (auto put = etcd->put("/cairn/cluster", json::serialize(v)); !put)
      return wrap(put.error(), "cannot mark the cluster ready");
    spdlog::info("cluster: created with {} shards, all owned by {} until others join", shards,
                 opts.node_id);
    return {};
  }
  return make_error(errc::unavailable, "the cluster in etcd stayed 'creating' for a minute: its "
                                       "creator did not finish; start that node again");
}

caf::error cluster_node::impl::register_member() {
  // The previous run's lease: the data directory's lock proves that process
  // is gone, so its member key need not wait out a TTL.
  if (auto old = rt->read_meta("cluster/lease"); old && *old) {
    try {
      ignore_error(etcd->revoke(std::stoll(**old)));
    } catch (...) {
    }
  }
  auto granted = etcd->grant(opts.lease_ttl_s);
  if (!granted)
    return wrap(granted.error(), "cannot take a lease in etcd");
  lease = granted->id;
  if (auto err = rt->write_meta("cluster/lease", std::to_string(lease)))
    return err;
  member_info m;
  m.node_id = opts.node_id;
  m.caf_host = caf_host;
  m.caf_port = caf_port;
  m.http = http;
  m.incarnation = incarnation;
  m.started_ms = now_ms();
  auto key = "/cairn/members/" + opts.node_id;
  auto put = etcd->txn({etcd_compare::absent(key)}, {etcd_op::put(key, member_json(m), lease)});
  if (!put)
    return wrap(put.error(), "cannot register in etcd");
  if (!*put)
    return make_error(errc::conflict, "node " + opts.node_id
                                        + " is already running (its member key is held by a "
                                          "live lease); give this node another --node-id");
  etcd_ok_ms.store(now_ms());
  return {};
}

caf::error cluster_node::impl::refresh() {
  int64_t read_at = 0;
  auto kvs = etcd->prefix("/cairn/", 0, &read_at);
  if (!kvs) {
    etcd_failures.fetch_add(1);
    return wrap(kvs.error(), "cannot read the cluster from etcd");
  }
  int64_t rev = 0;
  for (auto& kv : *kvs)
    rev = std::max(rev, kv.mod_revision);
  auto v = make_view(*kvs, rev);
  v.read_at = read_at;
  publish_view(std::move(v));
  etcd_ok_ms.store(now_ms());
  return {};
}

void cluster_node::run() {
  auto& d = *impl_;
  d.running.store(true);
  if (auto depths = d.rt->outbox_depths()) {
    for (auto& [peer, n] : *depths) {
      d.peer(peer)->depth.store(static_cast<int64_t>(n));
      // Rows per shard, for the sticky rule (see `place`).
      uint64_t from = 0;
      for (;;) {
        auto rows = d.rt->read_outbox(peer, from, 4096, 16 << 20);
        if (!rows || rows->empty())
          break;
        for (auto& r : *rows)
          d.count_outbox(peer, r.to, 1);
        from = rows->back().seq + 1;
      }
      d.net->wake(peer);
    }
  }
  d.loop = std::thread{[&d] { d.run_loop(); }};
  d.handover_loop = std::thread{[&d] { d.run_handovers(); }};
}

int64_t cluster_node::impl::keep_alive() {
  // etcd expires the lease a TTL after it *received* the renewal, later
  // than this: the node's own deadline passes first.
  auto sent = steady_ms();
  auto allowed = sent + opts.lease_ttl_s * 1000 - 1000;
  auto ttl = etcd->keep_alive(lease);
  if (!ttl) {
    etcd_failures.fetch_add(1);
    return 0;
  }
  if (*ttl > 0)
    return allowed;
  spdlog::warn("cluster: lease lost (etcd expired it); registering again");
  if (auto err = register_member()) {
    spdlog::warn("cluster: {}", detail_of(err));
    return 0;
  }
  return allowed;
}

void cluster_node::impl::run_loop() {
  pthread_setname_np(pthread_self(), "cairn.cluster");
  auto last_keep_alive = std::chrono::steady_clock::now();
  int64_t last_sweep = steady_ms();
  auto keep_every = std::chrono::milliseconds{opts.lease_ttl_s * 1000 / 3};
  while (running.load()) {
    {
      std::unique_lock<std::mutex> lock{loop_mtx};
      loop_cv.wait_for(lock, opts.poll, [this] { return !running.load(); });
    }
    if (!running.load())
      break;
    int64_t allowed = 0;
    if (std::chrono::steady_clock::now() - last_keep_alive >= keep_every) {
      allowed = keep_alive();
      last_keep_alive = std::chrono::steady_clock::now();
    }
    if (refresh()) {
      if (auto old = current())
        extend_by_majority(*old);
      continue;
    }
    // Only now, with the map read after the renewal: a node frozen past its
    // lease sees who owns its shards before it may work on any of them.
    if (allowed > fence_until.load())
      fence_until.store(allowed);
    extended_last = false;
    auto v = current();
    std::vector<std::string> forgets;
    {
      std::lock_guard<std::mutex> guard{forget_mtx};
      forgets.swap(forget_requests);
    }
    for (auto& id : forgets)
      forget(*v, id);
    // Election: whoever puts the key under its lease first.
    if (v->rebalancer.empty()) {
      json::object doc{{"node", opts.node_id}};
      ignore_error(etcd
                     ->txn({etcd_compare::absent("/cairn/rebalancer")},
                           {etcd_op::put("/cairn/rebalancer", json::serialize(doc), lease)})
                     .error());
    } else if (v->rebalancer == opts.node_id) {
      rebalance(*v);
    }
    std::vector<std::string> drains;
    {
      std::lock_guard<std::mutex> guard{drain_mtx};
      drains.swap(drain_requests);
    }
    for (auto& id : drains) {
      json::object doc{{"requested_ms", now_ms()}, {"by", opts.node_id}};
      if (auto put = etcd->put("/cairn/drain/" + id, json::serialize(doc)); !put)
        spdlog::warn("cluster: cannot ask for the drain of {}: {}", id, detail_of(put.error()));
      else
        spdlog::info("cluster: drain of {} asked; its shards move away", id);
    }
    after_round(*current());
    // A safety net for liveness: an activation that ended on a refusal
    // (its shard moving, fenced, not yet owned) is woken by the event that
    // ends the refusal; every few seconds, every actor with mail is woken
    // anyway, so no path that misses its event leaves mail waiting.
    if (steady_ms() - last_sweep >= 3000) {
      rt->wake_stored();
      last_sweep = steady_ms();
    }
  }
}

void cluster_node::impl::run_handovers() {
  pthread_setname_np(pthread_self(), "cairn.handover");
  while (running.load()) {
    {
      std::unique_lock<std::mutex> lock{loop_mtx};
      loop_cv.wait_for(lock, opts.poll, [this] { return !running.load(); });
    }
    if (!running.load())
      break;
    if (auto v = current())
      hand_over(*v);
  }
}

void cluster_node::impl::rebalance(const cluster_view& v) {
  auto moves = plan_moves(v, moves_per_round);
  for (size_t i = 0; i < moves.size(); i += ops_per_txn / 2) {
    std::vector<etcd_compare> cmp;
    std::vector<etcd_op> ops;
    for (size_t j = i; j < std::min(moves.size(), i + ops_per_txn / 2); ++j) {
      auto& m = moves[j];
      auto s = v.shard[m.shard];
      cmp.push_back(etcd_compare::modified_at(shard_key(m.shard), s.mod_revision));
      s.state = "moving";
      s.target = m.to;
      ops.push_back(etcd_op::put(shard_key(m.shard), shard_json(s)));
    }
    auto ok = etcd->txn(cmp, ops);
    if (!ok || !*ok)
      return; // the map changed under us: plan again next round
  }
  if (!moves.empty())
    spdlog::info("cluster: rebalancer marked {} shard moves", moves.size());
}

void cluster_node::stop() {
  auto& d = *impl_;
  bool was = d.running.exchange(false);
  d.loop_cv.notify_all();
  if (d.loop.joinable())
    d.loop.join();
  if (d.handover_loop.joinable())
    d.handover_loop.join();
  if (d.net)
    d.net->stop();
  if (d.etcd && d.lease != 0 && (was || d.rt)) {
    ignore_error(d.etcd->revoke(d.lease)); // leave at once, not after a TTL
    d.lease = 0;
  }
}

} // namespace cairn::cluster
