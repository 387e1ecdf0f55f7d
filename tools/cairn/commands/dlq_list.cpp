// SPDX-License-Identifier: Apache-2.0
// `cairn dlq list [--kind K]`: dead letters, oldest first.
#include <memory>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

void add_dlq_list(CLI::App& dlq, int& exit_code) {
  auto kind = std::make_shared<std::string>();
  auto* list = dlq.add_subcommand("list", "List dead letters, oldest first");
  list->add_option("--kind", *kind, "Only this actor kind");
  auto o = add_client_options(list);
  list->callback([o, kind, &exit_code] {
    auto path = "/api/v1/dead-letters" + (kind->empty() ? "" : "?kind=" + percent_encode(*kind));
    exit_code = run_call(*o, "GET", path, "", [](const boost::json::value& v) {
      print_table({"ID", "TO", "TYPE", "ATTEMPTS", "ERROR"},
                  rows_of(v, "dead_letters", {"id", "to", "type", "attempts", "error"}));
    });
  });
}

} // namespace cairn::cli
