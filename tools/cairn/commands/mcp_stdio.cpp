// SPDX-License-Identifier: Apache-2.0
// `cairn mcp stdio`: an embedded node serving MCP on stdin/stdout, for
// desktop MCP clients that launch their servers.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "cairn/mcp/server.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"
#include "commands/mcp_bridge.hpp"
#include "commands/node_run.hpp"

namespace cairn::cli {

void serve_stdio(mcp::server& srv, std::atomic<bool>& stdin_open) {
  // One JSON-RPC message a line; answers may come from any thread.
  auto out_mu = std::make_shared<std::mutex>();
  auto write = [out_mu](std::string msg) {
    std::lock_guard lock{*out_mu};
    msg.push_back('\n');
    std::fwrite(msg.data(), 1, msg.size(), stdout);
    std::fflush(stdout);
  };
  std::thread{[&srv, &stdin_open, write] {
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.empty() || line == "\r")
        continue;
      if (line.size() > (1u << 20)) {
        write(
          R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"message larger than 1048576 bytes"}})");
        continue;
      }
      srv.handle_stdio(line, write);
    }
    stdin_open.store(false); // the client closed stdin: stop
  }}.detach();
}

void add_mcp_stdio(CLI::App& app, int& exit_code) {
  auto* mcp_cmd = app.add_subcommand(
    "mcp", "Serve MCP on stdin/stdout: an embedded node, or a bridge to a running one (mcp stdio)");
  mcp_cmd->require_subcommand(0, 1);
  auto ss = std::make_shared<node_settings>();
  ss->stdio = true;
  ss->progress = false;
  ss->http = "off";
  ss->log_level = "warn";
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg)
    ss->data = std::string{xdg} + "/cairn";
  else if (const char* home = std::getenv("HOME"); home && *home)
    ss->data = std::string{home} + "/.local/share/cairn";
  auto* stdio = mcp_cmd->add_subcommand(
    "stdio", "Serve MCP on stdin/stdout (one JSON-RPC message a line; logs on stderr), for MCP "
             "clients that launch their servers: an embedded node, or with --node a bridge to a "
             "running node's /mcp");
  auto bridge = std::make_shared<mcp_bridge_options>();
  stdio
    ->add_option("--node", bridge->node,
                 "Bridge to the running node at http://HOST[:PORT] (its /mcp) instead of "
                 "running an embedded node; the options below then do not apply")
    ->capture_default_str();
  stdio->add_option("--token", bridge->token, "Bearer secret for the node (env CAIRN_TOKEN)");
  stdio->add_option("--data", ss->data, "Data directory (created if missing)")
    ->capture_default_str();
  stdio->add_option("--durability", ss->durability, "os or fsync")
    ->check(CLI::IsMember({"os", "fsync"}))
    ->capture_default_str();
  stdio->add_option("--profile", ss->profile, profile_help())
    ->check(CLI::IsMember(profile_names()))
    ->capture_default_str();
  stdio->add_option("--config", ss->config, "JSON settings file (mcp_tools, ...)")
    ->envname("CAIRN_CONFIG");
  stdio->add_option("--log-level", ss->log_level, "trace, debug, info, warn, error or off")
    ->capture_default_str();
  stdio
    ->add_option("--http", ss->http, "Also serve the HTTP API and /mcp on HOST:PORT (default: off)")
    ->capture_default_str();
  stdio->callback([ss, stdio, bridge, &exit_code] {
    // `cairn --node URL mcp stdio` bridges too (the global client option).
    auto* global_node = stdio->get_parent()->get_parent()->get_option_no_throw("--node");
    if (bridge->node.empty() && global_node && global_node->count() > 0)
      bridge->node = shared_client_options()->node;
    if (!bridge->node.empty()) {
      if (bridge->token.empty())
        bridge->token = shared_client_options()->token; // --token before the command, CAIRN_TOKEN
      exit_code = run_mcp_bridge(*bridge);
      return;
    }
    if (auto err = apply_config_file(*ss, stdio); !err.empty()) {
      std::fprintf(stderr, "cairn: %s\n", err.c_str());
      exit_code = 2;
      return;
    }
    exit_code = run_node(*ss);
  });
}

} // namespace cairn::cli
