// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "cairn/node_api.hpp"
#include "cairn/runtime.hpp"
#include "internal/problem.hpp"
#include "internal/read_pool.hpp"

namespace cairn::api {

/// The data directory's size and its file system's free space, in bytes.
struct disk_figures {
  uint64_t used = 0;
  uint64_t free = 0;
};

disk_figures disk_usage(const std::string& dir);

// Shared by the read endpoints and the trace endpoints (read_endpoints.cpp).
/// "2026-12-01T18:09:13.410Z"; null for 0 (not recorded).
boost::json::value iso_time(int64_t ms);
/// One journal event as the API shows it.
boost::json::object journal_json(runtime& rt, const journal_entry& j);
/// The 400 answer for a malformed actor id.
http_response invalid_actor_id(const std::string& id);

/// The node API over one runtime: the router and authorization
/// (node_api.cpp), the read endpoints (read_endpoints.cpp, trace_endpoints.cpp), the write
/// endpoints (write_endpoints.cpp) and `/metrics` (metrics.cpp). Called
/// from the HTTP I/O threads, several at once, and from its read pool: it
/// holds no mutable state of its own, and the runtime's members are
/// thread-safe.
class node_api {
public:
  node_api(runtime& rt, node_api_options opts);

  /// Answers at once, except sending a message (see post_message) and the
  /// heavy reads (see `reads_`), answered later from other threads.
  void handle(const http_request& req, const http_responder& respond);

  /// Every request but sending a message.
  http_response operator()(const http_request& req);

private:
  using query = std::map<std::string, std::string>;

  std::optional<http_response> authorize(const http_request& req, const std::string& path) const;
  http_response dead_letter_route(const http_request& req, const std::string& path);
  http_response actor_route(const http_request& req, const std::string& path, const query& q);

  template <class F>
  static http_response only(const http_request& req, const char* method, F f) {
    if (req.method != method)
      return not_allowed(method);
    return f();
  }
  static http_response bad_encoding(const std::string& path);
  static http_response not_allowed(const std::string& allow);

  // Read endpoints.
  http_response readiness();
  http_response status();
  http_response actor(const std::string& id);
  http_response actors(const query& q);
  http_response topics();
  http_response subscriptions(const std::string& name);
  http_response timers(const query& q);
  http_response dead_letters(const query& q);
  http_response dead_letter(const std::string& id);
  http_response journal(const std::string& id, const query& q);
  http_response trace(const std::string& trace_id, boost::json::object head);
  http_response trace_by_key(const query& q);
  /// `GET /api/v1/traces/{id}`: the span tree.
  http_response trace_tree(const std::string& trace_id);
  /// `GET /api/v1/traces` without an idempotency key: recent traces, filtered.
  http_response trace_list(const query& q);

  // Write endpoints.
  std::optional<http_response> message_envelope(const http_request& req, const std::string& id,
                                                envelope& env);
  void post_message(const http_request& req, const std::string& id, const http_responder& respond);
  /// POST /api/v1/messages:batch: a JSON array or NDJSON of messages, each
  /// with its `to`; one commit; one answer with a result per message.
  void post_batch(const http_request& req, const http_responder& respond);
  http_response redrive(const std::string& id);
  http_response discard(const std::string& id);
  void redrive_async(const std::string& id, const http_responder& respond);
  void discard_async(const std::string& id, const http_responder& respond);

  http_response metrics();

  /// Whether the node is still starting (see node_api_options::starting).
  bool starting() const { return opts_.starting && opts_.starting(); }

  runtime& rt_;
  node_api_options opts_;
  std::chrono::steady_clock::time_point started_;
  /// Runs actor lists and summaries and dead-letter pages off the I/O
  /// threads. Last: destroyed (joined) first, while the rest is alive.
  std::unique_ptr<read_pool> reads_;
};

} // namespace cairn::api
