// SPDX-License-Identifier: Apache-2.0
// `cairn plan submit FILE|- [--watch]`: submits a plan (JSON) and prints
// where it stands, or every problem if it was rejected.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include <boost/json.hpp>

#include "commands/client_output.hpp"
#include "commands/commands.hpp"
#include "commands/plan_output.hpp"

namespace cairn::cli {

int watch_plan(const client_options& o, const std::string& id); // plan_watch.cpp

void add_plan_submit(CLI::App& plan, int& exit_code) {
  auto file = std::make_shared<std::string>();
  auto watch = std::make_shared<bool>(false);
  auto* cmd = plan.add_subcommand("submit", "Submit a plan (a JSON file, or - for stdin)");
  cmd->add_option("FILE", *file, "The plan: {\"steps\": [...], ...}")->required();
  cmd->add_flag("--watch", *watch, "Then follow it until it ends");
  auto o = add_client_options(cmd);
  cmd->callback([o, file, watch, &exit_code] {
    std::string text;
    if (*file == "-") {
      text.assign(std::istreambuf_iterator<char>{std::cin}, {});
    } else {
      std::ifstream in{*file};
      if (!in) {
        std::fprintf(stderr, "cairn: cannot read %s\n", file->c_str());
        exit_code = exit_usage;
        return;
      }
      text.assign(std::istreambuf_iterator<char>{in}, {});
    }
    auto a = call_node(*o, "POST", "/api/v1/plans", text);
    if (a.code != exit_ok) {
      print_problems(a.body); // a rejected plan: every problem
      exit_code = a.code;
      return;
    }
    exit_code = exit_ok;
    if (o->json && !*watch) {
      std::printf("%s\n", a.raw.c_str());
      return;
    }
    if (!o->json)
      print_plan(a.body);
    if (*watch)
      exit_code = watch_plan(*o, field(a.body, "id"));
  });
}

} // namespace cairn::cli
