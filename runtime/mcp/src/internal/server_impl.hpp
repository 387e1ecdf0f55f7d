// SPDX-License-Identifier: Apache-2.0
// The server's state, shared by the request model, the call actors, the
// tasks and the transports. Not a public header.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/json.hpp>

#include "cairn/mcp/server.hpp"
#include "cairn/runtime.hpp"
#include "internal/call_record.hpp"
#include "internal/deadline_queue.hpp"
#include "internal/jsonrpc.hpp"
#include "internal/schema.hpp"
#include "internal/session_store.hpp"

namespace cairn::mcp {

struct tool_entry {
  tool_spec spec;
  std::shared_ptr<compiled_schema> input;
  std::shared_ptr<compiled_schema> output;
  json::object listing; ///< the `tools/list` entry
};

/// A call running now, found by the call actor through its id. Made by
/// tools/call; its callbacks run once, on the commit thread (or the dead
/// letter's), after the outcome is durable.
struct live_call {
  std::shared_ptr<exchange> ex; ///< null for a task whose caller is gone
  std::string progress_token_json;
  /// With the outcome: its record and its result.
  std::function<void(const call_record& rec, json::object result)> finish;
  std::function<void(const call_record& rec)> on_status; ///< tells task subscribers
  std::atomic<bool> cancelled{false};
  /// The `timers` ticket of a synchronous call's call_timeout (0: none).
  std::atomic<uint64_t> timeout{0};
};

/// A `tasks/result` request waiting for its task to end.
struct result_waiter {
  std::shared_ptr<exchange> ex;
  std::function<void(const call_record&)> answer;
  /// Its time limit's `timers` ticket (0: none or gone).
  std::atomic<deadline_queue::ticket> deadline{0};
};

/// At most this many `tasks/result` requests wait at once; more are refused.
inline constexpr size_t max_waiting_results = 256;

/// At most this many `tasks/update` requests wait for their task to store
/// the answers at once; more are refused.
inline constexpr size_t max_waiting_acks = 1024;

/// The record of call `id` rebuilt from its journal (calls journaled before
/// their actor snapshotted every event); nullopt if it cannot be read.
std::optional<call_record> replay_call(server::impl& srv, const std::string& tool,
                                       const std::string& id);

/// A call's record as operators see it (`describe()`): status, result, error.
json::object describe_record(const std::string& tool, const call_record& rec);

/// The URI prefix of actors served as resources.
inline constexpr std::string_view actor_prefix = "cairn://actors/";

/// Matches `uri` against a `{var}` template; fills `vars`.
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
  uint64_t generation = 0; ///< changes with every add and remove (under `mu`)
  std::map<std::string, resource_spec> resources;
  std::map<std::string, resource_template_spec> templates;
  std::map<std::string, prompt_spec> prompts;
  bool attached = false;
  std::atomic<bool> stopping{false};
  std::atomic<bool> any_subscription{false}; ///< some client subscribed to a resource once
  void add_actor_resources();
  bool loopback_only = true; ///< refuse Host headers that are not loopback names

  session_store sessions;

  std::mutex calls_mu;
  std::unordered_map<std::string, std::shared_ptr<live_call>> calls; // by call actor id
  /// Waiting tasks/update requests by envelope id: removed when the task
  /// stored the answers, when accepting failed, or at call_timeout; at most
  /// `max_waiting_acks`.
  std::unordered_map<std::string, std::function<void()>> acks;

  std::mutex waiters_mu;
  /// Waiting tasks/result requests by task id; at most `max_waiting_results`.
  std::unordered_multimap<std::string, std::shared_ptr<result_waiter>> waiters;
  /// Delayed work: the optional-task grace period, deadlines of waiting
  /// tasks/result requests. Stopped by `shutdown()`; declared after what its
  /// functions touch, so it stops (joins) before those are destroyed.
  deadline_queue timers{65'536};

  /// After call `id`'s outcome committed: answers its caller and everyone
  /// waiting for it.
  void call_finished(const std::string& id, const call_record& rec, json::object result);
  /// Answers the tasks/result requests waiting for `id` with `rec`.
  void wake_waiters(const std::string& id, const call_record& rec);
  /// Takes `w` out of the waiters; false if it is gone (answered already).
  bool drop_waiter(const std::string& id, const std::shared_ptr<result_waiter>& w);
  /// Answers every waiting tasks/result request: the node is stopping.
  void fail_waiters();

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
  /// Gives `ex` a span of its own when it is a tools/call or carries a
  /// traceparent (recorded when it ends).
  void trace_request(const std::shared_ptr<exchange>& ex);
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
  /// The task read model: call `id`'s record from storage, one read (its
  /// snapshot row); `not_found` if `id` is no call of a known tool.
  caf::expected<call_record> task_record(const std::string& id);
  /// The creator tag task ids end with; `owns` checks a caller against it.
  /// Tells the actor that started a dead-lettered call (`server::call`) that it failed.
  void answer_dead_letter(const dead_letter& dl, const json::object& result);
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
