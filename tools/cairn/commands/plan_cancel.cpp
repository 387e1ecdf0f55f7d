// SPDX-License-Identifier: Apache-2.0
// `cairn plan cancel ID [--reason TEXT]`: stops a plan and undoes its
// completed steps.
#include <memory>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"
#include "commands/plan_output.hpp"

namespace cairn::cli {

void add_plan_cancel(CLI::App& plan, int& exit_code) {
  auto id = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  auto* cmd = plan.add_subcommand(
    "cancel", "Cancel a plan: running steps stop, pending ones are skipped, completed ones undone");
  cmd->add_option("ID", *id, "The plan's id (plan/...)")->required();
  cmd->add_option("--reason", *reason, "Why (journaled)");
  auto o = add_client_options(cmd);
  cmd->callback([o, id, reason, &exit_code] {
    auto body = boost::json::serialize(boost::json::object{{"reason", *reason}});
    exit_code = run_call(*o, "POST", "/api/v1/plans/" + percent_encode(*id) + "/cancel", body,
                         [](const boost::json::value& v) { print_plan(v); });
  });
}

} // namespace cairn::cli
