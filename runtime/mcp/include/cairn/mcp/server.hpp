// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <caf/expected.hpp>

#include "cairn/envelope.hpp"
#include "cairn/http.hpp"

namespace cairn {
class runtime;
}

namespace cairn::mcp {

namespace json = boost::json;

/// The protocol revisions this server speaks, newest first.
inline constexpr const char* latest_revision = "2026-07-28";
inline constexpr const char* session_revision = "2025-11-25"; ///< newest with sessions

/// MCP tool annotations (hints for clients, not enforced).
struct tool_annotations {
  std::optional<bool> read_only;   ///< `readOnlyHint`: changes nothing (unset: not said)
  std::optional<bool> destructive; ///< `destructiveHint`: may delete or overwrite
  std::optional<bool> idempotent;  ///< `idempotentHint`: repeating a call does nothing more
  std::optional<bool> open_world;  ///< `openWorldHint`: reaches outside systems
};

/// How much harm a tool can do; shown in `tools/list` under `_meta` and
/// available to policy.
enum class risk_class { low, medium, high };

/// Whether a tool runs as a task (2025-11-25 `execution.taskSupport`).
enum class task_support { forbidden, optional, required };

/// What a tool call produced. `content` holds MCP content blocks (text,
/// image, audio, resource, resource_link); `structured` is checked against
/// the tool's output schema.
struct tool_result {
  json::array content; ///< content blocks; if empty, `structured` is sent as one text block
  std::optional<json::value> structured; ///< `structuredContent`; required by an output schema
  bool is_error = false;                 ///< a tool error the client sees (`isError`)

