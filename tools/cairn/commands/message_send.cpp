// SPDX-License-Identifier: Apache-2.0
// `cairn send ID TYPE JSON`: sends a message; prints its envelope id once
// the node has persisted it.
#include <cstdio>
#include <memory>

#include <boost/json.hpp>

#include "cairn/text_codec.hpp"
#include "commands/client_output.hpp"
#include "commands/commands.hpp"

namespace cairn::cli {

namespace json = boost::json;

void add_message_send(CLI::App& app, int& exit_code) {
  struct send_args {
    std::string id, type, payload, key;
  };
  auto a = std::make_shared<send_args>();
  auto* cmd = app.add_subcommand("send", "Send a JSON message to an actor; prints its envelope id "
                                         "once the node has persisted it");
  cmd->add_option("ID", a->id, "Actor id, kind/key")->required();
  cmd->add_option("TYPE", a->type, "Message type tag, e.g. demo.place_order/v1")->required();
  cmd->add_option("JSON", a->payload, "Message payload (JSON)")->required();
  cmd->add_option("--idempotency-key", a->key, "Send at most once per key (dedupe window)");
  auto o = add_client_options(cmd);
  cmd->callback([o, a, &exit_code] {
    boost::system::error_code ec;
    auto payload = json::parse(a->payload, ec);
    if (ec) {
      std::fprintf(stderr, "cairn: JSON argument is not valid JSON: %s\n", ec.message().c_str());
      exit_code = exit_usage;
      return;
    }
    json::object body;
    body["type"] = a->type;
    body["payload"] = payload;
    if (!a->key.empty())
      body["idempotency_key"] = a->key;
    exit_code = run_call(*o, "POST", "/api/v1/actors/" + percent_encode(a->id) + "/messages",
                         json::serialize(body),
                         [](const json::value& v) { std::printf("%s\n", field(v, "id").c_str()); });
  });
}

} // namespace cairn::cli
