// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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

/// The one set of client options of this process: CAIRN_NODE and
/// CAIRN_TOKEN fill it first, then --node, --token and --json wherever they
/// stand on the command line (before the command or after it).
std::shared_ptr<client_options> shared_client_options();

/// Adds --node, --token and --json to `cmd`, bound to the shared options,
/// and returns them. `cmd` may be the app itself (the global form).
std::shared_ptr<client_options> add_client_options(CLI::App* cmd);

/// Exit codes of the client commands (documented in the README).
enum exit_code : int {
  exit_ok = 0,
  exit_node_error = 1,  ///< the node answered with an error (4xx/5xx)
  exit_usage = 2,       ///< bad arguments (CLI11's own code), a bad --node URL
  exit_unreachable = 3, ///< no answer from the node
};

/// Where a node is: from `http://HOST[:PORT][/PATH]`. A plain value.
struct node_url {
  std::string host;
  std::string port = "80";
  std::string path; ///< "" or what follows the authority, e.g. "/mcp"
};

/// Parses a --node URL; nullopt and `why` set if it is not one.
std::optional<node_url> parse_node_url(const std::string& url, std::string& why);

/// One answer of the node: `code` is exit_ok with the parsed body, or the
/// exit code after the failure was printed to stderr.
struct node_answer {
  int code = exit_ok;
  int status = 0;
  std::string raw;
  boost::json::value body;
};

/// Calls the node. Failures (no answer, an error status, a body that is not
/// JSON) are printed to stderr as `cairn: CODE (HTTP STATUS): DETAIL`.
node_answer call_node(const client_options& o, const std::string& method, const std::string& path,
                      const std::string& body = {});

/// The actor kinds registered on the node (read from its /metrics, which
/// names every kind); nullopt if they cannot be read. Prints nothing.
std::optional<std::vector<std::string>> node_kinds(const client_options& o);

/// Exit code after saying that the node has no actor kind `kind`, or exit_ok
/// (printing nothing) if it has, or if its kinds cannot be read: used when an
/// answer came back empty, to tell "nothing yet" from "no such kind".
int check_kind(const client_options& o, const std::string& kind);

/// Calls the node; on success prints the JSON body (--json) or `table(body)`;
/// on failure prints the problem's code and detail to stderr. Returns the
/// exit code.
int run_call(const client_options& o, const std::string& method, const std::string& path,
             const std::string& body, const std::function<void(const boost::json::value&)>& table);

/// A JSON value as a table cell: strings bare, null as "-".
std::string cell(const boost::json::value& v);

/// Member `name` of object `v` as a table cell ("-" if absent).
std::string field(const boost::json::value& v, const char* name);

/// Milliseconds since the epoch as ISO-8601 UTC, `2026-12-01T18:12:46Z`.
std::string utc_time(int64_t ms);

/// Member `name` of `v`, milliseconds since the epoch, as `utc_time` ("-" if
/// absent or not a number).
std::string time_field(const boost::json::value& v, const char* name);

/// A point in time given on the command line, in milliseconds since the
/// epoch: plain digits (milliseconds), ISO-8601 UTC (`2026-12-01T18:00:00Z`,
/// `2026-12-01`) or an age (`30s`, `15m`, `2h`, `7d`: that long ago).
std::optional<uint64_t> parse_time_arg(const std::string& text);

/// Prints rows with columns padded to their widest cell.
void print_table(const std::vector<std::string>& head,
                 const std::vector<std::vector<std::string>>& rows, bool with_head = true);

/// The rows of array member `list` of `v`, one cell per name in `fields`.
std::vector<std::vector<std::string>> rows_of(const boost::json::value& v, const char* list,
                                              const std::vector<const char*>& fields);

/// Prints every member of object `v` as `name  value`, one a line.
void print_members(const boost::json::value& v);

} // namespace cairn::cli
