// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

// What a node can be told, and from where: flags, CAIRN_* variables and a
// JSON file. Used on the main thread while a command's arguments are read.
namespace cairn::cli {

/// Every setting of `cairn node` and `cairn mcp stdio`. A plain value.
struct node_settings {
  std::string data = "cairn-data";
  std::string durability = "os";
  std::string log_level = "info";
  bool demo = false;
  double demo_rate = 200;
  double flaky_rate = 0.2;
  std::string workload;
  std::string profile = "default";
  std::vector<std::string> mcp_tokens;                 ///< SECRET:tool-glob[,tool-glob...]
  boost::json::value mcp_tools = boost::json::array{}; ///< tool declarations (exec, http)
  std::string mcp_tools_text;   ///< `--mcp-tools` / CAIRN_MCP_TOOLS: the same, as JSON text
  boost::json::value policies;  ///< orchestration policy rules (null: the defaults per risk)
  boost::json::value workflows; ///< plan templates exposed as MCP tools (null: none)
  std::string policies_text;    ///< `--policies` / CAIRN_POLICIES: the same, as JSON text
  std::string workflows_text;   ///< `--workflows` / CAIRN_WORKFLOWS: the same, as JSON text
  uint32_t chains = 8;
  uint64_t messages = 100'000;
  bool exit_when_idle = false;
  size_t max_pending = 1'000'000;
  size_t max_batch = 1024;
  int64_t max_wait_us = 0;
  int64_t stage_wait_us = 2000;
  int64_t wal_spare_mb = 64;
  std::string commit_cpu = "auto"; ///< auto, off, or a CPU number
  size_t threads = 0;
  std::string scheduler = "sharing";
  size_t max_active = 200'000;
  size_t activation_window = 2048;
  std::string http = "127.0.0.1:7070";
  int64_t http_read_timeout_s = 10;
  int64_t max_connections = 1024;
  std::vector<std::string> tokens; ///< SECRET:scope[,scope...]
  std::string log_format = "text";
  std::string config; ///< JSON file with settings (flags and CAIRN_* win over it)
  bool print_config = false;
  std::string hold_start; ///< tests: hold recovery until this file exists
  bool progress = true;
  bool stdio = false; ///< serve MCP on stdin/stdout (`cairn mcp stdio`)
  // A cluster (docs/cluster.md); all unused while cluster_etcd is empty.
  std::string cluster_etcd;                   ///< etcd client URLs, comma-separated
  std::string node_id;                        ///< required with cluster_etcd
  std::string cluster_listen = "127.0.0.1:0"; ///< the CAF ingress, HOST:PORT
  uint32_t shards = 256;                      ///< at the cluster's creation
  bool shards_given = false;                  ///< set explicitly (flag, variable or file)
  int64_t cluster_lease_ttl = 6;              ///< seconds
  int64_t cluster_outbox_cap = 100'000;       ///< rows per peer before messages to it are busy
  // Span export over OTLP/HTTP (docs/observability.md); off while empty.
  std::string otlp_endpoint;
  std::string otlp_headers; ///< "Name=value,Name=value" (OTEL_EXPORTER_OTLP_HEADERS' format)
  int64_t otlp_batch = 512;
  int64_t otlp_queue = 65'536;
};

/// One setting: its name in files (`max_pending`), flag (`--max-pending`)
/// and environment (`CAIRN_MAX_PENDING`), how to read it from JSON and how
/// to print it. The single place that lists what a node can be told.
struct setting {
  const char* name;
  std::function<std::string(node_settings&, const boost::json::value&)> from_json; ///< "" or why
  std::function<boost::json::value(const node_settings&)> to_json;
};

/// `commit_cpu`'s text as runtime_options::commit_cpu: `auto`, `off` or a
/// CPU number (0 to 4095); none for any other text.
std::optional<int> commit_cpu_named(const std::string& text);

/// Every setting, in the order `--print-config` shows them.
const std::vector<setting>& settings_table();

/// The flag that gives setting `name` (`max_pending` -> `--max-pending`,
/// `tokens` -> `--token`).
std::string flag_of(const std::string& name);

/// The variable that gives setting `name` (`max_pending` -> `CAIRN_MAX_PENDING`).
std::string variable_of(const std::string& name);

/// Gives every option of `cmd` that is a setting its CAIRN_<NAME> variable.
/// A list setting's variable holds its items separated by spaces
/// (`CAIRN_TOKENS="a:read b:read,write"`).
void add_setting_variables(CLI::App* cmd);

/// Reads the settings given as JSON text by a flag or variable of `cmd`
/// (`--mcp-tools`), then applies the file `ns.config` (if set) for every
/// setting that no flag or variable of `cmd` gave. Returns "" or an error
/// naming the setting.
std::string apply_config_file(node_settings& ns, const CLI::App* cmd);

/// The effective settings as JSON, secrets redacted (a token shows its
/// scopes only).
boost::json::object effective_config(const node_settings& ns);

/// "default" and every registered profile; the help text listing them.
std::vector<std::string> profile_names();
std::string profile_help();

} // namespace cairn::cli
