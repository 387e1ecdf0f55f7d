// SPDX-License-Identifier: Apache-2.0
// `cairn dlq show ID`: one dead letter in full.
#include <memory>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

void add_dlq_show(CLI::App& dlq, int& exit_code) {
  auto id = std::make_shared<std::string>();
  auto* cmd = dlq.add_subcommand("show", "Show one dead letter in full");
  cmd->add_option("ID", *id, "Dead letter id")->required();
  auto o = add_client_options(cmd);
  cmd->callback([o, id, &exit_code] {
    exit_code =
      run_call(*o, "GET", "/api/v1/dead-letters/" + percent_encode(*id), "", print_members);
  });
}

} // namespace cairn::cli
