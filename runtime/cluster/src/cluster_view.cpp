// SPDX-License-Identifier: Apache-2.0
// The cluster's documents in etcd (docs/cluster.md, "etcd: keys and
// requests") and the rebalancer's plan over them.
#include <algorithm>
#include <cstdio>

#include <boost/json.hpp>

#include "cluster_impl.hpp"
#include "json_fields.hpp"

namespace cairn::cluster {

namespace json = boost::json;

namespace {

std::string text(const json::object& o, std::string_view key) {
  auto v = o.if_contains(key);
  return v && v->is_string() ? std::string{v->as_string()} : std::string{};
}

std::optional<json::object> object_of(const std::string& s) {
  json::error_code ec;
  auto v = json::parse(s, ec);
  if (ec || !v.is_object())
    return std::nullopt;
  return v.as_object();
}

} // namespace

std::string member_json(const member_info& m) {
  json::object o;
  o["caf"] = m.caf_host + ":" + std::to_string(m.caf_port);
  o["http"] = m.http;
  o["incarnation"] = m.incarnation;
  o["state"] = m.state;
  o["started_ms"] = m.started_ms;
  return json::serialize(o);
}

std::optional<member_info> parse_member(const std::string& node_id, const std::string& s) {
  auto o = object_of(s);
  if (!o)
    return std::nullopt;
  member_info m;
  m.node_id = node_id;
  auto caf = text(*o, "caf");
  auto colon = caf.rfind(':');
  if (colon == std::string::npos)
    return std::nullopt;
  m.caf_host = caf.substr(0, colon);
  try {
    m.caf_port = static_cast<uint16_t>(std::stoul(caf.substr(colon + 1)));
  } catch (...) {
    return std::nullopt;
  }
  m.http = text(*o, "http");
  m.incarnation = text(*o, "incarnation");
  m.state = text(*o, "state");
  m.started_ms = number_field(*o, "started_ms");
  return m;
}

std::string shard_json(const shard_info& s) {
  json::object o;
  o["owner"] = s.owner;
  o["epoch"] = s.epoch;
  o["state"] = s.state;
  if (!s.target.empty())
    o["target"] = s.target;
  return json::serialize(o);
}

std::optional<shard_info> parse_shard(const std::string& s) {
  auto o = object_of(s);
  if (!o)
    return std::nullopt;
  shard_info x;
  x.owner = text(*o, "owner");
  x.epoch = number_field(*o, "epoch");
  x.state = text(*o, "state");
  x.target = text(*o, "target");
  return x;
}

std::string shard_key(uint32_t shard) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "/cairn/shards/%04u", shard);
  return buf;
}

cluster_view make_view(const std::vector<etcd_kv>& kvs, int64_t revision) {
  cluster_view v;
  v.revision = revision;
  const std::string members = "/cairn/members/", shards = "/cairn/shards/";
  for (auto& kv : kvs) {
    if (kv.key == "/cairn/cluster") {
      if (auto o = object_of(kv.value)) {
        v.cluster_id = text(*o, "cluster_id");
        v.shards = static_cast<uint32_t>(number_field(*o, "shards"));
        v.cluster_state = text(*o, "state");
      }
    }
  }
  v.shard.resize(v.shards);
  for (auto& kv : kvs) {
    if (kv.key.rfind(members, 0) == 0) {
      auto id = kv.key.substr(members.size());
      if (auto m = parse_member(id, kv.value))
        v.members.emplace(id, std::move(*m));
    } else if (kv.key.rfind(shards, 0) == 0) {
      uint32_t n = 0;
      try {
        n = static_cast<uint32_t>(std::stoul(kv.key.substr(shards.size())));
      } catch (...) {
        continue;
      }
      if (n >= v.shards)
        continue;
      if (auto s = parse_shard(kv.value)) {
        s->mod_revision = kv.mod_revision;
        v.shard[n] = std::move(*s);
      }
    } else if (kv.key.rfind("/cairn/drain/", 0) == 0) {
      v.draining.insert(kv.key.substr(std::string{"/cairn/drain/"}.size()));
    } else if (kv.key == "/cairn/rebalancer") {
      if (auto o = object_of(kv.value))
        v.rebalancer = text(*o, "node");
    }
  }
  return v;
}

std::vector<planned_move> plan_moves(const cluster_view& v, size_t limit) {
  std::vector<planned_move> out;
  std::map<std::string, std::vector<uint32_t>> owned; // member -> its shards
  std::map<std::string, size_t> count;                // active member -> shards
  for (auto& [id, m] : v.members)
    if (m.state == "active" && v.draining.count(id) == 0)
      count[id] = 0;
  if (count.empty())
    return out;
  for (uint32_t s = 0; s < v.shard.size(); ++s) {
    auto& x = v.shard[s];
    if (x.state == "moving")
      return out; // one round at a time
    if (v.members.count(x.owner) == 0)
      continue; // its owner is not a member: its data waits for it
    owned[x.owner].push_back(s);
    if (auto it = count.find(x.owner); it != count.end())
      ++it->second;
  }
  auto least = [&] {
    return std::min_element(count.begin(), count.end(), [](auto& a, auto& b) {
      return a.second != b.second ? a.second < b.second : a.first < b.first;
    });
  };
  // A draining member gives every shard away first, one source per round.
  for (auto& [id, shards] : owned) {
    if (count.count(id) != 0 || shards.empty())
      continue;
    while (out.size() < limit && !shards.empty()) {
      auto to = least();
      out.push_back(planned_move{shards.back(), id, to->first});
      shards.pop_back();
      ++to->second;
    }
    return out;
  }
  // Then evening out: from the most loaded to the least loaded.
  if (count.size() < 2)
    return out;
  auto most = std::max_element(count.begin(), count.end(), [](auto& a, auto& b) {
    return a.second != b.second ? a.second < b.second : a.first > b.first;
  });
  auto from = most->first;
  auto& movable = owned[from];
  while (out.size() < limit && !movable.empty()) {
    auto to = least();
    if (count[from] <= to->second + 1)
      break;
    out.push_back(planned_move{movable.back(), from, to->first});
    movable.pop_back();
    --count[from];
    ++to->second;
  }
  return out;
}

} // namespace cairn::cluster
