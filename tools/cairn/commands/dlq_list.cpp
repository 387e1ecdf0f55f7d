// SPDX-License-Identifier: Apache-2.0
// `cairn dlq list [--kind K] [--error TEXT] [--since T] [--until T]
// [--limit N] [--cursor ID]`: dead letters, oldest first.
#include <cstdio>
#include <memory>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"
#include "commands/dlq_filter.hpp"

namespace cairn::cli {

void add_dlq_list(CLI::App& dlq, int& exit_code) {
  auto f = std::make_shared<dlq_filter>();
  auto limit = std::make_shared<uint64_t>(100);
  auto cursor = std::make_shared<std::string>();
  auto* list = dlq.add_subcommand("list", "List dead letters, oldest first");
  add_dlq_filter_options(list, *f);
  list->add_option("--limit", *limit, "Dead letters to list (1 to 1000)")
    ->check(CLI::Range(1, 1000))
    ->capture_default_str();
  list->add_option("--cursor", *cursor, "Continue after this id (the previous page's last)");
  auto o = add_client_options(list);
  list->callback([o, f, limit, cursor, &exit_code] {
    std::string query, why;
    if (!dlq_query(*f, query, why)) {
      std::fprintf(stderr, "cairn: %s\n", why.c_str());
      exit_code = exit_usage;
      return;
    }
    auto path = "/api/v1/dead-letters?limit=" + std::to_string(*limit)
                + (query.empty() ? "" : "&" + query)
                + (cursor->empty() ? "" : "&cursor=" + percent_encode(*cursor));
    auto a = call_node(*o, "GET", path);
    if (a.code != exit_ok) {
      exit_code = a.code;
      return;
    }
    const auto& v = a.body;
    auto rows = rows_of(v, "dead_letters", {"id", "to", "type", "attempts", "failed_ms", "error"});
    // None for a kind the node does not have: say so instead of an empty table.
    if (rows.empty() && !f->kind.empty()) {
      if (exit_code = check_kind(*o, f->kind); exit_code != exit_ok)
        return;
    }
    exit_code = exit_ok;
    if (o->json) {
      std::printf("%s\n", a.raw.c_str());
      return;
    }
    for (size_t i = 0; i < rows.size(); ++i) // rows exist: so does the list
      rows[i][4] = time_field(v.at("dead_letters").as_array()[i], "failed_ms");
    print_table({"ID", "TO", "TYPE", "ATTEMPTS", "FAILED", "ERROR"}, rows);
    if (auto next = field(v, "next_cursor"); next != "-") {
      std::fflush(stdout); // the hint after the table, also when both go to one pipe
      std::fprintf(stderr, "(more: add --cursor %s)\n", next.c_str());
    }
  });
}

} // namespace cairn::cli
