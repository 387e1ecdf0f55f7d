// SPDX-License-Identifier: Apache-2.0
// What the request model and the transports share. Not a public header.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>

#include <boost/json.hpp>

#include "cairn/mcp/server.hpp"
#include "cairn/runtime.hpp"
#include "schema.hpp"

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

/// HMAC-SHA1 of `msg` under `key`, as 40 hex digits.
std::string hmac_hex(std::string_view key, std::string_view msg);

/// Log levels of `logging/setLevel`, least severe first.
int log_level_index(std::string_view level); ///< -1 if unknown

std::string rpc_error(const json::value& id, int code, std::string_view message,
                      const json::value& data = nullptr);
std::string rpc_result(const json::value& id, json::value result);
std::string rpc_notification(std::string_view method, json::object params);

/// A 2025-11-25 session (or the one implicit session of a stdio client).
struct session {
  std::string id;
  std::string protocol;
  json::object client_capabilities;
  json::object client_info;
  bool initialized = false;
  std::atomic<int> log_level{-1}; ///< -1: the client did not set one (send all)
  const mcp_token* token = nullptr;

  std::mutex mu;
  std::set<std::string> subscriptions;
  /// Server-to-client requests awaiting an answer, by request id.
  std::map<std::string, std::function<void(json::object)>> pending;
  uint64_t next_request = 1;
  /// The standalone GET stream, if one is open, and its unsent backlog.
  std::shared_ptr<http_stream> get_stream;
  /// stdio: where every message to the client goes.
  std::function<void(std::string)> write;
  std::atomic<int64_t> last_used_ms{0};

  /// Sends `message` on the standalone stream (or stdio); false if none.
  bool push(const std::string& message);
};

/// One request being answered. The transport supplies `sink`, which gets
/// every message for the client about this request: notifications and
/// server-to-client requests (`final` false), then the response (`final`
/// true), exactly once.
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

  bool stateless() const { return revision >= std::string{"2026"}; }
  void reply(json::value result);
  void fail(int code, std::string_view message, const json::value& data = nullptr);
  void notify(std::string_view method, json::object params);
  /// Ends the request without a response (it was cancelled); the sink gets
  /// an empty final message.
  void abandon();
  /// A server-to-client request on this request's stream; `answer` gets the
  /// client's response object (with `result` or `error`).
  bool request(std::string_view method, json::object params,
               std::function<void(json::object)> answer);
};

struct tool_entry {
  tool_spec spec;
  std::shared_ptr<compiled_schema> input;
  std::shared_ptr<compiled_schema> output;
  json::object listing; ///< the `tools/list` entry
};

/// A call running now, found by the call actor through its id.
struct live_call {
  std::shared_ptr<exchange> ex; ///< null for a task whose caller is gone
  std::string progress_token_json;
  std::function<void(json::object outcome)> finish;           ///< with the finished event
  std::function<void(const json::object& outcome)> on_status; ///< tells task subscribers
  std::atomic<bool> cancelled{false};
};

} // namespace cairn::mcp