  /// A result of one text block.
  static tool_result text(std::string text);
  /// A tool error (`is_error`) with `message` as its one text block.
  static tool_result error(std::string message);
};

/// The call a tool handler is running. Handlers run inside the step of the
/// call's durable actor, one step per attempt, on the runtime's blocking
/// pool (never on an actor thread; see `context::defer`).
class call {
public:
  virtual ~call();
  /// The validated arguments.
  virtual const json::object& arguments() const = 0;
  /// Stable across retries and restarts of this call: pass it to the
  /// systems the tool changes so they can drop duplicates.
  virtual const std::string& idempotency_key() const = 0;
  /// The trace context of the call's current step (its span as the
  /// parent): work the handler starts elsewhere joins the caller's trace.
  /// Empty if there is none.
  virtual std::string traceparent() const { return {}; }
  /// Reports progress, if the client asked for it (else does nothing).
  virtual void progress(double done, std::optional<double> total, std::string message = {}) = 0;
  /// Sends a log message to the client, subject to its `logging/setLevel`.
  virtual void log(std::string level, json::value data, std::string logger = {}) = 0;
  /// Asks the client (`sampling/createMessage`, `elicitation/create`,
  /// `roots/list`) and waits for its answer. `key` names the question: with
  /// 2026-07-28 clients an unanswered `ask` returns an `input_required` error (return
  /// it) and the round ends with `input_required`; the handler runs again with
  /// the answers and `ask` with the same key returns that one. A handler must
  /// ask the same keys in the same order each time it runs.
  virtual caf::expected<json::value> ask(std::string key, std::string method,
                                         json::object params) = 0;
  /// Asks several questions at once (`key -> {method, params}`); answers by key.
  virtual caf::expected<json::object> ask_all(json::object requests) = 0;
  /// The client's capabilities (from `initialize` or the request's `_meta`).
  virtual const json::object& client_capabilities() const = 0;
  /// True once the client cancelled the request.
  virtual bool cancelled() const = 0;
  /// Sends a JSON message of `type` to the actor `to`, committed atomically
  /// with this call's outcome (never if the call fails and retries).
  virtual void send(std::string to, std::string type, json::value payload) = 0;
  /// Sends a notification to the client on this request's stream.
  virtual void notify(std::string method, json::object params) = 0;
  /// Who called: `{"name": TAG, "tools": [GLOB...]}` for a client with a
  /// token (its tag, never its secret; the globs it may call),
  /// `{"name": "anonymous"}` without one (every tool), `{}` for a call an
  /// actor started.
  virtual const json::object& caller() const = 0;
};

/// A tool handler: returns the result, or an error to retry the call under
/// the kind's retry policy (a failure the client should see as a tool error
/// is a result with `is_error`).
using tool_handler = std::function<caf::expected<tool_result>(call&)>;

/// A tool: its contract and its handler.
struct tool_spec {
  std::string name;        ///< [A-Za-z0-9_.-]{1,128}
  std::string title;       ///< a human-readable name (empty: none)
  std::string description; ///< what the tool does, for the model (empty: none)
  /// JSON Schema of the arguments, checked before the handler runs (the
  /// default: any object).
  json::object input_schema = json::object{{"type", "object"}};
  /// JSON Schema of `tool_result::structured`; when set, a successful result
  /// without it, or not matching it, fails the call.
  std::optional<json::object> output_schema;
  tool_annotations annotations;                ///< hints shown in `tools/list`
  risk_class risk = risk_class::low;           ///< shown as `_meta` `io.cairn/risk`
  task_support tasks = task_support::optional; ///< whether calls may or must run as tasks
  uint32_t max_attempts = 3;                   ///< attempts before the call fails for good
  /// The handler never waits (no I/O, no sleep, no `ask`, no long CPU work):
  /// it may run on the actor thread, saving the blocking pool's two thread
  /// handoffs. A handler that might wait must leave this false.
  bool runs_inline = false;
  /// Client capabilities the tool needs (e.g. `{"sampling":{}}`); a client
  /// without them gets a missing-capability error before anything runs.
  json::object requires_capabilities;
  /// Questions (`key -> {method, params}`) a task-mode call answers before
  /// its task is created (2026-07-28: an `input_required` round first).
  json::object task_inputs;
  json::object meta; ///< extra `_meta` in `tools/list`
  /// Cost units one call counts against a plan's budget (orchestration).
  uint64_t cost = 1;
  /// How a plan undoes a completed call of this tool: `{"tool": NAME,
  /// "arguments": {...}}`, where an argument may be `{"$from": "arguments"
  /// | "result", "pointer": RFC6901}` (the original call's arguments or
  /// structured result). Empty: nothing to undo.
  json::object compensation;
  tool_handler handler; ///< runs the call (see `call` for where and how often)
};

/// A tool's contract as plans see it: what `tools/list` shows plus cost and
/// compensation. A plain value.
struct tool_contract {
  std::string name;                          ///< the tool's name
  json::object input_schema;                 ///< as in `tool_spec`
  std::optional<json::object> output_schema; ///< as in `tool_spec`
  risk_class risk = risk_class::low;         ///< as in `tool_spec`
  uint64_t cost = 1;                         ///< cost units per call (`tool_spec::cost`)
  json::object compensation;                 ///< the undo call; empty: none
};

/// A resource read answers `contents` (MCP resource contents objects).
using resource_reader = std::function<caf::expected<json::array>(const std::string& uri)>;

/// A concrete resource.
struct resource_spec {
  std::string uri;         ///< its URI; one added later with the same URI replaces it
  std::string name;        ///< its name in `resources/list`
  std::string title;       ///< a human-readable name (empty: none)
  std::string description; ///< what it holds (empty: none)
  std::string mime_type;   ///< `mimeType` in listings (empty: none)
  resource_reader read;    ///< answers `resources/read` of `uri`
};

/// A family of resources under an RFC 6570 template (`{var}` only).
struct resource_template_spec {
  std::string uri_template; ///< e.g. `cairn://actors/{id}`; the same template replaces it
  std::string name;         ///< its name in `resources/templates/list`
  std::string title;        ///< a human-readable name (empty: none)
  std::string description;  ///< what its resources hold (empty: none)
  std::string mime_type;    ///< `mimeType` of its resources (empty: none)
  resource_reader read;     ///< gets the concrete URI; not_found if none
  /// Completion values for a template variable given its partial value.
  std::function<std::vector<std::string>(const std::string& var, const std::string& value)>
    complete;
};

/// A prompt argument.
struct prompt_argument {
  std::string name;        ///< the argument's name (its value is always a string)
  std::string description; ///< what to pass (empty: none)
  bool required = false;   ///< `prompts/get` without it is refused
};

/// A prompt: returns `messages` for the given arguments and, if it has
/// `inputs`, the client's answers to them.
struct prompt_spec {
  std::string name;                       ///< its name; the same name replaces it
  std::string title;                      ///< a human-readable name (empty: none)
  std::string description;                ///< shown in listings and `prompts/get` (empty: none)
  std::vector<prompt_argument> arguments; ///< the arguments it takes
  /// Builds the MCP prompt messages from the (string) arguments and the
  /// answers to `inputs`; an error is answered as an internal error.
  std::function<caf::expected<json::array>(const json::object& args, const json::object& answers)>
    get;
  /// Completion values for argument `arg` given its partial `value` (empty:
  /// no completions).
  std::function<std::vector<std::string>(const std::string& arg, const std::string& value)>
    complete;
  /// Questions (`key -> {method, params}`) the client answers first
  /// (2026-07-28 `input_required`); sessions get none and empty answers.
  json::object inputs;
};

/// A bearer token and the tools it may list and call (`*` and `?` globs).
struct mcp_token {
  std::string secret;             ///< what the client presents as `Bearer SECRET`
  std::vector<std::string> tools; ///< tool name globs it may list and call
};

/// Server-wide settings.
struct server_options {
  std::string name = "cairn";    ///< `serverInfo.name` in the `initialize` answer
  std::string version = "0.1.0"; ///< `serverInfo.version`
  std::string instructions;      ///< `instructions` for the client's model (empty: none)
  /// Empty: no authentication. Else every request needs one of these.
  std::vector<mcp_token> tokens;
  /// Refuse requests whose Host is not a loopback name (DNS rebinding);
  /// for servers bound to loopback addresses.
  bool check_host = true;
  /// Origins accepted besides loopback ones (`http://localhost:*` etc.).
  std::vector<std::string> allowed_origins;
  size_t page_size = 50;              ///< list results per page
  size_t max_sessions = 10'000;       ///< 2025-11-25 sessions; the least recently used go first
  size_t max_request_bytes = 1 << 20; ///< larger requests are refused
  /// A synchronous tools/call answers within this: past it the client gets
  /// a tool result with `isError` and the call is cancelled. Also bounds
  /// how long tasks/result and tasks/update requests wait.
  std::chrono::milliseconds call_timeout{300'000};
  /// Signs requestState (random if empty).
  std::string state_secret;
  /// Serve actors as resources: `cairn://actors/{id}` (the state, as the
  /// node API shows it) and `cairn://actors/{id}/journal`, ids percent-encoded.
  bool actor_resources = true;
  /// A client that accepts tasks gets a plain result when an optional-task
  /// tool finishes within this; only slower calls become tasks.
  std::chrono::milliseconds task_grace{250};
};

/// What an MCP server holds in memory now, each bounded: for tests and
/// metrics. A plain value.
struct server_stats {
  size_t sessions = 0;         ///< 2025-11-25 sessions (and the stdio one)
  size_t pending_requests = 0; ///< server-to-client requests awaiting a client, all sessions
  size_t waiting_updates = 0;  ///< tasks/update requests awaiting their task
  size_t live_calls = 0;       ///< calls in flight the front end follows
  size_t waiting_results = 0;  ///< tasks/result requests waiting for their task
  size_t deadlines = 0;        ///< timeouts and grace periods scheduled
};

/// The MCP server: one request model, both revisions at the edge, tools run
/// as durable actors of `rt`. Register everything, then call `attach()`
/// before `rt.start()` (it registers the actor kinds).
class server {
public:
  /// A server whose tools run as actors of `rt` (which must outlive it).
  server(runtime& rt, server_options opts);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Adds a tool, or replaces the one of the same name. Throws
  /// `std::invalid_argument` for a schema that does not compile.
  void add_tool(tool_spec spec);
  /// Adds a resource, or replaces the one with the same URI.
  void add_resource(resource_spec spec);
  /// Adds a resource template, or replaces the one with the same template.
  void add_resource_template(resource_template_spec spec);
  /// Adds a prompt, or replaces the one of the same name.
  void add_prompt(prompt_spec spec);
  /// Tells listening clients that the `tools`, `prompts` or `resources` list changed.
  void notify_list_changed(const std::string& what);
  /// Removes a tool (clients get `notifications/tools/list_changed`).
  bool remove_tool(const std::string& name);

