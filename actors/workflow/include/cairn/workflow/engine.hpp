// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "cairn/auth.hpp"
#include "cairn/http.hpp"
#include "cairn/workflow/plan_validation.hpp"

namespace cairn {
class runtime;
}

namespace cairn::mcp {
class server;
}

// The orchestrator (docs/orchestration.md): plans validated whole, checked
// against policy, run by the durable actor `plan/<id>` as tool calls, approved
// where policy says so, compensated when they cannot finish.
namespace cairn::workflow {

/// Who submits or decides: a name for the journal (a token's tag, never its
/// secret) and the tools it may call (none: every tool). A plain value.
struct caller {
  std::string name = "anonymous"; ///< who, as journaled (a token's tag, never its secret)
  /// Tool name globs it may call; unset: every tool (an empty list: none).
  std::optional<std::vector<std::string>> tools;
  /// The submitter's trace context (W3C traceparent), if any: the plan's
  /// validation, verdicts and steps join that trace.
  std::string traceparent;
};

/// The orchestrator's settings. A plain value.
struct engine_options {
  plan_bounds bounds; ///< the limits every submitted plan is validated against
  /// How long a submission that may finish synchronously (every step
  /// allowed, the plan's risk low) waits for the plan's end before it
  /// answers with a handle instead.
  std::chrono::milliseconds sync_wait{2000};
};

/// The plan states (`rejected` ... `cancelled`); true for those that never change.
bool final_state(std::string_view state);

/// The orchestrator of one node: registers the `plan` actor kind and the MCP
/// tools `submit_plan`, `plan_status`, `cancel_plan` and `approve_step`
/// (call `attach()` before the server's `attach()` and the runtime's
/// `start()`); then every member may be called from any thread. `rt` and
/// `srv` must outlive it.
class engine {
public:
  /// An orchestrator running plans on `rt` with the tools of `srv`; nothing
  /// is registered until `attach()`.
  engine(runtime& rt, mcp::server& srv, engine_options opts = {});
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  /// Registers the plan kind, the MCP tools and resource template.
  void attach();

  /// Exposes each named plan template of `config` (config `workflows`: an
  /// array of `{"name", "description", "parameters": JSON Schema, "steps"}`,
  /// steps referring to parameters as `{"$from": "params", "pointer": P}`)
  /// as one MCP tool that submits the plan and follows it. Before the
  /// server's `attach()`; `invalid_argument` names the bad field.
  caf::error add_workflows(const boost::json::value& config);

  /// Replaces the policy rules (config `policies`: the array of rules, or
  /// `{"rules": [...], "defaults": {...}}`). Plans submitted from now on get
  /// verdicts from these; plans already submitted keep theirs. On an
  /// `invalid_argument` error (naming each bad field) the old rules stay.
  caf::error set_policies(const boost::json::value& config);

  /// A submission's answer: the plan's id (also for a rejected plan, whose
  /// rejection is journaled there), the validation report (problems empty:
  /// accepted) and whether the plan may finish synchronously.
  struct submission {
    std::string id;           ///< the plan's actor id, `plan/<key>`
    plan_report report;       ///< the validation report (problems empty: accepted)
    bool sync = false;        ///< every step allowed and the plan's risk low: it may finish at once
    bool duplicate = false;   ///< the idempotency key named an earlier plan
    boost::json::object view; ///< the plan as accepted (steps, verdicts), if it was
  };

  /// Validates `document` for `who` and, if it passes, starts it durably
  /// (accepted into storage before this returns). A plan with the same
  /// `idempotency_key` from the same caller is the same plan.
  caf::expected<submission> submit(const boost::json::value& document, const caller& who);

  /// `submit`, answering through `done` once the plan (or its rejection)
  /// is durable — on the commit thread, or at once for an error found
  /// before: no thread waits for the disk meanwhile.
  void submit_async(const boost::json::value& document, const caller& who,
                    std::function<void(caf::expected<submission>)> done);

