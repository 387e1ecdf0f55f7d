// SPDX-License-Identifier: Apache-2.0
// `cairn dlq redrive ID`: puts a dead letter back in its actor's mailbox.
#include <cstdio>
#include <memory>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

void add_dlq_redrive(CLI::App& dlq, int& exit_code) {
  auto id = std::make_shared<std::string>();
  auto* cmd = dlq.add_subcommand("redrive", "Put a dead letter back in its actor's mailbox");
  cmd->add_option("ID", *id, "Dead letter id")->required();
  auto o = add_client_options(cmd);
  cmd->callback([o, id, &exit_code] {
    exit_code =
      run_call(*o, "POST", "/api/v1/dead-letters/" + percent_encode(*id) + "/redrive", "",
               [id](const boost::json::value&) { std::printf("redriven %s\n", id->c_str()); });
  });
}

} // namespace cairn::cli
