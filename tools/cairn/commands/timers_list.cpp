// SPDX-License-Identifier: Apache-2.0
// `cairn timers`: durable timers, earliest first.
#include <memory>

#include <boost/json.hpp>

#include "commands/client_output.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

void add_timers_list(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("timers", "List durable timers, earliest first");
  auto o = add_client_options(cmd);
  cmd->callback([o, &exit_code] {
    exit_code = run_call(*o, "GET", "/api/v1/timers", "", [](const boost::json::value& v) {
      auto rows = rows_of(v, "timers", {"due_ms", "to", "type"});
      for (size_t i = 0; i < rows.size(); ++i) // rows exist: so does the list
        rows[i][0] = time_field(v.at("timers").as_array()[i], "due_ms");
      print_table({"DUE", "TO", "TYPE"}, rows);
    });
  });
}

} // namespace cairn::cli