  /// Tells subscribers of `uri` that it changed.
  void resource_updated(const std::string& uri);

  /// Registers the actor kinds for the tools added so far; before `rt.start()`.
  void attach();

  /// Starts a call of `tool` on behalf of the actor `reply_to` (a durable
  /// command, accepted into storage before this returns): the call runs like
  /// any other, retried under the tool's policy, and its outcome reaches
  /// `reply_to` as a `tool_outcome` message (outcome.hpp) committed with the
  /// call's own record of it — also when the node restarts in between, and
  /// when the call is dead-lettered. `arguments` are checked against the
  /// tool's input schema first. Returns the call's id (for `cancel`). Any
  /// thread, after `rt.start()`.
  caf::expected<std::string> call(const std::string& tool, boost::json::object arguments,
                                  std::string reply_to, std::string correlation = {});

  /// The durable command `call` accepts, for an actor to send from its own
  /// step (committed atomically with it, keyed by `idempotency_key`): the
  /// call actor is `tool.TOOL/CALL_KEY` (`tool`, `call_key`), and the tool
  /// sees `idempotency_key` as its `call::idempotency_key()` on every attempt.
  /// Arguments are checked first (`invalid_argument`); `not_found` for an
  /// unknown tool. Any thread.
  /// With `dead_letter_on_failure`, a call that fails for good is not
  /// recorded as failed but dead-lettered (its caller still hears `failed`),
  /// so an operator can redrive it once the cause is fixed; a redriven call
  /// that succeeds answers its caller again.
  caf::expected<envelope> call_envelope(const std::string& tool, boost::json::object arguments,
                                        std::string reply_to, std::string correlation,
                                        const std::string& call_key,
                                        const std::string& idempotency_key,
                                        bool dead_letter_on_failure = false);

