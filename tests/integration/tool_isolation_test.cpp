// SPDX-License-Identifier: Apache-2.0
// Tools that hang, run children or leak nothing: a real node with `exec` and
// `http` tools that never answer keeps serving everything else, ends each
// hung call by its timeout, retries it by policy, and stops on SIGTERM.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "http_client.hpp"
#include "node_process.hpp"
#include "temp_dir.hpp"
#include "wait.hpp"

using namespace cairn;

namespace {

/// A TCP server on loopback that accepts connections and never answers.
class silent_server {
public:
  silent_server() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 256) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread{[this] {
      for (;;) {
        int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0)
          return;
        std::lock_guard<std::mutex> g{mtx_};
        conns_.push_back(c);
      }
    }};
  }
  ~silent_server() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (int c : conns_)
      ::close(c);
  }
  uint16_t port() const { return port_; }
  size_t accepted() {
    std::lock_guard<std::mutex> g{mtx_};
    return conns_.size();
  }
  /// Connections the client has not closed yet.
  size_t open_connections() {
    std::lock_guard<std::mutex> g{mtx_};
    size_t n = 0;
    for (int c : conns_) {
      char buf[4096];
      ssize_t r;
      while ((r = ::recv(c, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
      }
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        ++n;
    }
    return n;
  }

private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mtx_;
  std::vector<int> conns_;
};

bool process_alive(int pid);

/// Children whose `started PID` line is in `path` and that still run.
size_t alive_children(const std::string& path) {
  std::ifstream in{path};
  size_t n = 0;
  for (std::string word, pid; in >> word >> pid;)
    if (process_alive(std::stoi(pid)))
      ++n;
  return n;
}

size_t count_lines(const std::string& path) {
  std::ifstream in{path};
  size_t n = 0;
  for (std::string line; std::getline(in, line);)
    ++n;
  return n;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A 2026-07-28 stateless tools/call over real HTTP.
test::http_reply call_tool(uint16_t port, const std::string& name, const std::string& args = "{}") {
  static std::atomic<int> next_id{1};
  auto body = R"({"jsonrpc":"2.0","id":)" + std::to_string(next_id++)
              + R"(,"method":"tools/call","params":{"name":")" + name + R"(","arguments":)" + args
              + R"(,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",)"
                R"("io.modelcontextprotocol/clientCapabilities":{}}}})";
  return test::http_call(
    port, "POST", "/mcp", body,
    {"Content-Type: application/json", "Accept: application/json, text/event-stream",
     "MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call", "Mcp-Name: " + name});
}

uint64_t notify_processed(uint16_t port) {
  auto r = test::http_call(port, "GET", "/metrics");
  std::smatch m;
  static const std::regex re{R"(cairn_kind_processed_total\{kind="notify"\} (\d+))"};
  if (!std::regex_search(r.body, m, re))
    return 0;
  return std::stoull(m[1]);
}

bool process_alive(int pid) {
  // A zombie (its parent gone, not yet reaped) counts as dead.
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty())
    return false;
  auto close_paren = stat.rfind(')');
  return close_paren == std::string::npos || stat.size() < close_paren + 3
         || stat[close_paren + 2] != 'Z';
}

/// Joins client threads however the test ends; when it ends by a failed
/// REQUIRE, the node is killed first so no client waits for it.
struct client_threads {
  std::vector<std::thread> threads;
  std::unique_ptr<test::node_process>& node;
  ~client_threads() {
    if (std::uncaught_exceptions() > 0 && node)
      node->signal(SIGKILL);
    for (auto& t : threads)
      if (t.joinable())
        t.join();
  }
};

struct tools_config {
  std::string path;
  std::string exec_marker;
  std::string grandchild_pid;
};

