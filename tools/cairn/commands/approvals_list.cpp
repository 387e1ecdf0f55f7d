// SPDX-License-Identifier: Apache-2.0
// `cairn approvals list`: approvals, pending first.
#include <memory>

#include <boost/json.hpp>

#include "commands/client_output.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

void add_approvals_list(CLI::App& approvals, int& exit_code) {
  auto* cmd = approvals.add_subcommand("list", "List approvals, pending first");
  auto o = add_client_options(cmd);
  cmd->callback([o, &exit_code] {
    exit_code = run_call(*o, "GET", "/api/v1/approvals", {}, [](const boost::json::value& v) {
      auto rows =
        rows_of(v, "approvals",
                {"id", "state", "tool", "risk", "approver", "expires_ms", "arguments_sha256"});
      for (size_t i = 0; i < rows.size(); ++i)
        rows[i][5] = time_field(v.at("approvals").as_array()[i], "expires_ms");
      print_table({"ID", "STATE", "TOOL", "RISK", "APPROVER", "EXPIRES", "SHA256"}, rows);
    });
  });
}

} // namespace cairn::cli
