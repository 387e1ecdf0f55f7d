// SPDX-License-Identifier: Apache-2.0
// `cairn plan show ID`: a plan and its steps.
#include <memory>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"
#include "commands/plan_output.hpp"

namespace cairn::cli {

void add_plan_show(CLI::App& plan, int& exit_code) {
  auto id = std::make_shared<std::string>();
  auto* cmd = plan.add_subcommand("show", "Show a plan: its state and every step");
  cmd->add_option("ID", *id, "The plan's id (plan/...)")->required();
  auto o = add_client_options(cmd);
  cmd->callback([o, id, &exit_code] {
    exit_code = run_call(*o, "GET", "/api/v1/plans/" + percent_encode(*id), {},
                         [](const boost::json::value& v) { print_plan(v); });
  });
}

} // namespace cairn::cli
