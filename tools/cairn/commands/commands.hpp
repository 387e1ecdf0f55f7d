// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <map>
#include <string>

#include <CLI/CLI.hpp>

namespace cairn {
class runtime;
class node_builder;
} // namespace cairn

namespace cairn::mcp {
class server;
}

// Every command of the cairn binary: one `add_<noun>_<verb>` per command,
// each in its own `<noun>_<verb>.cpp`. Commands are added and run on the
// main thread.
namespace cairn::cli {

/// A named set of extra MCP tools, resources, prompts and actor kinds a
/// node can serve (`--profile NAME`). The production binary has only
/// "default"; a test binary adds its fixtures. Add profiles in `main`,
/// before the commands.
struct profile {
  std::string description;
  std::function<void(mcp::server&, runtime&)> install;
};

void add_profile(std::string name, profile p);
std::map<std::string, profile>& profiles();

/// What `node_main`'s builder registered, applied by every node this
/// process runs (after the profile, before cairn's configured tools).
/// Empty (no kinds, no tools, no demo) unless `node_main` set it.
const node_builder& node_additions();
void set_node_additions(node_builder b);

/// Parses the command line and runs the command; returns the exit code.
int run(int argc, char** argv);

// Each adds its command to `app` (or to its group, `actor` or `dlq`); the
// command's callback sets `exit_code`.

void add_node_run(CLI::App& app, int& exit_code);               ///< cairn node
void add_mcp_stdio(CLI::App& app, int& exit_code);              ///< cairn mcp stdio
void add_status_show(CLI::App& app, int& exit_code);            ///< cairn status
void add_message_send(CLI::App& app, int& exit_code);           ///< cairn send
void add_journal_show(CLI::App& app, int& exit_code);           ///< cairn journal
void add_trace_show(CLI::App& app, int& exit_code);             ///< cairn trace
void add_actors_list(CLI::App& app, int& exit_code);            ///< cairn actors
void add_actor_show(CLI::App& actor, int& exit_code);           ///< cairn actor show
void add_topics_list(CLI::App& app, int& exit_code);            ///< cairn topics
void add_timers_list(CLI::App& app, int& exit_code);            ///< cairn timers
void add_dlq_list(CLI::App& dlq, int& exit_code);               ///< cairn dlq list
void add_dlq_show(CLI::App& dlq, int& exit_code);               ///< cairn dlq show
void add_dlq_redrive(CLI::App& dlq, int& exit_code);            ///< cairn dlq redrive
void add_dlq_discard(CLI::App& dlq, int& exit_code);            ///< cairn dlq discard
void add_plan_submit(CLI::App& plan, int& exit_code);           ///< cairn plan submit
void add_plan_list(CLI::App& plan, int& exit_code);             ///< cairn plan list
void add_plan_show(CLI::App& plan, int& exit_code);             ///< cairn plan show
void add_plan_watch(CLI::App& plan, int& exit_code);            ///< cairn plan watch
void add_plan_cancel(CLI::App& plan, int& exit_code);           ///< cairn plan cancel
void add_approvals_list(CLI::App& approvals, int& exit_code);   ///< cairn approvals list
void add_approvals_show(CLI::App& approvals, int& exit_code);   ///< cairn approvals show
void add_approvals_decide(CLI::App& approvals, int& exit_code); ///< approve, deny
void add_cluster_status(CLI::App& cluster, int& exit_code);     ///< cairn cluster status
void add_cluster_drain(CLI::App& cluster, int& exit_code);      ///< cairn cluster drain
void add_cluster_forget(CLI::App& cluster, int& exit_code);     ///< cairn cluster forget
void add_bench_run(CLI::App& app, int& exit_code);              ///< cairn bench

} // namespace cairn::cli
