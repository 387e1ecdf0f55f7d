// SPDX-License-Identifier: Apache-2.0
// `cairn actors [--kind K] [--limit N]`: actors with a journal or mail.
#include <cstdio>
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
    auto a = call_node(*o, "GET", path);
    if (a.code != exit_ok) {
      exit_code = a.code;
      return;
    }
    auto rows =
      rows_of(a.body, "actors", {"id", "active", "mailbox_depth", "journal_length", "last_error"});
    // None of a kind the node does not have: say so instead of an empty table.
    if (rows.empty() && !kind->empty()) {
      if (exit_code = check_kind(*o, *kind); exit_code != exit_ok)
        return;
    }
    if (o->json)
      std::printf("%s\n", a.raw.c_str());
    else
      print_table({"ID", "ACTIVE", "MAILBOX", "JOURNAL", "LAST_ERROR"}, rows);
    exit_code = exit_ok;
  });
}

} // namespace cairn::cli
