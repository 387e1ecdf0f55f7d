// SPDX-License-Identifier: Apache-2.0
// The command line of the cairn binary: every command, parsed once.
#include <csignal>
#include <cstdio>
#include <exception>

#include "commands/commands.hpp"

namespace cairn::cli {

int run(int argc, char** argv) {
  // A write to a pipe or socket whose reader is gone (a tool's child that
  // closed its stdin, a client that hung up) is an error to handle, not a
  // reason for the whole node to die.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"cairn — a durable actor runtime: agents think, events execute"};
  app.require_subcommand(1);
  int exit_code = 0;
  add_node_run(app, exit_code);
  add_mcp_stdio(app, exit_code);
  add_status_show(app, exit_code);
  add_message_send(app, exit_code);
  add_journal_show(app, exit_code);
  add_actors_list(app, exit_code);
  auto* actor = app.add_subcommand("actor", "Inspect one actor");
  actor->require_subcommand(1);
  add_actor_show(*actor, exit_code);
  add_topics_list(app, exit_code);
  add_timers_list(app, exit_code);
  auto* dlq = app.add_subcommand("dlq", "Inspect and act on dead letters");
  dlq->require_subcommand(1);
  add_dlq_list(*dlq, exit_code);
  add_dlq_show(*dlq, exit_code);
  add_dlq_redrive(*dlq, exit_code);
  add_dlq_discard(*dlq, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a success; every other argument problem is exit code 2.
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cairn: %s\n", e.what());
    return 1;
  }
  return exit_code;
}

} // namespace cairn::cli
