// SPDX-License-Identifier: Apache-2.0
// `cairn node` as a real process: lifecycle, flags and refusals.
#include <csignal>
#include <memory>
#include <regex>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "http_client.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"
#include "thread_cpus.hpp"

using namespace cairn;

TEST_CASE("SIGTERM stops a running demo node cleanly with exit code 0", "[node][lifecycle]") {
  test::temp_dir dir;
  test::node_process node{{"node", "--data", dir.sub("data"), "--demo", "--demo-rate", "200",
                           "--flaky-rate", "0", "--http", "127.0.0.1:0"}};
  REQUIRE(node.wait_for_output("cairn node ready"));
  REQUIRE(node.wait_for_output("processed"));
  node.signal(SIGTERM);
  CHECK(node.wait() == 0);
  CHECK(node.output().find("cairn node stopped") != std::string::npos);
}

TEST_CASE("a second node on the same data directory is refused with a clear message",
          "[node][lifecycle]") {
  test::temp_dir dir;
  test::node_process first{
    {"node", "--data", dir.sub("data"), "--no-progress", "--http", "127.0.0.1:0"}};
  REQUIRE(first.wait_for_output("cairn node ready"));
  test::node_process second{
    {"node", "--data", dir.sub("data"), "--no-progress", "--http", "127.0.0.1:0"}};
  CHECK(second.wait() == 3);
  CHECK(second.output().find("is in use by another cairn node") != std::string::npos);
  first.signal(SIGINT);
  CHECK(first.wait() == 0);
}

TEST_CASE("invalid flags are rejected with the setting's name", "[node][cli]") {
  test::temp_dir dir;
  test::node_process node{
    {"node", "--data", dir.sub("data"), "--durability", "sometimes", "--http", "127.0.0.1:0"}};
  CHECK(node.wait() != 0);
  CHECK(node.output().find("--durability") != std::string::npos);
}

namespace {

/// `commit_cpu` of the node's status: the CPU, or -1 for null.
int status_commit_cpu(test::node_process& node) {
  auto reply = test::http_call(test::port_from_banner(node.output()), "GET", "/api/v1/status");
  REQUIRE(reply.status == 200);
  auto v = boost::json::parse(reply.body).as_object().at("commit_cpu");
  return v.is_null() ? -1 : static_cast<int>(v.as_int64());
}

/// A node on `data`, with `args` besides the usual ones, once it is ready.
std::unique_ptr<test::node_process> ready_node(const std::string& data,
                                               std::vector<std::string> args) {
  std::vector<std::string> all{"node", "--data", data, "--no-progress", "--http", "127.0.0.1:0"};
  all.insert(all.end(), args.begin(), args.end());
  auto node = std::make_unique<test::node_process>(std::move(all));
  REQUIRE(node->wait_for_output("cairn node ready"));
  return node;
}

/// SIGINT, then a clean exit.
void stop_cleanly(test::node_process& node) {
  node.signal(SIGINT);
  CHECK(node.wait() == 0);
}

} // namespace

TEST_CASE("the commit thread runs where the node says: on the disk's interrupt CPU if it found "
          "one, on any CPU otherwise",
          "[node][commit_cpu]") {
  test::temp_dir dir;
  auto started = ready_node(dir.sub("data"), {"--durability", "fsync"});
  auto& node = *started;
  auto out = node.output();
  INFO(out);
  auto process = test::cpus_allowed(node.pid());
  REQUIRE_FALSE(process.empty());
  std::smatch m;
  if (std::regex_search(out, m,
                        std::regex{"commit thread on CPU ([0-9]+): it takes the "
                                   "completion interrupts of [a-z0-9]+ \\(IRQ [0-9]+\\)"})) {
    CHECK(status_commit_cpu(node) == std::stoi(m[1]));
    CHECK(test::cpus_allowed(node.pid(), "cairn.commit") == m[1].str());
  } else {
    // The machine has no such CPU (a disk with a queue per CPU, say): the log says why.
    CHECK(std::regex_search(out, std::regex{"commit thread on any CPU: .+"}));
    CHECK(status_commit_cpu(node) == -1);
    CHECK(test::cpus_allowed(node.pid(), "cairn.commit") == process);
  }
  stop_cleanly(node);
}

TEST_CASE("the commit-cpu flag binds the commit thread to a CPU, off to none, and a CPU the "
          "process may not use is refused",
          "[node][commit_cpu]") {
  test::temp_dir dir;
  {
    auto node = ready_node(dir.sub("data"), {"--commit-cpu", "0"});
    CHECK(node->output().find("commit thread on CPU 0 (commit_cpu)") != std::string::npos);
    CHECK(status_commit_cpu(*node) == 0);
    CHECK(test::cpus_allowed(node->pid(), "cairn.commit") == "0");
    stop_cleanly(*node);
  }
  {
    auto node = ready_node(dir.sub("data"), {"--durability", "fsync", "--commit-cpu", "off"});
    CHECK(node->output().find("commit thread on") == std::string::npos);
    CHECK(status_commit_cpu(*node) == -1);
    CHECK(test::cpus_allowed(node->pid(), "cairn.commit") == test::cpus_allowed(node->pid()));
    stop_cleanly(*node);
  }
  test::node_process refused{{"node", "--data", dir.sub("data"), "--commit-cpu", "4095",
                              "--no-progress", "--http", "127.0.0.1:0"}};
  CHECK(refused.wait() == 2);
  CHECK(refused.output().find("commit_cpu 4095: this process may run on CPUs ")
        != std::string::npos);
  test::node_process bad{{"node", "--data", dir.sub("data"), "--commit-cpu", "first"}};
  CHECK(bad.wait() == 2);
  CHECK(bad.output().find("--commit-cpu: must be auto, off or a CPU number") != std::string::npos);
}
