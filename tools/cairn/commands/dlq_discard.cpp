// SPDX-License-Identifier: Apache-2.0
// `cairn dlq discard ID`: deletes a dead letter for good.
#include <cstdio>
#include <memory>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

void add_dlq_discard(CLI::App& dlq, int& exit_code) {
  auto id = std::make_shared<std::string>();
  auto* cmd = dlq.add_subcommand("discard", "Delete a dead letter for good");
  cmd->add_option("ID", *id, "Dead letter id")->required();
  auto o = add_client_options(cmd);
  cmd->callback([o, id, &exit_code] {
    exit_code =
      run_call(*o, "DELETE", "/api/v1/dead-letters/" + percent_encode(*id), "",
               [id](const boost::json::value&) { std::printf("discarded %s\n", id->c_str()); });
  });
}

} // namespace cairn::cli
