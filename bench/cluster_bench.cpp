// SPDX-License-Identifier: Apache-2.0
// Cross-node throughput against local throughput, in one run (docs/cluster.md,
// "Benchmark"). Tokens of 256 bytes circulate around rings of `relay/<k>`
// actors: on one node (local), and on three nodes with a real etcd where each
// ring's three actors live on three different nodes, so every message crosses
// a node (commit to the sender's outbox, ship, persist at the owner, delete).
// Throughput is steps per second summed over the nodes' /metrics across a
// window of steady state; the cross-node run also reports the rows per batch
// each forwarder shipped. Each in `os` and `fsync`. Not a test: nothing here
// asserts a time. On one machine the three nodes and etcd share its cores, so
// the ratio is a lower bound of what separate machines give.
//
//   cairn_cluster_bench [--tokens N] [--seconds S] [--durability os,fsync] [--threads N]
//   (--threads: scheduler threads per node, 1 by default; 0: the node's default)
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "cairn/placement.hpp"
#include "http_client.hpp"
#include "local_cluster.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"

using namespace cairn;
namespace json = boost::json;

namespace {

struct options {
  int tokens = 512;
  int seconds = 10;
  std::vector<std::string> modes{"os", "fsync"};
  /// Runtime scheduler threads per node, the same for the local node and
  /// the three: on one machine the three share its cores, and more threads
  /// than cores per node only add task switches (0: the node's default).
  int threads = 1;
};

int64_t metric_sum(uint16_t port, const std::string& name) {
  auto r = test::http_call(port, "GET", "/metrics");
  std::regex re{"(^|\n)" + name + R"((\{[^}]*\})? (\d+))"};
  int64_t sum = 0;
  for (std::sregex_iterator it{r.body.begin(), r.body.end(), re}, end; it != end; ++it)
    sum += std::stoll((*it)[3].str());
  return sum;
}

std::string token_body(const std::vector<std::string>& ring) {
  std::string route;
  for (auto& id : ring)
    route += (route.empty() ? "" : ",") + id;
  json::object payload{
    {"route", route}, {"at", 0}, {"hops_left", 1'000'000'000}, {"pad", std::string(256, 'x')}};
  return json::serialize(json::object{{"type", "relay.token/v1"}, {"payload", payload}});
}

void post(uint16_t port, const std::string& id, const std::string& body) {
  auto path = "/api/v1/actors/relay%2F" + id.substr(id.find('/') + 1) + "/messages";
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (test::http_call(port, "POST", path, body).status == 202)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  std::fprintf(stderr, "cairn_cluster_bench: cannot start a token at %s\n", id.c_str());
}

/// Steps per second over the window, summed over `ports`, after a warm-up.
double measure(const std::vector<uint16_t>& ports, int seconds) {
  std::this_thread::sleep_for(std::chrono::seconds{3}); // warm-up
  auto sum = [&] {
    int64_t s = 0;
    for (auto p : ports)
      s += metric_sum(p, "cairn_processed_total");
    return s;
  };
  auto t0 = std::chrono::steady_clock::now();
  auto a = sum();
  std::this_thread::sleep_for(std::chrono::seconds{seconds});
  auto b = sum();
  auto dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(b - a) / dt;
}

double run_local(const options& o, const std::string& mode) {
  test::temp_dir dir;
  std::vector<std::string> args{
    "node",         "--data", dir.sub("data"), "--http",      "127.0.0.1:0",
    "--durability", mode,     "--no-progress", "--log-level", "warn"};
  if (o.threads > 0) {
    args.push_back("--threads");
    args.push_back(std::to_string(o.threads));
  }
  test::node_process node{args};
  if (!node.wait_for_output("cairn node ready"))
    return 0;
  auto port = test::port_from_banner(node.output());
  for (int t = 0; t < o.tokens; ++t) {
    std::vector<std::string> ring;
    for (int k = 0; k < 3; ++k)
      ring.push_back("relay/" + std::to_string(t * 3 + k));
    post(port, ring[0], token_body(ring));
  }
  return measure({port}, o.seconds);
}

struct cross_result {
  double per_second = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> peers; ///< "n1->n2": rows, batches
};

cross_result run_cross(const options& o, const std::string& mode) {
  cross_result out;
  std::vector<std::string> args{"--durability", mode};
  if (o.threads > 0) {
    args.push_back("--threads");
    args.push_back(std::to_string(o.threads));
  }
  test::local_cluster c{3, 256, args};
  c.start_all();
  for (int i = 0; i < 600 && !c.balanced(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  auto owners = c.status(0).at("owners").as_array();
  // Each ring: one actor on each node, so every hop crosses to another node.
  std::map<std::string, std::vector<std::string>> by_owner;
  for (int k = 0; by_owner["n1"].size() < static_cast<size_t>(o.tokens)
                  || by_owner["n2"].size() < static_cast<size_t>(o.tokens)
                  || by_owner["n3"].size() < static_cast<size_t>(o.tokens);
       ++k) {
    auto id = "relay/" + std::to_string(k);
    by_owner[std::string{owners[shard_of(id, 256)].as_string()}].push_back(id);
  }
  std::vector<uint16_t> ports;
  for (size_t i = 0; i < 3; ++i)
    ports.push_back(c.http_port(i));
  auto totals = [&] {
    std::map<std::string, std::pair<uint64_t, uint64_t>> m;
    for (size_t i = 0; i < 3; ++i) {
      auto v = c.status(i);
      for (auto& p : v.at("peers").as_array())
        m[c.node_id(i) + "->" + std::string{p.at("node_id").as_string()}] = {
          p.at("forwarded").to_number<uint64_t>(), p.at("batches").to_number<uint64_t>()};
    }
    return m;
  };
  for (int t = 0; t < o.tokens; ++t) {
    std::vector<std::string> ring{by_owner["n1"][t], by_owner["n2"][t], by_owner["n3"][t]};
    post(ports[static_cast<size_t>(t) % 3], ring[0], token_body(ring));
  }
  std::this_thread::sleep_for(std::chrono::seconds{3});
  auto before = totals();
  out.per_second = measure(ports, o.seconds);
  auto after = totals();
  for (auto& [k, v] : after)
    out.peers[k] = {v.first - before[k].first, v.second - before[k].second};
  return out;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--tokens")
      o.tokens = std::stoi(next());
    else if (a == "--seconds")
      o.seconds = std::stoi(next());
    else if (a == "--threads")
      o.threads = std::stoi(next());
    else if (a == "--durability") {
      o.modes.clear();
      std::stringstream ss{next()};
      for (std::string m; std::getline(ss, m, ',');)
        o.modes.push_back(m);
    } else {
      std::printf("usage: cairn_cluster_bench [--tokens N] [--seconds S] [--durability "
                  "os,fsync] [--threads N]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  std::printf("tokens %d, 256-byte payloads, %d s windows after 3 s warm-up, threads %s\n\n",
              o.tokens, o.seconds, o.threads > 0 ? std::to_string(o.threads).c_str() : "default");
  std::printf("%-6s %14s %14s %7s\n", "mode", "local msg/s", "cross msg/s", "ratio");
  for (auto& mode : o.modes) {
    auto local = run_local(o, mode);
    auto cross = run_cross(o, mode);
    std::printf("%-6s %14.0f %14.0f %6.0f%%\n", mode.c_str(), local, cross.per_second,
                local > 0 ? 100.0 * cross.per_second / local : 0.0);
    for (auto& [k, v] : cross.peers)
      std::printf(
        "       %s: %llu rows in %llu batches, %.1f rows/batch\n", k.c_str(),
        static_cast<unsigned long long>(v.first), static_cast<unsigned long long>(v.second),
        v.second > 0 ? static_cast<double>(v.first) / static_cast<double>(v.second) : 0.0);
    std::fflush(stdout);
  }
  return 0;
}
