// SPDX-License-Identifier: Apache-2.0
// `cairn approvals show ID`: what would run, with which arguments and hash.
#include <memory>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"
#include "commands/plan_output.hpp"

namespace cairn::cli {

void add_approvals_show(CLI::App& approvals, int& exit_code) {
  auto id = std::make_shared<std::string>();
  auto* cmd =
    approvals.add_subcommand("show", "Show an approval: the call and its arguments' hash");
  cmd->add_option("ID", *id, "The approval's id (plan/.../STEP)")->required();
  auto o = add_client_options(cmd);
  cmd->callback([o, id, &exit_code] {
    exit_code = run_call(*o, "GET", "/api/v1/approvals/" + percent_encode(*id), {},
                         [](const boost::json::value& v) { print_approval(v); });
  });
}

} // namespace cairn::cli