tools_config write_config(test::temp_dir& dir, uint16_t silent_port) {
  tools_config c;
  c.path = dir.sub("node.json");
  c.exec_marker = dir.sub("exec-started");
  c.grandchild_pid = dir.sub("grandchild.pid");
  std::ofstream out{c.path};
  out << R"({"mcp_tools": [
  {"name": "hung_http", "description": "An endpoint that never answers", "type": "http",
   "url": "http://127.0.0.1:)"
      << silent_port << R"(/never", "timeout_ms": 4000, "max_attempts": 2},
  {"name": "hung_exec", "description": "A child that never exits", "type": "exec",
   "command": ["/bin/sh", "-c", "echo started $$ >> )"
      << c.exec_marker << R"(; exec /bin/sleep 600"], "timeout_ms": 4000, "max_attempts": 2},
  {"name": "spawner", "description": "A child that starts a grandchild and hangs", "type": "exec",
   "command": ["/bin/sh", "-c", "/bin/sleep 600 & echo $! > )"
      << c.grandchild_pid << R"(; wait"], "timeout_ms": 1000, "max_attempts": 1},
  {"name": "show_env", "description": "Prints its environment", "type": "exec",
   "command": ["/usr/bin/env"], "env": ["TOOLTEST_VISIBLE"]},
  {"name": "show_fds", "description": "Lists its open descriptors", "type": "exec",
   "command": ["/bin/ls", "-l", "/proc/self/fd"]},
  {"name": "no_stdin", "description": "Closes its stdin unread", "type": "exec",
   "command": ["/bin/sh", "-c", "exec 0<&-; echo '{\"ok\": true}'"]}
]})";
  return c;
}

} // namespace

TEST_CASE("hung http and exec tool calls neither stall other actors nor the stop",
          "[tools][threads][integration]") {
  silent_server silent;
  test::temp_dir dir;
  auto cfg = write_config(dir, silent.port());
  std::vector<std::string> args{"node",         "--data", dir.sub("data"), "--config",
                                cfg.path,       "--demo", "--demo-rate",   "50",
                                "--flaky-rate", "0",      "--http",        "127.0.0.1:0",
                                "--threads",    "2",      "--no-progress"};
  auto node = std::make_unique<test::node_process>(args);
  REQUIRE(node->wait_for_output("cairn node ready"));
  auto port = test::port_from_banner(node->output());

  // 16 hung http calls and 16 hung exec calls, each waiting in its own client.
  constexpr int hung = 16;
  std::vector<test::http_reply> replies(2 * hung);
  client_threads guard{{}, node};
  auto& clients = guard.threads;
  for (int i = 0; i < 2 * hung; ++i)
    clients.emplace_back(
      [&, i] { replies[i] = call_tool(port, i < hung ? "hung_http" : "hung_exec"); });
  // All in flight at once, by observation: the silent server holds 16 open
  // connections while 16 children run. (Handlers on the actor threads would
  // run two at a time here: the node has two.)
  REQUIRE(test::eventually(
    [&] { return silent.open_connections() == hung && alive_children(cfg.exec_marker) == hung; }));

  // Meanwhile the demo keeps completing orders and echo answers.
  auto before = notify_processed(port);
  CHECK(test::eventually([&] { return notify_processed(port) >= before + 10; }));
  auto echo = call_tool(port, "echo", R"({"text":"still here"})");
  CHECK(echo.status == 200);
  CHECK(echo.body.find("still here") != std::string::npos);

  CHECK(silent.open_connections() + alive_children(cfg.exec_marker) > 0); // still hung

  // Each hung call ends by its timeout and is retried once (max_attempts 2),
  // then answers with a tool error saying why.
  for (auto& t : clients)
    t.join();
  for (int i = 0; i < 2 * hung; ++i) {
    INFO("call " << i << ": " << replies[i].body);
    CHECK(replies[i].status == 200);
    CHECK(replies[i].body.find("\"isError\":true") != std::string::npos);
    CHECK(replies[i].body.find("after 2 attempt(s)") != std::string::npos);
    CHECK(
      replies[i].body.find(i < hung ? "no answer within 4000 ms" : "did not finish within 4000 ms")
      != std::string::npos);
  }
  CHECK(silent.accepted() == 2 * hung);
  CHECK(count_lines(cfg.exec_marker) == 2 * hung);

  // SIGTERM with hung calls in flight: a clean stop, nothing lost.
  client_threads more_guard{{}, node};
  auto& more = more_guard.threads;
  for (int i = 0; i < 8; ++i)
    more.emplace_back([&, i] { call_tool(port, i % 2 ? "hung_http" : "hung_exec"); });
  REQUIRE(test::eventually([&] {
    return silent.accepted() >= 2 * hung + 4 && count_lines(cfg.exec_marker) >= 2 * hung + 4;
  }));
  auto t0 = std::chrono::steady_clock::now();
  node->signal(SIGTERM);
  // The bound only turns a hang into a failure; a clean stop takes well under a second.
  CHECK(node->wait(std::chrono::seconds{10}) == 0);
  auto took =
    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  WARN("SIGTERM to exit with 8 hung calls in flight: " << took.count() << " ms");
  for (auto& t : more)
    t.join();

  // The interrupted calls were not lost: after a restart they run again.
  node = std::make_unique<test::node_process>(args);
  REQUIRE(node->wait_for_output("cairn node ready"));
  CHECK(test::eventually([&] {
    return silent.accepted() >= 2 * hung + 8 && count_lines(cfg.exec_marker) >= 2 * hung + 8;
  }));
  node->signal(SIGTERM);
  CHECK(node->wait(std::chrono::seconds{30}) == 0);
}

