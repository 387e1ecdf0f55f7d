// SPDX-License-Identifier: Apache-2.0
// The edge rules of the session revisions (2025-11-25, and 2025-06-18 and
// 2025-03-26 where they cost nothing): negotiation, capabilities, the
// client's answers and notifications on a session.
#include "internal/revisions.hpp"
#include "internal/server_impl.hpp"

namespace cairn::mcp {

namespace {

const char* const session_revisions[] = {"2025-11-25", "2025-06-18", "2025-03-26"};

} // namespace

bool known_session_revision(std::string_view v) {
  for (auto* r : session_revisions)
    if (v == r)
      return true;
  return false;
}

json::object server::impl::capabilities(const std::string& revision) const {
  if (revision == latest_revision)
    return json::object{
      {"tools", json::object{{"listChanged", true}}},
      {"resources", json::object{{"listChanged", true}, {"subscribe", true}}},
      {"prompts", json::object{{"listChanged", true}}},
      {"completions", json::object{}},
      {"extensions", json::object{{"io.modelcontextprotocol/tasks", json::object{}}}}};
  json::object caps{{"tools", json::object{{"listChanged", true}}},
                    {"resources", json::object{{"subscribe", true}, {"listChanged", true}}},
                    {"prompts", json::object{{"listChanged", true}}},
                    {"completions", json::object{}},
                    {"logging", json::object{}}};
  if (revision == session_revision) // experimental tasks, 2025-11-25 only
    caps["tasks"] =
      json::object{{"list", json::object{}},
                   {"cancel", json::object{}},
                   {"requests", json::object{{"tools", json::object{{"call", json::object{}}}}}}};
  return caps;
}

json::object server::impl::initialize_result(const std::string& revision) const {
  json::object r{{"protocolVersion", revision},
                 {"capabilities", capabilities(revision)},
                 {"serverInfo", json::object{{"name", opts.name},
                                             {"title", "cairn durable actor runtime"},
                                             {"version", opts.version}}}};
  if (!opts.instructions.empty())
    r["instructions"] = opts.instructions;
  return r;
}

void server::impl::route_response(const std::shared_ptr<session>& s, const json::object& msg) {
  if (!s)
    return;
  std::string rid;
  auto& id = msg.at("id");
  rid = id.is_string() ? std::string{id.as_string()} : json::serialize(id);
  if (auto fn = s->take_pending(rid))
    fn(msg);
}

void server::impl::on_notification(const std::shared_ptr<session>& s, const std::string& method,
                                   const json::object& params) {
  if (method == "notifications/initialized") {
    if (s)
      s->initialized = true;
    return;
  }
  if (method == "notifications/cancelled") {
    auto rid = params.if_contains("requestId");
    if (!rid)
      return;
    std::lock_guard lock{calls_mu};
    for (auto& [id, live] : calls)
      if (live->ex && live->ex->sess == s && live->ex->id == *rid) {
        live->cancelled.store(true);
        live->ex->cancelled.store(true);
      }
    return;
  }
  // notifications/roots/list_changed, notifications/progress, ...: nothing to do.
}

} // namespace cairn::mcp
