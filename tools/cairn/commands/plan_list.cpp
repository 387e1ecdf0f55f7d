// SPDX-License-Identifier: Apache-2.0
// `cairn plan list [--status S] [--since T] [--limit N]`: plans, newest first.
#include <memory>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

void add_plan_list(CLI::App& plan, int& exit_code) {
  auto status = std::make_shared<std::string>();
  auto since = std::make_shared<std::string>();
  auto limit = std::make_shared<uint64_t>(50);
  auto* cmd = plan.add_subcommand("list", "List plans, newest first");
  cmd->add_option("--status", *status, "Only plans in this state")
    ->check(CLI::IsMember({"rejected", "running", "compensating", "succeeded", "failed",
                           "compensated", "compensation_failed", "cancelled"}));
  cmd->add_option("--since", *since, "Submitted at or after (2026-12-01T18:00:00Z, 15m, 2h)");
  cmd->add_option("--limit", *limit, "Plans to list (1 to 1000)")
    ->check(CLI::Range(1, 1000))
    ->capture_default_str();
  auto o = add_client_options(cmd);
  cmd->callback([o, status, since, limit, &exit_code] {
    std::string path = "/api/v1/plans?limit=" + std::to_string(*limit);
    if (!status->empty())
      path += "&status=" + percent_encode(*status);
    if (!since->empty()) {
      auto t = parse_time_arg(*since);
      if (!t) {
        std::fprintf(stderr, "cairn: --since '%s' is not a time (2026-12-01T18:00:00Z, 15m)\n",
                     since->c_str());
        exit_code = exit_usage;
        return;
      }
      path += "&since=" + std::to_string(*t);
    }
    exit_code = run_call(*o, "GET", path, {}, [](const boost::json::value& v) {
      auto rows = rows_of(v, "plans", {"id", "state", "risk", "cost", "submitted_ms", "caller"});
      for (size_t i = 0; i < rows.size(); ++i)
        rows[i][4] = time_field(v.at("plans").as_array()[i], "submitted_ms");
      print_table({"ID", "STATE", "RISK", "COST", "SUBMITTED", "CALLER"}, rows);
    });
  });
}

} // namespace cairn::cli
