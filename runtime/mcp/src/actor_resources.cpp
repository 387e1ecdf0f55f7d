// SPDX-License-Identifier: Apache-2.0
// Actors as resources: `cairn://actors/{id}` (the state, as the node API
// shows it) and `cairn://actors/{id}/journal`, ids percent-encoded.
#include <algorithm>
#include <cctype>

#include "cairn/error.hpp"
#include "cairn/text_codec.hpp"
#include "internal/server_impl.hpp"

namespace cairn::mcp {

namespace {

// The node's one percent codec (text_codec.hpp); a malformed escape is kept
// as it is (then no actor has that id, and the read says so).
std::string percent_decode(std::string_view s) {
  return cairn::percent_decode(s).value_or(std::string{s});
}

using cairn::percent_encode;

} // namespace

void server::impl::add_actor_resources() {
  auto complete = [this](const std::string&, const std::string& value) {
    std::vector<std::string> out;
    auto prefix = percent_decode(value);
    auto slash = prefix.find('/');
    auto kind = slash == std::string::npos ? std::string{} : prefix.substr(0, slash);
    if (auto ids = rt.actor_ids(kind, {}, 1000))
      for (auto& id : *ids)
        if (id.rfind(prefix, 0) == 0 && out.size() < 100)
          out.push_back(percent_encode(id));
    return out;
  };
  resource_template_spec state;
  state.uri_template = "cairn://actors/{id}";
  state.name = "actor";
  state.title = "Actor state";
  state.description = "An actor's state as storage holds it: mailbox depth, journal length, "
                      "last error and, for kinds that show it, the state itself";
  state.mime_type = "application/json";
  state.complete = complete;
  state.read = [this](const std::string& uri) -> caf::expected<json::array> {
    auto id = percent_decode(std::string_view{uri}.substr(actor_prefix.size()));
    auto d = rt.describe(id);
    if (!d)
      return std::move(d.error());
    json::object o{{"id", d->id},
                   {"active", d->active},
                   {"mailbox_depth", d->mailbox_depth},
                   {"journal_length", d->journal_length},
                   {"snapshot_seq", d->snapshot_seq}};
    if (!d->last_error.empty())
      o["last_error"] = d->last_error;
    if (!d->state_json.empty()) {
      boost::system::error_code ec;
      auto v = json::parse(d->state_json, ec);
      if (!ec)
        o["state"] = std::move(v);
    }
    return json::array{
      json::object{{"uri", uri}, {"mimeType", "application/json"}, {"text", json::serialize(o)}}};
  };
  templates[state.uri_template] = std::move(state);
  resource_template_spec journal;
  journal.uri_template = "cairn://actors/{id}/journal";
  journal.name = "actor-journal";
  journal.title = "Actor journal";
  journal.description = "The last 100 events of an actor's journal, oldest first";
  journal.mime_type = "application/json";
  journal.complete = complete;
  journal.read = [this](const std::string& uri) -> caf::expected<json::array> {
    auto rest = std::string_view{uri}.substr(actor_prefix.size());
    auto id = percent_decode(rest.substr(0, rest.rfind("/journal")));
    auto d = rt.describe(id);
    if (!d)
      return std::move(d.error());
    json::array events;
    uint64_t from = d->journal_length > 100 ? d->journal_length - 99 : 1;
    auto err = rt.read_journal(id, from, 100, [&](const journal_entry& j) {
      json::object e{{"seq", j.seq}, {"type", j.type}, {"time_ms", j.time_ms}};
      e["cause"] = j.cause.empty() ? json::value(nullptr) : json::value(j.cause);
      e["trace_id"] = j.trace_id.empty() ? json::value(nullptr) : json::value(j.trace_id);
      // Events the actor's kind declared render from their inspect(); tool
      // events are JSON text already.
      boost::system::error_code ec;
      auto text = rt.payload_json(j.type, static_cast<uint8_t>(payload_format::binary), j.payload);
      auto v = json::parse(text ? std::string_view{*text} : std::string_view{j.payload}, ec);
      if (!ec)
        e["data"] = std::move(v);
      else
        e["bytes"] = j.payload.size();
      events.push_back(std::move(e));
    });
    if (err)
      return err;
    return json::array{
      json::object{{"uri", uri},
                   {"mimeType", "application/json"},
                   {"text", json::serialize(json::object{{"id", id}, {"events", events}})}}};
  };
  templates[journal.uri_template] = std::move(journal);
  // Subscribers of an actor's resources hear of every committed step.
  rt.observe_steps([this](const std::string& id) {
    if (!any_subscription.load(std::memory_order_relaxed))
      return;
    auto uri = std::string{actor_prefix} + percent_encode(id);
    resource_updated(uri);
    resource_updated(uri + "/journal");
  });
}

// With tokens, actor resources are for full-access tokens (glob "*"), and a
// tool call's actor only for the token that made the call.
bool server::impl::actor_readable(const mcp_token* token, const std::string& uri) const {
  if (!token)
    return opts.tokens.empty();
  if (std::find(token->tools.begin(), token->tools.end(), "*") == token->tools.end())
    return false;
  auto id = percent_decode(std::string_view{uri}.substr(actor_prefix.size()));
  if (auto j = id.rfind("/journal"); j != std::string::npos && j + 8 == id.size())
    id.resize(j);
  return id.rfind("tool.", 0) != 0 || owns(token, id);
}

} // namespace cairn::mcp
