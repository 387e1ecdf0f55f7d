// SPDX-License-Identifier: Apache-2.0
// `cairn actor show ID`: one actor's state summary.
#include <memory>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

void add_actor_show(CLI::App& actor, int& exit_code) {
  auto id = std::make_shared<std::string>();
  auto* show = actor.add_subcommand("show", "Show an actor's state summary");
  show->add_option("ID", *id, "Actor id, kind/key")->required();
  auto o = add_client_options(show);
  show->callback([o, id, &exit_code] {
    exit_code = run_call(*o, "GET", "/api/v1/actors/" + percent_encode(*id), "", print_members);
  });
}

} // namespace cairn::cli
