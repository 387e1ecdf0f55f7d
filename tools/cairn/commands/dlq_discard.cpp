// SPDX-License-Identifier: Apache-2.0
// `cairn dlq discard ID | --all [filters] --yes`: deletes dead letters for
// good.
#include "commands/commands.hpp"
#include "commands/dlq_filter.hpp"

namespace cairn::cli {

void add_dlq_discard(CLI::App& dlq, int& exit_code) {
  auto* cmd =
    dlq.add_subcommand("discard", "Delete a dead letter (or every one matching filters) for good");
  add_dlq_action(cmd, dlq_action::discard, exit_code);
}

} // namespace cairn::cli
