// SPDX-License-Identifier: Apache-2.0
#include "commands/plan_output.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "commands/client_output.hpp"

namespace cairn::cli {

namespace json = boost::json;

void print_plan(const json::value& plan) {
  std::printf("plan %s: %s%s  risk %s  cost %s  submitted %s by %s\n", field(plan, "id").c_str(),
              field(plan, "state").c_str(),
              plan.as_object().contains("cause") ? (" (" + field(plan, "cause") + ")").c_str() : "",
              field(plan, "risk").c_str(), field(plan, "cost").c_str(),
              time_field(plan, "submitted_ms").c_str(), field(plan, "caller").c_str());
  if (plan.as_object().contains("problems")) {
    for (const auto& p : plan.at("problems").as_array())
      std::printf("  %s [%s]: %s: %s\n", field(p, "path").c_str(), field(p, "step").c_str(),
                  field(p, "code").c_str(), field(p, "message").c_str());
    return;
  }
  auto* steps = plan.as_object().if_contains("steps");
  auto* order = plan.as_object().if_contains("order");
  if (!steps || !order || !steps->is_object() || !order->is_array())
    return;
  std::vector<std::vector<std::string>> rows;
  for (const auto& id : order->as_array()) {
    auto* s = steps->as_object().if_contains(id.as_string());
    if (!s)
      continue;
    std::string what;
    if (auto* e = s->as_object().if_contains("error"))
      what = cell(*e);
    else if (auto* o = s->as_object().if_contains("output"))
      what = json::serialize(*o);
    if (auto* a = s->as_object().if_contains("approval"))
      what = "approval " + field(*a, "state") + (what.empty() ? "" : "; " + what);
    if (auto* c = s->as_object().if_contains("compensation_call"))
      what += (what.empty() ? "" : "; ") + std::string{"undo "} + field(*c, "tool") + " "
              + field(*c, "state");
    if (what.size() > 80)
      what = what.substr(0, 77) + "...";
    rows.push_back({cell(id), field(*s, "tool"), field(*s, "state"), field(*s, "risk"),
                    field(*s, "verdict"), what.empty() ? "-" : what});
  }
  print_table({"STEP", "TOOL", "STATE", "RISK", "VERDICT", "DETAIL"}, rows);
}

void print_problems(const json::value& answer) {
  auto* o = answer.if_object();
  auto* ps = o ? o->if_contains("problems") : nullptr;
  if (!ps || !ps->is_array())
    return;
  for (const auto& p : ps->as_array())
    std::fprintf(stderr, "  %s [%s]: %s: %s\n", field(p, "path").c_str(), field(p, "step").c_str(),
                 field(p, "code").c_str(), field(p, "message").c_str());
}

void print_approval(const json::value& a) {
  std::printf("approval %s: %s\n", field(a, "id").c_str(), field(a, "state").c_str());
  std::printf("  tool       %s (risk %s)\n", field(a, "tool").c_str(), field(a, "risk").c_str());
  std::printf("  arguments  %s\n", a.as_object().contains("arguments")
                                     ? json::serialize(a.at("arguments")).c_str()
                                     : "-");
  std::printf("  sha256     %s\n", field(a, "arguments_sha256").c_str());
  std::printf("  why        %s (rule %s)\n", field(a, "reason").c_str(), field(a, "rule").c_str());
  std::printf("  approver   %s, expires %s\n", field(a, "approver").c_str(),
              time_field(a, "expires_ms").c_str());
  if (field(a, "state") == "pending")
    std::printf("  decide     cairn approvals approve %s --sha256 %s\n", field(a, "id").c_str(),
                field(a, "arguments_sha256").c_str());
  else
    std::printf("  decided    by %s at %s%s\n", field(a, "decided_by").c_str(),
                time_field(a, "decided_ms").c_str(),
                a.as_object().contains("comment") ? (": " + field(a, "comment")).c_str() : "");
}

} // namespace cairn::cli
