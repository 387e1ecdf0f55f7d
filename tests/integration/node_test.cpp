// SPDX-License-Identifier: Apache-2.0
// `cairn node` as a real process: lifecycle, flags and refusals.
#include <csignal>

#include <catch2/catch.hpp>

#include "node_process.hpp"
#include "temp_dir.hpp"

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
