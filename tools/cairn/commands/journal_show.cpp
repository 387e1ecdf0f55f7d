// SPDX-License-Identifier: Apache-2.0
// `cairn journal ID [--from SEQ] [--limit N] [--follow]`: an actor's
// journal (its audit trail), in order.
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

void add_journal_show(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<client_options>();
  auto id = std::make_shared<std::string>();
  auto from = std::make_shared<uint64_t>(1);
  auto limit = std::make_shared<uint64_t>(100);
  auto follow = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("journal", "Show an actor's journal (its audit trail), in order");
  cmd->add_option("ID", *id, "Actor id, kind/key")->required();
  cmd->add_option("--from", *from, "First sequence number")->capture_default_str();
  cmd->add_option("--limit", *limit, "Events per request")->capture_default_str();
  cmd->add_flag("--follow,-f", *follow, "Keep printing new events until interrupted");
  add_client_options(cmd, *o);
  cmd->callback([o, id, from, limit, follow, &exit_code] {
    uint64_t next = *from;
    bool header = true;
    for (;;) {
      auto path = "/api/v1/actors/" + percent_encode(*id) + "/journal?from=" + std::to_string(next)
                  + "&limit=" + std::to_string(*limit);
      size_t got = 0;
      exit_code = run_call(*o, "GET", path, "", [&](const boost::json::value& v) {
        auto rows = rows_of(v, "events", {"seq", "type", "size"});
        got = rows.size();
        if (header || !rows.empty())
          print_table({"SEQ", "TYPE", "BYTES"}, rows, header);
        header = false;
        if (v.is_object() && v.as_object().contains("next_from"))
          next = v.at("next_from").to_number<uint64_t>();
      });
      std::fflush(stdout);
      if (exit_code != exit_ok)
        return;
      if (got < *limit) {
        if (!*follow)
          return;
        std::this_thread::sleep_for(std::chrono::milliseconds{500});
      }
    }
  });
}

} // namespace cairn::cli
