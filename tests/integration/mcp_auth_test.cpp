// SPDX-License-Identifier: Apache-2.0
// One token model: which tokens guard /mcp on a real `cairn node` process.
#include <catch2/catch.hpp>

#include "http_client.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"

using namespace cairn;

namespace {

const std::string initialize =
  R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",)"
  R"("capabilities":{},"clientInfo":{"name":"mcp-auth-test","version":"1.0.0"}}})";

struct mcp_node {
  test::temp_dir dir;
  std::unique_ptr<test::node_process> proc;
  uint16_t port = 0;

  explicit mcp_node(std::vector<std::string> extra) {
    std::vector<std::string> args{"node",        "--data",        dir.sub("data"), "--http",
                                  "127.0.0.1:0", "--no-progress", "--log-level",   "warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    proc = std::make_unique<test::node_process>(args);
    REQUIRE(proc->wait_for_output("cairn node ready"));
    port = test::port_from_banner(proc->output());
    REQUIRE(port != 0);
  }

  /// POSTs `initialize` to /mcp, with `Authorization: Bearer token` unless empty.
  test::http_reply initialize_as(const std::string& token) {
    std::vector<std::string> headers{"Content-Type: application/json",
                                     "Accept: application/json, text/event-stream"};
    if (!token.empty())
      headers.push_back("Authorization: Bearer " + token);
    return test::http_call(port, "POST", "/mcp", initialize, headers);
  }
};

} // namespace

TEST_CASE("a node started with --token only guards /mcp with those tokens", "[http][auth][mcp]") {
  mcp_node node{{"--token", "w0:write", "--token", "r0:read"}};
  auto anonymous = node.initialize_as("");
  CHECK(anonymous.status == 401);
  CHECK(anonymous.header("www-authenticate").rfind("Bearer", 0) == 0);
  auto forged = node.initialize_as("nope");
  CHECK(forged.status == 401);
  CHECK(forged.header("www-authenticate").find("invalid_token") != std::string::npos);
  auto writer = node.initialize_as("w0");
  CHECK(writer.status == 200);
  CHECK(writer.body.find("\"protocolVersion\"") != std::string::npos);
  // A read-only token is a valid token: it may connect (and is offered no tools).
  CHECK(node.initialize_as("r0").status == 200);
}

TEST_CASE("with --mcp-token, the MCP tokens govern /mcp and the API tokens the API",
          "[http][auth][mcp]") {
  mcp_node node{{"--token", "api0:admin", "--mcp-token", "agent0:echo"}};
  CHECK(node.initialize_as("").status == 401);
  CHECK(node.initialize_as("api0").status == 401);
  CHECK(node.initialize_as("agent0").status == 200);
  auto api =
    test::http_call(node.port, "GET", "/api/v1/status", "", {"Authorization: Bearer api0"});
  CHECK(api.status == 200);
  auto agent_on_api =
    test::http_call(node.port, "GET", "/api/v1/status", "", {"Authorization: Bearer agent0"});
  CHECK(agent_on_api.status == 401);
}

TEST_CASE("without any token /mcp stays open on loopback", "[http][auth][mcp]") {
  mcp_node node{std::vector<std::string>{}};
  CHECK(node.initialize_as("").status == 200);
}
