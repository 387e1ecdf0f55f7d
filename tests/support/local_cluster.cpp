// SPDX-License-Identifier: Apache-2.0
#include "local_cluster.hpp"

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <regex>

#include <boost/json.hpp>

#include "http_client.hpp"

namespace cairn::test {

local_cluster::local_cluster(size_t nodes, uint32_t shards, std::vector<std::string> node_args)
  : etcd_(std::make_unique<etcd_process>()), shards_(shards), extra_(std::move(node_args)),
    nodes_(nodes) {}

local_cluster::~local_cluster() {
  // CAIRN_TEST_KEEP (see temp_dir): each node's output stays beside its data.
  bool keep = std::getenv("CAIRN_TEST_KEEP") != nullptr;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (keep && nodes_[i].proc)
      std::ofstream{dir_.path() + "/" + node_id(i) + ".log"} << nodes_[i].proc->output();
    nodes_[i].proc.reset(); // SIGKILL if still running
  }
  etcd_.reset();
}

std::string local_cluster::data_dir(size_t i) const {
  return dir_.path() + "/" + node_id(i);
}

std::vector<std::string> local_cluster::args(size_t i) const {
  std::vector<std::string> a{"node",
                             "--cluster-etcd",
                             etcd_->url(),
                             "--node-id",
                             node_id(i),
                             "--cluster-listen",
                             "127.0.0.1:0",
                             "--shards",
                             std::to_string(shards_),
                             "--data",
                             data_dir(i),
                             "--http",
                             "127.0.0.1:0",
                             "--no-progress",
                             "--log-level",
                             std::getenv("CAIRN_TEST_KEEP") != nullptr ? "info" : "warn"};
  a.insert(a.end(), extra_.begin(), extra_.end());
  return a;
}

bool local_cluster::start(size_t i, const std::vector<std::string>& env) {
  auto& n = nodes_[i];
  n.proc.reset();
  std::vector<std::string> names;
  for (auto& kv : env) {
    auto eq = kv.find('=');
    names.push_back(kv.substr(0, eq));
    setenv(names.back().c_str(), kv.substr(eq + 1).c_str(), 1);
  }
  n.proc = std::make_unique<node_process>(args(i));
  for (auto& name : names)
    unsetenv(name.c_str());
  if (!n.proc->wait_for_output("cairn node ready", std::chrono::seconds{120})) {
    last_error_ = node_id(i) + " did not start: " + n.proc->output();
    return false;
  }
  n.port = port_from_banner(n.proc->output());
  return n.port != 0;
}

void local_cluster::start_all() {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!start(i))
      throw std::runtime_error(last_error_);
}

void local_cluster::kill(size_t i) {
  nodes_[i].proc->signal(SIGKILL);
  nodes_[i].proc->wait();
}

int local_cluster::stop(size_t i) {
  nodes_[i].proc->signal(SIGTERM);
  return nodes_[i].proc->wait(std::chrono::minutes{2});
}

bool local_cluster::running(size_t i) {
  return nodes_[i].proc && nodes_[i].proc->running();
}

boost::json::value local_cluster::status(size_t i) {
  auto r = http_call(nodes_[i].port, "GET", "/api/v1/cluster");
  if (r.status != 200)
    return nullptr;
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  return ec ? boost::json::value{} : v;
}

bool local_cluster::balanced(size_t i) {
  auto v = status(i);
  if (!v.is_object())
    return false;
  size_t live = 0;
  for (size_t k = 0; k < nodes_.size(); ++k)
    live += running(k) ? 1 : 0;
  auto& members = v.at("members").as_array();
  size_t active = 0;
  for (auto& m : members)
    if (m.at("state") == "active")
      ++active;
  if (active != live || !v.at("moves").as_array().empty())
    return false;
  for (auto& m : members)
    if (m.at("state") == "active"
        && m.at("shards").to_number<int64_t>() < static_cast<int64_t>(shards_ / live))
      return false;
  return true;
}

bool local_cluster::balanced() {
  for (size_t k = 0; k < nodes_.size(); ++k)
    if (running(k) && !balanced(k))
      return false;
  return true;
}

int64_t local_cluster::metric(size_t i, const std::string& name) {
  auto r = http_call(nodes_[i].port, "GET", "/metrics");
  if (r.status != 200)
    return -1;
  std::regex re{"(^|\n)" + name + R"((\{[^}]*\})? (\d+))"};
  int64_t sum = 0;
  for (std::sregex_iterator it{r.body.begin(), r.body.end(), re}, end; it != end; ++it)
    sum += std::stoll((*it)[3].str());
  return sum;
}

} // namespace cairn::test
