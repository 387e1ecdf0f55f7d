// SPDX-License-Identifier: Apache-2.0
// `cairn actors [--kind K] [--limit N]`: actors with a journal or mail.
#include <memory>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

void add_actors_list(CLI::App& app, int& exit_code) {
  auto kind = std::make_shared<std::string>();
  auto limit = std::make_shared<uint64_t>(100);
  auto* cmd = app.add_subcommand("actors", "List actors with a journal or mail, by id");
  cmd->add_option("--kind", *kind, "Only this actor kind");
  cmd->add_option("--limit", *limit, "Actors to list")->capture_default_str();
  auto o = add_client_options(cmd);
  cmd->callback([o, kind, limit, &exit_code] {
    auto path = "/api/v1/actors?limit=" + std::to_string(*limit)
                + (kind->empty() ? "" : "&kind=" + percent_encode(*kind));
    exit_code = run_call(*o, "GET", path, "", [](const boost::json::value& v) {
      print_table(
        {"ID", "ACTIVE", "MAILBOX", "JOURNAL", "LAST_ERROR"},
        rows_of(v, "actors", {"id", "active", "mailbox_depth", "journal_length", "last_error"}));
    });
  });
}

} // namespace cairn::cli
