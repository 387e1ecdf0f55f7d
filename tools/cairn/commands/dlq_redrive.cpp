// SPDX-License-Identifier: Apache-2.0
// `cairn dlq redrive ID | --all [filters] --yes`: puts dead letters back in
// their actors' mailboxes.
#include "commands/commands.hpp"
#include "commands/dlq_filter.hpp"

namespace cairn::cli {

void add_dlq_redrive(CLI::App& dlq, int& exit_code) {
  auto* cmd = dlq.add_subcommand(
    "redrive", "Put a dead letter (or every one matching filters) back in its actor's mailbox");
  add_dlq_action(cmd, dlq_action::redrive, exit_code);
}

} // namespace cairn::cli
