// SPDX-License-Identifier: Apache-2.0
// `cairn trace TRACE_ID` / `cairn trace --key IDEMPOTENCY_KEY [--actor ID]`:
// every step one request caused, on every actor, in the order they ran.
#include <memory>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

namespace {

namespace json = boost::json;

// One line per step, then one indented line per event it journaled and per
// message it sent.
void print_steps(const json::value& body) {
  const auto& o = body.as_object();
  std::printf("trace %s", cell(o.at("trace_id")).c_str());
  if (auto* key = o.if_contains("idempotency_key"))
    std::printf("  (idempotency key %s, %s, message %s)", cell(*key).c_str(),
                field(body, "actor").c_str(), field(body, "envelope_id").c_str());
  std::printf("\n");
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : o.at("steps").as_array()) {
    rows.push_back({field(s, "start"), field(s, "actor"), field(s, "type"),
                    "#" + field(s, "attempt"), field(s, "duration_ms") + " ms",
                    field(s, "status")});
    for (const auto& e : s.at("events").as_array()) {
      auto* payload = e.as_object().if_contains("payload");
      rows.push_back({"", "  journaled", field(e, "type"), "seq " + field(e, "seq"), "",
                      payload ? json::serialize(*payload) : "(" + field(e, "size") + " bytes)"});
    }
    for (const auto& m : s.at("sent").as_array())
      rows.push_back({"", "  sent", field(m, "type"), "to " + field(m, "to"), "", field(m, "id")});
  }
  print_table({"START", "ACTOR", "TYPE", "ATTEMPT", "TOOK", "STATUS"}, rows);
}

} // namespace

void add_trace_show(CLI::App& app, int& exit_code) {
  auto trace_id = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  auto actor = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
    "trace", "Follow one request: every step on every actor, by trace id or idempotency key");
  auto* id_opt = cmd->add_option("TRACE_ID", *trace_id,
                                 "32 hex digits (the trace id of a "
                                 "traceparent, a log line or a journal)");
  auto* key_opt = cmd->add_option("--key", *key, "The idempotency key the request was sent with");
  cmd->add_option("--actor", *actor, "The actor the keyed request was sent to (faster)")
    ->needs(key_opt);
  id_opt->excludes(key_opt);
  auto o = add_client_options(cmd);
  cmd->callback([o, trace_id, key, actor, &exit_code] {
    if (trace_id->empty() && key->empty())
      throw CLI::ValidationError("give a TRACE_ID or --key IDEMPOTENCY_KEY");
    std::string path = trace_id->empty()
                         ? "/api/v1/traces?idempotency_key=" + percent_encode(*key)
                             + (actor->empty() ? "" : "&actor=" + percent_encode(*actor))
                         : "/api/v1/traces/" + percent_encode(*trace_id) + "/steps";
    exit_code = run_call(*o, "GET", path, "", print_steps);
  });
}

} // namespace cairn::cli