  /// A plan as the API shows it; `not_found` if none.
  caf::expected<boost::json::object> plan(const std::string& id);

  /// Plans, newest first: with `status` (empty: any), submitted at or after
  /// `since_ms`, at most `limit`.
  caf::expected<boost::json::array> plans(const std::string& status, int64_t since_ms,
                                          size_t limit);

  /// Approvals, pending ones first (newest plans first), at most `limit`.
  caf::expected<boost::json::array> approvals(size_t limit);

  /// One approval (`plan/<key>/<step>`); `not_found` if none.
  caf::expected<boost::json::object> approval(const std::string& id);

  /// Cancels a plan: running steps are asked to stop, pending ones skipped,
  /// completed ones compensated. `not_found`; `conflict` if it has ended.
  caf::error cancel(const std::string& plan_id, const std::string& by, std::string reason);
  /// `cancel`, answering through `done` on the commit thread (or at once
  /// for an error found before).
  void cancel_async(const std::string& plan_id, const std::string& by, std::string reason,
                    std::function<void(caf::error)> done);

  /// Decides a pending approval (`approve` or `deny`), quoting the SHA-256
  /// of the arguments it was shown: another hash is a `conflict` (those are
  /// not the arguments that would run), as is an approval already decided.
  caf::error decide(const std::string& approval_id, const std::string& decision,
                    const std::string& arguments_sha256, const std::string& by,
                    std::string comment);
  /// `decide`, answering through `done` on the commit thread (or at once
  /// for an error found before); the decision message joins `traceparent`
  /// (empty: a trace of its own).
  void decide_async(const std::string& approval_id, const std::string& decision,
                    const std::string& arguments_sha256, const std::string& by, std::string comment,
                    std::function<void(caf::error)> done, std::string traceparent = {});

  /// Calls `changed` (from an actor thread; keep it cheap) after every
  /// committed step of the plan; returns a handle for `unwatch`.
  uint64_t watch(const std::string& plan_id, std::function<void()> changed);
  /// Stops the `watch` that returned `handle` (an unknown handle: nothing).
  void unwatch(uint64_t handle);

  /// Waits until the plan is final or `timeout` passed (or `stop()` says
  /// so); the plan as it is then. Blocks: not on an actor or I/O thread.
  caf::expected<boost::json::object> wait(const std::string& plan_id,
                                          std::chrono::milliseconds timeout,
                                          const std::function<bool()>& stop = {});

  /// Visits the plan's journal from `from_seq`, at most `limit` events:
  /// sequence, event type and the event as JSON text.
  caf::error
  events(const std::string& plan_id, uint64_t from_seq, size_t limit,
         const std::function<void(uint64_t seq, std::string_view type, std::string_view json)>& fn);

  /// How long a synchronous submission waits (`engine_options::sync_wait`).
  std::chrono::milliseconds sync_wait() const;

  /// Whether this node owns the plan's actor now (always, alone): only
  /// then can it wait for the plan's steps or stream its events.
  bool here(const std::string& plan_id) const;

  /// A place for one more thread that waits for plans (a synchronous
  /// submission, an event stream): null when `max_waiters` are taken or the
  /// engine is stopping. Hold it while waiting; `shutdown` waits for all.
  std::shared_ptr<void> hold_waiter();
  static constexpr int max_waiters = 64; ///< threads that may wait for plans at once
  /// True once `shutdown` began: waiters should return.
  bool stopping() const;
  /// Tells waiters to return and waits until they have. Idempotent; also
  /// run by the destructor.
  void shutdown();

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

/// Serves `/api/v1/plans...` and `/api/v1/approvals...` from `e` and passes
/// every other request to `next`. `tokens` as the node API's (empty: open).
http_handler route_plans(engine& e, std::vector<auth::token> tokens, http_handler next);

} // namespace cairn::workflow
