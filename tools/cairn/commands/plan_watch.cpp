// SPDX-License-Identifier: Apache-2.0
// `cairn plan watch ID`: follows a plan, a line per change of the plan or
// of a step, until it ends. Exit code 0 if it succeeded, 1 otherwise.
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <thread>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"
#include "commands/plan_output.hpp"

namespace cairn::cli {

namespace json = boost::json;

bool final_plan_state(const std::string& s) {
  return s == "rejected" || s == "succeeded" || s == "failed" || s == "compensated"
         || s == "compensation_failed" || s == "cancelled";
}

int watch_plan(const client_options& o, const std::string& id) {
  std::string last_state;
  std::map<std::string, std::string> steps;
  for (;;) {
    auto a = call_node(o, "GET", "/api/v1/plans/" + percent_encode(id));
    if (a.code != exit_ok)
      return a.code;
    const auto& p = a.body;
    auto state = field(p, "state");
    if (o.json) {
      if (state != last_state)
        std::printf("%s\n", a.raw.c_str());
    } else {
      if (auto* s = p.as_object().if_contains("steps"); s && s->is_object())
        for (const auto& [sid, sv] : s->as_object()) {
          auto ss = field(sv, "state");
          auto& seen = steps[std::string{sid}];
          if (ss == seen)
            continue;
          seen = ss;
          std::string extra;
          if (ss == "awaiting_approval" && sv.as_object().contains("approval"))
            extra = "  (cairn approvals show " + id + "/" + std::string{sid} + ")";
          if (auto* e = sv.as_object().if_contains("error"); e && ss == "failed")
            extra = "  " + cell(*e);
          std::printf("%s  step %-12s %s%s\n",
                      utc_time(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count())
                        .c_str(),
                      std::string{sid}.c_str(), ss.c_str(), extra.c_str());
        }
      if (state != last_state)
        std::printf("plan %s: %s\n", id.c_str(), state.c_str());
    }
    std::fflush(stdout);
    last_state = state;
    if (final_plan_state(state))
      return state == "succeeded" ? exit_ok : exit_node_error;
    std::this_thread::sleep_for(std::chrono::milliseconds{300});
  }
}

void add_plan_watch(CLI::App& plan, int& exit_code) {
  auto id = std::make_shared<std::string>();
  auto* cmd = plan.add_subcommand("watch", "Follow a plan until it ends (exit 0 if it succeeded)");
  cmd->add_option("ID", *id, "The plan's id (plan/...)")->required();
  auto o = add_client_options(cmd);
  cmd->callback([o, id, &exit_code] { exit_code = watch_plan(*o, *id); });
}

} // namespace cairn::cli
