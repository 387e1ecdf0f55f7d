// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <map>
#include <string>

#include <CLI/CLI.hpp>

namespace cairn::mcp {
class server;
}

namespace cairn::cli {

/// A named set of extra MCP tools, resources and prompts a node can serve
/// (`--profile NAME`). The production binary has only "default"; a test
/// binary adds its fixture. Add profiles in `main`, before the commands.
struct profile {
  std::string description;
  std::function<void(mcp::server&)> install;
};

void add_profile(std::string name, profile p);
std::map<std::string, profile>& profiles();

/// Parses the command line and runs the command; returns the exit code.
int run(int argc, char** argv);

/// Adds `cairn node` to `app`; the callback sets `exit_code`.
void add_node_run(CLI::App& app, int& exit_code);

} // namespace cairn::cli
