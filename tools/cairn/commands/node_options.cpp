// SPDX-License-Identifier: Apache-2.0
// `cairn node`'s command line: every flag, its variable and the config file
// (node_settings.cpp), then `run_node` (node_run.cpp).
#include <memory>

#include <CLI/CLI.hpp>

#include "commands/commands.hpp"
#include "commands/node_run.hpp"
#include "commands/node_settings.hpp"

namespace cairn::cli {

void add_node_run(CLI::App& app, int& exit_code) {
  auto ns = std::make_shared<node_settings>();
  auto* cmd = app.add_subcommand("node", "Run a cairn node on a local data directory");
  cmd->add_option("--data", ns->data, "Data directory (created if missing)")->capture_default_str();
  cmd
    ->add_option("--durability", ns->durability,
                 "os: acknowledged once in the write-ahead log; fsync: once fsynced")
    ->check(CLI::IsMember({"os", "fsync"}))
    ->capture_default_str();
  cmd->add_flag("--demo", ns->demo,
                "Run the delivery demo: order -> inventory -> payment -> dispatch -> notify");
  cmd->add_option("--demo-rate", ns->demo_rate, "Demo orders per second")
    ->check(CLI::PositiveNumber)
    ->capture_default_str();
  cmd->add_option("--flaky-rate", ns->flaky_rate, "Chance that one demo payment attempt fails")
    ->check(CLI::Range(0.0, 1.0))
    ->capture_default_str();
  cmd->add_option("--log-level", ns->log_level, "trace, debug, info, warn, error or off")
    ->capture_default_str();
  cmd->add_option("--workload", ns->workload, "Run a built-in workload: chain")
    ->check(CLI::IsMember({"chain"}));
  cmd->add_option("--profile", ns->profile, profile_help())
    ->check(CLI::IsMember(profile_names()))
    ->capture_default_str();
  cmd->add_option("--mcp-token", ns->mcp_tokens,
                  "MCP bearer token SECRET:TOOL-GLOB[,TOOL-GLOB...], repeatable: the tools it "
                  "may list and call (without it, --token tokens guard /mcp)");
  cmd->add_option("--chains", ns->chains, "Chains of the chain workload")
    ->check(CLI::Range(1, 1024))
    ->capture_default_str();
  cmd->add_option("--messages", ns->messages, "Items of the chain workload, over all chains")
    ->capture_default_str();
  cmd->add_flag("--exit-when-idle", ns->exit_when_idle,
                "Stop once nothing is pending, in flight or scheduled");
  cmd
    ->add_option("--max-pending", ns->max_pending, "Pending messages before accepting answers busy")
    ->check(CLI::PositiveNumber)
    ->capture_default_str();
  cmd->add_option("--batch", ns->max_batch, "Commit requests per storage write")
    ->check(CLI::PositiveNumber)
    ->capture_default_str();
  cmd
    ->add_option("--max-wait-us", ns->max_wait_us,
                 "Linger for a fuller commit batch (microseconds)")
    ->check(CLI::NonNegativeNumber)
    ->capture_default_str();
  cmd
    ->add_option("--stage-wait-us", ns->stage_wait_us,
                 "How long an accept's write waits for its step, to be written with it "
                 "(microseconds; 0: write accepts first)")
    ->check(CLI::NonNegativeNumber)
    ->capture_default_str();
  cmd
    ->add_option("--wal-spare-mb", ns->wal_spare_mb,
                 "With --durability fsync: each new write-ahead log starts on a file of this "
                 "many MiB of zeros written ahead, so a commit's fsync need not also write the "
                 "log's size (0: off)")
    ->check(CLI::Range(0, 65536))
    ->capture_default_str();
  cmd
    ->add_option("--commit-cpu", ns->commit_cpu,
                 "The CPU the commit thread runs on: auto (with --durability fsync, the CPU "
                 "that takes the disk's completion interrupts, if one does), off, or a CPU number")
    ->check([](const std::string& v) {
      return commit_cpu_named(v) ? std::string{} : "must be auto, off or a CPU number (0 to 4095)";
    })
    ->capture_default_str();
  cmd
    ->add_option("--threads", ns->threads,
                 "Actor scheduler threads (0: one per core, less one for the commit thread)")
    ->capture_default_str();
  cmd
    ->add_option("--scheduler", ns->scheduler,
                 "sharing: one queue for the scheduler threads, steady under any backlog; "
                 "stealing: a queue per thread, faster unloaded, crawls past ~10^5 ready actors")
    ->check(CLI::IsMember({"sharing", "stealing"}))
    ->capture_default_str();
  cmd
    ->add_option("--http", ns->http, "HTTP API address HOST:PORT (port 0 picks a free one), or off")
    ->capture_default_str();
  cmd
    ->add_option("--http-read-timeout", ns->http_read_timeout_s,
                 "Seconds a client has to send a whole request (slow clients are cut off)")
    ->check(CLI::Range(1, 3600))
    ->capture_default_str();
  cmd
    ->add_option("--max-connections", ns->max_connections,
                 "Open HTTP connections at most; past it a new one gets 503 and is closed")
    ->check(CLI::Range(1, 1000000))
    ->capture_default_str();
  cmd
    ->add_option("--max-active", ns->max_active,
                 "Actors in memory at once; 0 holds all processing (accepting still works)")
    ->capture_default_str();
  cmd
    ->add_option("--activation-window", ns->activation_window,
                 "Messages an actor holds in memory as they arrive; past it they wait in "
                 "storage and are read back at most 512 at a time")
    ->check(CLI::Range(1, 1'000'000))
    ->capture_default_str();
  cmd->add_option("--token", ns->tokens,
                  "API bearer token SECRET:scopes (read, write, admin), repeatable; required "
                  "when --http is not loopback");
  cmd->add_flag("!--no-progress", ns->progress, "Do not print the progress line");
  cmd->add_option("--log-format", ns->log_format, "text (for people) or json (one object a line)")
    ->check(CLI::IsMember({"text", "json"}))
    ->capture_default_str();
  cmd->add_option("--config", ns->config, "JSON settings file; flags and CAIRN_* variables win")
    ->envname("CAIRN_CONFIG");
  cmd->add_flag("--print-config", ns->print_config,
                "Check the settings as start does, print the effective ones as JSON and exit");
  cmd->add_option("--mcp-tools", ns->mcp_tools_text,
                  "MCP tools declared as a JSON array (exec, http; see mcp_tools in the README)");
  cmd->add_option("--policies", ns->policies_text,
                  "Orchestration policy rules as JSON (see docs/orchestration.md); reloaded from "
                  "--config on SIGHUP");
  cmd->add_option("--workflows", ns->workflows_text,
                  "Plan templates exposed as MCP tools, as a JSON array (docs/orchestration.md)");
  cmd->add_option("--cluster-etcd", ns->cluster_etcd,
                  "Join the cluster these etcd client URLs hold (comma-separated); empty: run "
                  "alone (docs/cluster.md)");
  cmd->add_option("--node-id", ns->node_id,
                  "This node's id in the cluster, [a-z0-9-]{1,32}; fixed for its data directory");
  cmd
    ->add_option("--cluster-listen", ns->cluster_listen,
                 "Where peers reach this node, HOST:PORT (port 0 picks one)")
    ->capture_default_str();
  cmd
    ->add_option("--shards", ns->shards,
                 "Shards of a cluster this node creates (fixed at creation), 1 to 4096")
    ->capture_default_str();
  cmd
    ->add_option("--cluster-lease-ttl", ns->cluster_lease_ttl,
                 "Seconds etcd keeps this node a member without hearing from it, 2 to 60")
    ->capture_default_str();
  cmd
    ->add_option("--cluster-outbox-cap", ns->cluster_outbox_cap,
                 "Outbox rows toward one peer before new messages to it are refused as busy")
    ->capture_default_str();
  cmd->add_option("--otlp-endpoint", ns->otlp_endpoint,
                  "Export spans over OTLP/HTTP (JSON) to this URL, http://HOST:PORT[/PATH] "
                  "(/v1/traces if no path); empty: no export");
  cmd->add_option("--otlp-headers", ns->otlp_headers,
                  "Headers sent with every export, Name=value,Name=value");
  cmd->add_option("--otlp-batch", ns->otlp_batch, "Spans per export request at most")
    ->capture_default_str();
  cmd
    ->add_option("--otlp-queue", ns->otlp_queue,
                 "Spans waiting for export at most; past it the oldest are dropped (counted)")
    ->capture_default_str();
  cmd->add_option("--hold-start", ns->hold_start,
                  "Tests: serve HTTP but hold recovery until this file exists");
  // Every setting of the table can also come from CAIRN_<NAME>.
  add_setting_variables(cmd);
  cmd->callback([ns, cmd, &exit_code] {
    if (auto err = apply_config_file(*ns, cmd); !err.empty()) {
      std::fprintf(stderr, "cairn: %s\n", err.c_str());
      exit_code = 2;
      return;
    }
    exit_code = run_node(*ns);
  });
}

} // namespace cairn::cli
