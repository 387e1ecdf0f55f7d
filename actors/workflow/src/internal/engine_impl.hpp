// SPDX-License-Identifier: Apache-2.0
// The orchestrator's shared state: the plan actors and the edges (HTTP, MCP)
// reach the runtime, the MCP server, the policy rules and the watchers
// through it. Not a public header.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <boost/json.hpp>

#include "cairn/mcp/server.hpp"
#include "cairn/runtime.hpp"
#include "cairn/workflow/engine.hpp"
#include "cairn/workflow/policy.hpp"

namespace cairn::workflow {

namespace json = boost::json;

// Messages a plan actor accepts (JSON payloads) besides `mcp.call.outcome/v1`.
inline constexpr const char* submit_type = "plan.submit/v1";
inline constexpr const char* reject_type = "plan.reject/v1";
inline constexpr const char* decide_type = "plan.decide/v1";
inline constexpr const char* cancel_type = "plan.cancel/v1";
inline constexpr const char* expire_type = "plan.expire/v1";
inline constexpr const char* deadline_type = "plan.deadline/v1";

// Events a plan actor journals (JSON payloads): the audit trail of a plan.
inline constexpr const char* accepted_event = "plan.accepted/v1";
inline constexpr const char* rejected_event = "plan.rejected/v1";
inline constexpr const char* step_started_event = "plan.step_started/v1";
inline constexpr const char* approval_requested_event = "plan.approval_requested/v1";
inline constexpr const char* approval_decided_event = "plan.approval_decided/v1";
inline constexpr const char* decision_refused_event = "plan.decision_refused/v1";
inline constexpr const char* step_finished_event = "plan.step_finished/v1";
inline constexpr const char* stopping_event = "plan.stopping/v1";
inline constexpr const char* compensation_started_event = "plan.compensation_started/v1";
inline constexpr const char* compensation_finished_event = "plan.compensation_finished/v1";
inline constexpr const char* finished_event = "plan.finished/v1";

/// Member `key` of `o` as an object, made one if it is not (plan state).
json::object& member_object(json::object& o, std::string_view key);

/// Member `key` of `o` as a string, or "" if it is none.
std::string member_string(const json::object& o, std::string_view key);

/// Applies one journaled plan event (`plan.accepted/v1` ...) to a plan's
/// state (plan_state.cpp); `corrupt_record` for an event it cannot apply.
caf::error apply_plan_event(json::object& state, std::string_view type, std::string_view payload);

/// Milliseconds since the epoch, wall clock.
int64_t wall_ms();

/// The value `tmpl` stands for once every reference object in it
/// (`{"$from": NAME, "pointer": P}`) is replaced by the value at P in
/// `source(NAME)`; the error names the reference that leads nowhere. With
/// `keep_unknown`, a reference whose `source` is null stays as it is.
caf::expected<json::value>
resolve_references(const json::value& tmpl,
                   const std::function<const json::value*(const std::string&)>& source,
                   bool keep_unknown = false);

struct engine::impl {
  impl(runtime& r, mcp::server& s, engine_options o) : rt(r), srv(s), opts(std::move(o)) {}

  runtime& rt;
  mcp::server& srv;
  engine_options opts;

  std::mutex policy_mu;
  std::shared_ptr<const policy_set> policies = std::make_shared<policy_set>();

  /// The catalog of every tool (all allowed) and their contracts, rebuilt
  /// when the server's tools change.
  struct catalog_cache {
    uint64_t generation = ~uint64_t{0};
    tool_catalog catalog;
    std::map<std::string, mcp::tool_contract> contracts;
  };
  std::mutex catalog_mu;
  std::shared_ptr<const catalog_cache> catalog;
  std::shared_ptr<const catalog_cache> current_catalog();

  std::mutex watch_mu;
  std::condition_variable watch_cv; ///< notified with every watched plan step (for `wait`)
  std::unordered_multimap<std::string, std::pair<uint64_t, std::function<void()>>> watchers;
  uint64_t next_watch = 1;
  std::atomic<size_t> watched{0};
  int waiters = 0;       ///< threads holding `hold_waiter` (under watch_mu)
  bool stopping = false; ///< under watch_mu
  void on_step(const std::string& actor_id);

  /// What lists need to know of a plan, kept for every plan: lists read
  /// only the plans they show. Updated by the plan actors after each commit;
  /// filled from storage once, at the first list after a start.
  struct plan_summary {
    std::string state;
    int64_t submitted_ms = 0;
    bool pending_approval = false;
    uint64_t version = 0; ///< events applied: a newer summary wins
  };
  std::mutex index_mu;
  std::unordered_map<std::string, plan_summary> index;
  std::mutex scan_mu;
  std::atomic<bool> indexed{false};
  /// Records `s` for plan `id` unless a newer one is known. Any thread.
  void note(const std::string& id, plan_summary s);
  /// Fills the index from storage once.
  caf::error ensure_index();
  /// The summary of a plan's state object.
  static plan_summary summary_of(const json::object& plan);

  /// The state of plan `id` as journaled; `not_found` if none.
  caf::expected<json::object> read_plan(const std::string& id);
  /// Accepts a JSON message for a plan actor; `done` runs on the commit
  /// thread once it is durable (or refused).
  void tell(const std::string& plan_id, const char* type, const json::object& payload,
            std::string idempotency_key, std::function<void(caf::error)> done,
            std::string traceparent = {});
};

/// Registers the `plan` kind.
void register_plan_kind(engine::impl& e);

/// The MCP tools and resource of the orchestrator.
void register_plan_tools(engine& e, engine::impl& d);

/// Registers each workflow of `config` as an MCP tool.
caf::error add_workflow_tools(engine& e, mcp::server& srv, const json::value& config);

} // namespace cairn::workflow
