// SPDX-License-Identifier: Apache-2.0
// The server's state, shared by the request model (server.cpp, calls.cpp)
// and the transports (transport.cpp). Not a public header.
#pragma once

#include <shared_mutex>
#include <unordered_map>

#include "internal.hpp"

namespace cairn::mcp {

bool match_template(std::string_view tmpl, std::string_view uri,
                    std::map<std::string, std::string>& vars);

struct server::impl {
  impl(runtime& r, server_options o);

  runtime& rt;
  server_options opts;

  mutable std::shared_mutex mu; // guards the registries
  std::map<std::string, std::shared_ptr<tool_entry>> tools;
  /// Listing order: registration order, keyed by a zero-padded sequence
  /// number (the pagination cursor).
  std::map<std::string, std::shared_ptr<tool_entry>> tool_order;
  uint64_t next_tool_seq = 0;
  std::map<std::string, resource_spec> resources;
  std::map<std::string, resource_template_spec> templates;
  std::map<std::string, prompt_spec> prompts;
  bool attached = false;
  std::atomic<bool> stopping{false};
  std::atomic<bool> any_subscription{false}; ///< some client subscribed to a resource once
  void add_actor_resources();
  bool loopback_only = true; ///< refuse Host headers that are not loopback names

  std::mutex sessions_mu;
  std::unordered_map<std::string, std::shared_ptr<session>> sessions;

  std::mutex calls_mu;
  std::unordered_map<std::string, std::shared_ptr<live_call>> calls; // by call actor id
  std::unordered_map<std::string, std::function<void()>> acks;       // by envelope id

  /// Streams of `subscriptions/listen` (2026-07-28): each gets the
  /// notifications it asked for.
  struct listener {
    std::string id; ///< the subscription id (the listen request's id)
    std::shared_ptr<http_stream> stream;
    std::function<void(std::string)> write; ///< stdio
    std::set<std::string> kinds;            ///< "tools", "prompts", "resources"
    std::set<std::string> uris;             ///< resource subscriptions
  };
  std::mutex listeners_mu;
  std::vector<std::shared_ptr<listener>> listeners;

  // registration
  void add_tool(tool_spec spec);
  void register_tool_kind(const tool_entry& t);
  std::shared_ptr<tool_entry> find_tool(const std::string& name) const;
  bool allowed(const mcp_token* token, const std::string& tool) const;
  const mcp_token* authenticate(std::string_view authorization, bool& ok) const;

  // notifications
  void broadcast(std::string_view method);
  void resource_updated(const std::string& uri);
  void listeners_publish(std::string_view what, const std::string& uri, const std::string& msg);
  std::vector<std::shared_ptr<session>> all_sessions();

  // the request model
  void dispatch(std::shared_ptr<exchange> ex);
  template <class Map, class F>
  void reply_page(const std::shared_ptr<exchange>& ex, const Map& items, const char* field,
                  F&& render);
  void list_tools(const std::shared_ptr<exchange>& ex);
  void call_tool(const std::shared_ptr<exchange>& ex);
  void list_resources(const std::shared_ptr<exchange>& ex);
  void list_templates(const std::shared_ptr<exchange>& ex);
  void read_resource(const std::shared_ptr<exchange>& ex);
  void subscribe(const std::shared_ptr<exchange>& ex, bool on);
  void list_prompts(const std::shared_ptr<exchange>& ex);
  void get_prompt(const std::shared_ptr<exchange>& ex);
  void complete(const std::shared_ptr<exchange>& ex);
  void set_level(const std::shared_ptr<exchange>& ex);
  void task_method(const std::shared_ptr<exchange>& ex);
  void session_task_method(const std::shared_ptr<exchange>& ex);
  std::optional<json::object> task_state(const std::string& id);
  /// The creator tag task ids end with; `owns` checks a caller against it.
  std::string owner_tag(const mcp_token* token) const;
  bool owns(const mcp_token* token, std::string_view id) const;
  bool actor_readable(const mcp_token* token, const std::string& uri) const;
  json::object initialize_result(const std::string& revision) const;
  json::object discover_result(const std::string& revision) const;
  json::object capabilities(const std::string& revision) const;
  bool known_method(const std::string& m) const;
  std::string check_routing_headers(const http_request& req, const std::string& method,
                                    const json::object& params) const;
  void listen(const std::shared_ptr<exchange>& ex, http_responder respond);
  void add_cache_fields(const std::shared_ptr<exchange>& ex, json::object& result) const;

  /// Handles a client's answer to a server-to-client request.
  void route_response(const std::shared_ptr<session>& s, const json::object& msg);
  /// Handles a notification from the client.
  void on_notification(const std::shared_ptr<session>& s, const std::string& method,
                       const json::object& params);

  /// The answers of a 2026-07-28 round: those sealed in requestState (which
  /// must belong to `owner` = `name`) plus inputResponses (only keys in
  /// `accepted`, if given). Nullopt once `ex` got the error.
  std::optional<json::object> round_answers(const std::shared_ptr<exchange>& ex, const char* owner,
                                            const std::string& name, const json::object* accepted);
  /// Replies `input_required` for the `questions` not yet answered; false
  /// if all are.
  bool ask_first(const std::shared_ptr<exchange>& ex, const json::object& questions,
                 const json::object& answers, const char* owner, const std::string& name);

  // requestState (2026-07-28): signed so a client cannot forge it
  std::string seal(const json::object& state) const;
  std::optional<json::object> unseal(std::string_view sealed) const;
};

} // namespace cairn::mcp
