// SPDX-License-Identifier: Apache-2.0
// `cairn topics`: topics with their length and subscriptions.
#include <memory>

#include <boost/json.hpp>

#include "commands/client_output.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

void add_topics_list(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("topics", "List topics with their length and subscriptions");
  auto o = add_client_options(cmd);
  cmd->callback([o, &exit_code] {
    exit_code = run_call(*o, "GET", "/api/v1/topics", "", [](const boost::json::value& v) {
      print_table({"TOPIC", "EVENTS", "SUBSCRIPTIONS"},
                  rows_of(v, "topics", {"name", "events", "subscriptions"}));
    });
  });
}

} // namespace cairn::cli