TEST_CASE("an exec child sees only its declared variables and descriptors 0 to 2",
          "[tools][exec][integration]") {
  ::setenv("TOOLTEST_VISIBLE", "shown", 1);
  ::setenv("TOOLTEST_HIDDEN", "secret", 1);
  silent_server silent;
  test::temp_dir dir;
  auto cfg = write_config(dir, silent.port());
  test::node_process node{{"node", "--data", dir.sub("data"), "--config", cfg.path, "--http",
                           "127.0.0.1:0", "--no-progress"}};
  REQUIRE(node.wait_for_output("cairn node ready"));
  auto port = test::port_from_banner(node.output());

  auto env = call_tool(port, "show_env");
  INFO(env.body);
  REQUIRE(env.status == 200);
  CHECK(env.body.find("TOOLTEST_VISIBLE=shown") != std::string::npos);
  CHECK(env.body.find("CAIRN_IDEMPOTENCY_KEY=tool.show_env/") != std::string::npos);
  CHECK(env.body.find("TOOLTEST_HIDDEN") == std::string::npos);
  CHECK(env.body.find("PATH=") == std::string::npos);
  // Exactly two variables: the declared one and the idempotency key.
  static const std::regex text_re{R"re("text":"([^"]*)")re"};
  std::smatch text;
  REQUIRE(std::regex_search(env.body, text, text_re));
  static const std::regex var_re{R"(([A-Za-z_][A-Za-z0-9_]*)=[^\\]*\\n)"};
  std::string vars = text[1];
  std::vector<std::string> names;
  for (std::sregex_iterator it{vars.begin(), vars.end(), var_re}, end; it != end; ++it)
    names.push_back((*it)[1]);
  CHECK(names == std::vector<std::string>{"TOOLTEST_VISIBLE", "CAIRN_IDEMPOTENCY_KEY"});

  // `ls -l /proc/self/fd`: 0, 1 and 2, plus the directory ls itself reads.
  auto fds = call_tool(port, "show_fds");
  INFO(fds.body);
  REQUIRE(fds.status == 200);
  static const std::regex fd_re{R"( (\d+) -> ([^\\]+))"};
  int listed = 0;
  for (std::sregex_iterator it{fds.body.begin(), fds.body.end(), fd_re}, end; it != end; ++it) {
    auto fd = std::stoi((*it)[1]);
    std::string target = (*it)[2];
    INFO("fd " << fd << " -> " << target);
    ++listed;
    if (fd > 2)
      CHECK(target.rfind("/proc/", 0) == 0);
  }
  CHECK(listed >= 3);
  CHECK(listed <= 4);

  // A child that closes its stdin before reading arguments larger than a
  // pipe's buffer: the node's write fails (EPIPE), the node lives on.
  auto big = call_tool(port, "no_stdin", R"({"text":")" + std::string(256 * 1024, 'x') + "\"}");
  INFO(big.body);
  CHECK(big.status == 200);
  CHECK(big.body.find(R"("structuredContent":{"ok":true})") != std::string::npos);
  CHECK(call_tool(port, "show_env").status == 200);
  node.signal(SIGTERM);
  CHECK(node.wait() == 0);
}

TEST_CASE("a timed-out exec call takes its whole process group with it",
          "[tools][exec][integration]") {
  silent_server silent;
  test::temp_dir dir;
  auto cfg = write_config(dir, silent.port());
  test::node_process node{{"node", "--data", dir.sub("data"), "--config", cfg.path, "--http",
                           "127.0.0.1:0", "--no-progress"}};
  REQUIRE(node.wait_for_output("cairn node ready"));
  auto port = test::port_from_banner(node.output());
  auto r = call_tool(port, "spawner");
  INFO(r.body);
  CHECK(r.body.find("did not finish within 1000 ms") != std::string::npos);
  auto pid_text = read_file(cfg.grandchild_pid);
  REQUIRE_FALSE(pid_text.empty());
  auto grandchild = std::stoi(pid_text);
  CHECK(test::eventually([&] { return !process_alive(grandchild); }));
  if (process_alive(grandchild))
    ::kill(grandchild, SIGKILL);
  node.signal(SIGTERM);
  CHECK(node.wait() == 0);
}