  /// Asks a call to stop: a running handler sees `cancelled()`, a call not
  /// yet started ends `cancelled` when it starts (the flag is in memory: after
  /// a restart the call runs). Any thread.
  void cancel(const std::string& call_id);

  /// Every tool's contract, and a number that changes whenever tools are
  /// added or removed (to cache what is derived from the contracts). Any thread.
  std::vector<tool_contract> contracts() const;
  /// The number `contracts` goes with; it changes with every tool added or removed.
  uint64_t tools_generation() const;

  /// Every tool as `tools/list` shows it to a client allowed every tool,
  /// in listing order, plus what operators see of its contract:
  /// `compensation` (the undo call, `{}` if none) and `max_attempts`. For
  /// the node API's `GET /api/v1/tools`. Any thread.
  boost::json::array tool_listing() const;

  /// Before the runtime stops: running handlers see `cancelled()` and their
  /// steps fail without a record, so the calls run again after a restart.
  void shutdown();

  /// What the server holds in memory now. Any thread.
  server_stats stats() const;

  /// Handles one HTTP request to `/mcp` (Streamable HTTP).
  void handle_http(const http_request& req, http_responder respond);

  /// Handles one JSON-RPC message from a stdio client; `write` gets every
  /// message for the client (responses, notifications, requests), one JSON
  /// text each, from any thread.
  void handle_stdio(const std::string& line, std::function<void(std::string)> write);

  /// Handles one JSON-RPC message outside any transport (for fuzzing and
  /// tests): answers through `write` like `handle_stdio`.
  void handle_message(const std::string& body, std::function<void(std::string)> write);

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

/// Wraps a node API handler so `/mcp` goes to `srv` and the rest to `api`.
http_handler route_mcp(server& srv, http_handler api);

} // namespace cairn::mcp
