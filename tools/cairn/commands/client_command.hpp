// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/json/value.hpp>

namespace cairn::cli {

/// Options every command that talks to a node shares.
struct client_options {
  std::string node = "http://127.0.0.1:7070";
  std::string token;
  bool json = false;
};

/// Adds --node (CAIRN_NODE), --token (CAIRN_TOKEN) and --json to `cmd`.
void add_client_options(CLI::App* cmd, client_options& o);

/// Exit codes of the client commands (documented in the README).
enum exit_code : int {
  exit_ok = 0,
  exit_node_error = 1,  ///< the node answered with an error (4xx/5xx)
  exit_usage = 2,       ///< bad arguments (CLI11's own code)
  exit_unreachable = 3, ///< no answer from the node
};

/// Calls the node; on success prints the JSON body (--json) or `table(body)`;
/// on failure prints the problem's code and detail to stderr. Returns the
/// exit code.
int run_call(const client_options& o, const std::string& method, const std::string& path,
             const std::string& body, const std::function<void(const boost::json::value&)>& table);

/// Adds the client commands (status, send, journal, dlq, timers) to `app`.
void add_client_commands(CLI::App& app, int& exit_code);

} // namespace cairn::cli
