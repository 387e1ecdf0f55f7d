// SPDX-License-Identifier: Apache-2.0
// `cairn status`: the node's identity, readiness and totals.
#include <cstdio>
#include <memory>

#include <boost/json.hpp>

#include "commands/client_output.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

void add_status_show(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("status", "Show a node's identity, readiness and totals");
  auto o = add_client_options(cmd);
  cmd->callback([o, &exit_code] {
    exit_code = run_call(*o, "GET", "/api/v1/status", "", [](const boost::json::value& v) {
      std::printf("node           %s (version %s)\n", field(v, "node_id").c_str(),
                  field(v, "version").c_str());
      std::printf("ready          %s\n", field(v, "ready").c_str());
      std::printf("durability     %s\n", field(v, "durability").c_str());
      std::printf("uptime         %.0f s\n", v.at("uptime_s").to_number<double>());
      if (v.as_object().contains("totals"))
        for (const auto& [k, t] : v.at("totals").as_object())
          std::printf("%-15s%s\n", std::string{k}.c_str(), cell(t).c_str());
    });
  });
}

} // namespace cairn::cli
