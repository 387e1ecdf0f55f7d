// SPDX-License-Identifier: Apache-2.0
// Bounded memory at /mcp on a real node process: a client that stops
// reading an SSE answer is disconnected instead of being buffered for.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "http_client.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;

namespace {

/// The resident set of process `pid`, in KiB (0 if unknown).
long rss_kib(int pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return 0;
}

const std::vector<std::string> mcp_headers{"Content-Type: application/json",
                                           "Accept: application/json, text/event-stream"};

/// Opens a 2025-11-25 session; its id.
std::string open_session(uint16_t port) {
  auto r = test::http_call(
    port, "POST", "/mcp",
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25",)"
    R"("capabilities":{},"clientInfo":{"name":"mcp-bounds-test","version":"1.0.0"}}})",
    mcp_headers);
  REQUIRE(r.status == 200);
  auto sid = r.header("mcp-session-id");
  REQUIRE_FALSE(sid.empty());
  return sid;
}

} // namespace

TEST_CASE("a client that stops reading its SSE answer is disconnected, the node stays small and "
          "answers others",
          "[mcp][sse][bounds]") {
  test::temp_dir dir;
  test::node_process node{{"node", "--data", dir.sub("data"), "--http", "127.0.0.1:0", "--profile",
                           "conformance", "--no-progress", "--log-level", "warn"},
                          CAIRN_TEST_NODE};
  REQUIRE(node.wait_for_output("cairn node ready"));
  auto port = test::port_from_banner(node.output());
  REQUIRE(port != 0);
  auto sid = open_session(port);
  auto rss_before = rss_kib(node.pid());
  REQUIRE(rss_before > 0);

  // A raw client asks for 200 MB of log messages on its call's SSE answer
  // and never reads a byte of it (a small receive buffer, so it falls
  // behind at once).
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  struct closer {
    int fd;
    ~closer() { close(fd); }
  } close_fd{fd};
  int rcvbuf = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  std::string body =
    R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"test_flood_logs",)"
    R"("arguments":{"count":100000,"size":2000}}})";
  std::string request = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& h : mcp_headers)
    request += h + "\r\n";
  request += "Mcp-Session-Id: " + sid + "\r\nMCP-Protocol-Version: 2025-11-25\r\nContent-Length: "
             + std::to_string(body.size()) + "\r\n\r\n" + body;
  REQUIRE(send(fd, request.data(), request.size(), MSG_NOSIGNAL)
          == static_cast<ssize_t>(request.size()));

  // The node closes that stream once the client is 1 MiB behind (and says
  // so once); the call sees the client gone and stops flooding.
  REQUIRE(node.wait_for_output("closing an event stream: its client fell"));
  auto rss_after = rss_kib(node.pid());
  INFO("RSS before " << rss_before << " KiB, after " << rss_after << " KiB");
  CHECK(rss_after - rss_before < 64 * 1024); // far below the 200 MB asked for

  // Other clients are served as before.
  auto other = open_session(port);
  auto listed = test::http_call(
    port, "POST", "/mcp", R"({"jsonrpc":"2.0","id":3,"method":"tools/list","params":{}})",
    {"Content-Type: application/json", "Accept: application/json, text/event-stream",
     "Mcp-Session-Id: " + other, "MCP-Protocol-Version: 2025-11-25"});
  CHECK(listed.status == 200);
  CHECK(listed.body.find("test_flood_logs") != std::string::npos);
  CHECK(test::http_call(port, "GET", "/healthz").status == 200);
}
