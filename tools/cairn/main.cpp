// SPDX-License-Identifier: Apache-2.0
// The cairn binary: `cairn node` runs a node.
#include <cstdio>
#include <exception>

#include "commands/commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"cairn — a durable actor runtime: agents think, events execute"};
  app.require_subcommand(1);
  int exit_code = 0;
  cairn::cli::add_node_run(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cairn: %s\n", e.what());
    return 1;
  }
  return exit_code;
}
