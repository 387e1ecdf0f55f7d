// SPDX-License-Identifier: Apache-2.0
// JSON-RPC 2.0 as MCP uses it: error codes, message shapes, the shape
// checks of one incoming message, and `exchange`, one request being
// answered. Not a public header.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "cairn/mcp/server.hpp"

namespace cairn::mcp {

/// JSON-RPC and MCP error codes.
namespace rpc {
inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int internal_error = -32603;
inline constexpr int resource_not_found = -32002;
inline constexpr int unauthorized = -32001;       // no valid bearer token
inline constexpr int header_mismatch = -32020;    // 2026-07-28: routing headers
inline constexpr int missing_capability = -32021; // 2026-07-28: the client lacks a capability
inline constexpr int unsupported_version = -32022;
} // namespace rpc

/// Log levels of `logging/setLevel`, least severe first.
int log_level_index(std::string_view level); ///< -1 if unknown

std::string rpc_error(const json::value& id, int code, std::string_view message,
                      const json::value& data = nullptr);
std::string rpc_result(const json::value& id, json::value result);
std::string rpc_notification(std::string_view method, json::object params);

/// What one JSON-RPC message is, after the shape checks of JSON-RPC 2.0. A
/// plain value.
struct parsed {
  enum kind { request, notification, response, invalid } what = invalid;
  json::value id;
  std::string method;
  json::object params;
  json::object msg;
  std::string why; ///< for invalid
};

/// Classifies one decoded message (a batch is refused before this).
parsed classify(json::value v);

struct session;

/// One request being answered. The transport supplies `sink`, which gets
/// every message for the client about this request: notifications and
/// server-to-client requests (`final` false), then the response (`final`
/// true), exactly once. Shared between the transport's thread, the call
/// actor's deferred step and timers: `reply`, `fail`, `abandon`, `notify`
/// and `request` may be called from any thread; the first final message
/// wins and later ones are dropped.
struct exchange : std::enable_shared_from_this<exchange> {
  json::value id;
  std::string method;
  json::object params;
  std::shared_ptr<session> sess; ///< null for stateless (2026-07-28) requests
  std::string revision;          ///< protocol revision of this request
  json::object client_capabilities;
  const mcp_token* token = nullptr;
  bool can_stream = false; ///< the transport can deliver messages before the response
  std::function<void(std::string message, bool final)> sink;
  std::atomic<bool> cancelled{false};
  std::atomic<bool> done{false};
  /// The JSON-RPC error code of the response, once `fail` sent one (0: none),
  /// for transports whose status follows it; set before the sink runs.
  std::atomic<int> error_code{0};
  /// The traceparent of this request's own span (set by the server when it
  /// records one): what the work it starts descends from.
  std::string traceparent;
  /// Called once when the request ends (answered, failed or abandoned),
  /// before the answer goes out; set by the server.
  std::function<void(const exchange&)> on_done;

  bool stateless() const { return revision >= std::string{"2026"}; }
  void reply(json::value result);
  void fail(int code, std::string_view message, const json::value& data = nullptr);
  void notify(std::string_view method, json::object params);
  /// Ends the request without a response (it was cancelled); the sink gets
  /// an empty final message.
  void abandon();
  /// A server-to-client request on this request's stream; `answer` gets the
  /// client's response object (with `result` or `error`). Returns the
  /// request's id, or "" if it cannot be sent (no stream, no session, the
  /// session ended or has `max_pending_requests` waiting). The asker calls
  /// `forget` with the id when it stops waiting.
  std::string request(std::string_view method, json::object params,
                      std::function<void(json::object)> answer);
  /// Stops waiting for the answer to request `rid` (the session forgets it).
  void forget(const std::string& rid);
};

} // namespace cairn::mcp
