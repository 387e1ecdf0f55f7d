// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json/value.hpp>

// What every command that talks to a node shares: its options, the call to
// the node and how answers are printed. Commands run on the main thread.
namespace cairn::cli {

/// Options every command that talks to a node shares. A plain value.
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

/// A JSON value as a table cell: strings bare, null as "-".
std::string cell(const boost::json::value& v);

/// Member `name` of object `v` as a table cell ("-" if absent).
std::string field(const boost::json::value& v, const char* name);

/// Prints rows with columns padded to their widest cell.
void print_table(const std::vector<std::string>& head,
                 const std::vector<std::vector<std::string>>& rows, bool with_head = true);

/// The rows of array member `list` of `v`, one cell per name in `fields`.
std::vector<std::vector<std::string>> rows_of(const boost::json::value& v, const char* list,
                                              const std::vector<const char*>& fields);

/// Prints every member of object `v` as `name  value`, one a line.
void print_members(const boost::json::value& v);

} // namespace cairn::cli
