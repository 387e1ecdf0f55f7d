// SPDX-License-Identifier: Apache-2.0
// `cairn approvals approve|deny ID --sha256 HEX [--comment TEXT]`: decides a
// pending approval, quoting the hash of the arguments that were shown (a
// decision for other arguments is refused, 409).
#include <memory>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"
#include "commands/plan_output.hpp"

namespace cairn::cli {

namespace {

void add_decision(CLI::App& approvals, const char* name, const char* help, int& exit_code) {
  auto id = std::make_shared<std::string>();
  auto sha = std::make_shared<std::string>();
  auto comment = std::make_shared<std::string>();
  auto* cmd = approvals.add_subcommand(name, help);
  cmd->add_option("ID", *id, "The approval's id (plan/.../STEP)")->required();
  cmd
    ->add_option("--sha256", *sha,
                 "The SHA-256 of the arguments you were shown (cairn approvals show ID)")
    ->required();
  cmd->add_option("--comment", *comment, "Why (journaled)");
  auto o = add_client_options(cmd);
  std::string decision = name;
  cmd->callback([o, id, sha, comment, decision, &exit_code] {
    auto body = boost::json::serialize(boost::json::object{
      {"decision", decision}, {"arguments_sha256", *sha}, {"comment", *comment}});
    exit_code = run_call(*o, "POST", "/api/v1/approvals/" + percent_encode(*id), body,
                         [](const boost::json::value& v) { print_approval(v); });
  });
}

} // namespace

void add_approvals_decide(CLI::App& approvals, int& exit_code) {
  add_decision(approvals, "approve", "Approve a pending step (quote its --sha256)", exit_code);
  add_decision(approvals, "deny", "Deny a pending step: the plan undoes what it did", exit_code);
}

} // namespace cairn::cli
