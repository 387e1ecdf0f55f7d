// SPDX-License-Identifier: Apache-2.0
// The command line of the cairn binary: every command, parsed once.
#include <csignal>
#include <cstdio>
#include <exception>

#include "commands/client_output.hpp"
#include "commands/commands.hpp"

#ifndef CAIRN_VERSION
#define CAIRN_VERSION "0.0.0"
#endif

namespace cairn::cli {

namespace {

/// The subcommand `path` names below `app` (`{"dlq", "list"}`), or null.
CLI::App* find_command(CLI::App& app, const std::vector<std::string>& path) {
  CLI::App* at = &app;
  for (const auto& name : path) {
    CLI::App* next = nullptr;
    for (auto* sub : at->get_subcommands([](const CLI::App*) { return true; }))
      if (sub->check_name(name))
        next = sub;
    if (!next)
      return nullptr;
    at = next;
  }
  return at;
}

/// The deepest command the user named: `cairn dlq` names the group `dlq`.
CLI::App* named_command(CLI::App& app) {
  CLI::App* at = &app;
  for (;;) {
    auto subs = at->get_subcommands();
    if (subs.empty())
      return at;
    at = subs.front();
  }
}

/// `cmd`'s help, its usage line naming the whole command (`cairn dlq list`).
std::string help_of(CLI::App* cmd) {
  std::string name = cmd->get_name();
  for (auto* p = cmd->get_parent(); p; p = p->get_parent())
    name = p->get_name() + " " + name;
  // Not App::help(): it shows the help of a parsed subcommand instead
  // (`cairn help` would describe `help`).
  return cmd->get_formatter()->make_help(cmd, name, CLI::AppFormatMode::Normal);
}

bool has_commands(CLI::App* cmd) {
  return !cmd->get_subcommands([](const CLI::App*) { return true; }).empty();
}

} // namespace

int run(int argc, char** argv) {
  // A write to a pipe or socket whose reader is gone (a tool's child that
  // closed its stdin, a client that hung up) is an error to handle, not a
  // reason for the whole node to die.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"cairn " CAIRN_VERSION " — a durable actor runtime: agents think, events execute"};
  app.name("cairn");
  app.set_version_flag("--version", std::string{"cairn "} + CAIRN_VERSION,
                       "Print the version and exit");
  app.footer("Run `cairn help COMMAND` or `cairn COMMAND --help` for a command's options. "
             "--node, --token and --json go before the command or after it.\n"
             "Exit codes: 0 success, 1 the node answered with an error, 2 bad arguments, "
             "3 the node is unreachable.");
  // `cairn` or a group (`cairn dlq`) without a command prints its commands.
  app.require_subcommand(0, 1);
  int exit_code = 0;
  add_client_options(&app);
  add_node_run(app, exit_code);
  add_mcp_stdio(app, exit_code);
  add_status_show(app, exit_code);
  add_message_send(app, exit_code);
  add_journal_show(app, exit_code);
  add_trace_show(app, exit_code);
  add_actors_list(app, exit_code);
  auto* actor = app.add_subcommand("actor", "Inspect one actor (actor show ID)");
  actor->require_subcommand(0, 1);
  add_actor_show(*actor, exit_code);
  add_topics_list(app, exit_code);
  add_timers_list(app, exit_code);
  auto* dlq = app.add_subcommand(
    "dlq", "Inspect and act on dead letters (dlq list | show | redrive | discard)");
  dlq->require_subcommand(0, 1);
  add_dlq_list(*dlq, exit_code);
  add_dlq_show(*dlq, exit_code);
  add_dlq_redrive(*dlq, exit_code);
  add_dlq_discard(*dlq, exit_code);
  auto* plan = app.add_subcommand(
    "plan", "Submit and follow plans (plan submit | list | show | watch | cancel)");
  plan->require_subcommand(0, 1);
  add_plan_submit(*plan, exit_code);
  add_plan_list(*plan, exit_code);
  add_plan_show(*plan, exit_code);
  add_plan_watch(*plan, exit_code);
  add_plan_cancel(*plan, exit_code);
  auto* approvals = app.add_subcommand(
    "approvals", "Decide steps waiting for approval (approvals list | show | approve | deny)");
  approvals->require_subcommand(0, 1);
  add_approvals_list(*approvals, exit_code);
  add_approvals_show(*approvals, exit_code);
  add_approvals_decide(*approvals, exit_code);
  auto* cluster =
    app.add_subcommand("cluster", "Inspect the node's cluster, drain or forget members");
  cluster->require_subcommand(0, 1);
  add_cluster_status(*cluster, exit_code);
  add_cluster_drain(*cluster, exit_code);
  add_cluster_forget(*cluster, exit_code);
  add_bench_run(app, exit_code);
  auto help_path = std::make_shared<std::vector<std::string>>();
  auto* help = app.add_subcommand("help", "Show the commands, or one command's options");
  help->add_option("COMMAND", *help_path, "A command, e.g. `journal` or `dlq list`");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are a success; every other argument problem is
    // exit code 2.
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cairn: %s\n", e.what());
    return 1;
  }
  if (help->parsed()) {
    auto* cmd = find_command(app, *help_path);
    if (!cmd || cmd == help) {
      std::string name;
      for (const auto& p : *help_path)
        name += (name.empty() ? "" : " ") + p;
      std::fprintf(stderr, "cairn: no command '%s'; `cairn help` lists them\n", name.c_str());
      return exit_usage;
    }
    std::fputs(help_of(cmd).c_str(), stdout);
    return exit_ok;
  }
  if (auto* named = named_command(app); has_commands(named)) {
    std::fputs(help_of(named).c_str(), stdout);
    return exit_ok;
  }
  return exit_code;
}

} // namespace cairn::cli
