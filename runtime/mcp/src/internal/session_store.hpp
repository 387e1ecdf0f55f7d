// SPDX-License-Identifier: Apache-2.0
// 2025-11-25 sessions: one per `initialize` (or the one implicit session of
// a stdio client), kept in a bounded store. Not a public header.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/json.hpp>

#include "cairn/http.hpp"
#include "cairn/mcp/server.hpp"

namespace cairn::mcp {

/// At most this many server-to-client requests of one session wait for the
/// client's answer at once; a tool asking more gets an error (its question
/// is not sent).
inline constexpr size_t max_pending_requests = 64;

/// A 2025-11-25 session (or the one implicit session of a stdio client).
/// Shared by the transports' threads and running calls: the fields set at
/// creation are read-only afterwards, the rest is guarded by `mu` or atomic.
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
  /// Server-to-client requests awaiting an answer, by request id: an entry
  /// leaves when the client answers, when the asking call stops waiting
  /// (`take_pending`), or when the session ends (`end`). At most
  /// `max_pending_requests`.
  std::map<std::string, std::function<void(json::object)>> pending;
  uint64_t next_request = 1;
  bool ended = false; ///< by `end`: no more pending requests
  /// The standalone GET stream, if one is open, and its unsent backlog.
  std::shared_ptr<http_stream> get_stream;
  /// stdio: where every message to the client goes.
  std::function<void(std::string)> write;
  std::atomic<int64_t> last_used_ms{0};

  /// Sends `message` on the standalone stream (or stdio); false if none.
  bool push(const std::string& message);
  /// Closes the standalone stream, if one is open (the session ended).
  void close_stream();
  /// Records a server-to-client request whose answer goes to `answer`;
  /// its request id, or "" if the session ended or has
  /// `max_pending_requests` waiting already.
  std::string add_pending(std::function<void(json::object)> answer);
  /// Takes the answer function of request `rid` out; null if it is gone.
  std::function<void(json::object)> take_pending(const std::string& rid);
  /// Server-to-client requests waiting now.
  size_t pending_count();
  /// Ends the session: closes its stream and answers every waiting
  /// server-to-client request with an error, so no caller waits for a
  /// client that cannot answer any more. Idempotent.
  void end();
};

/// The sessions of one server, by id. Bounded: past `max` sessions the
/// least recently used one ends (its client gets 404 and starts again), so
/// abandoned sessions cannot pile up. Thread-safe: every member may be
/// called from any thread.
class session_store {
public:
  explicit session_store(size_t max) : max_(max) {}

  /// The session `id`, marked as used now; null if there is none.
  std::shared_ptr<session> find(const std::string& id);
  /// Adds `s` (replacing a session with its id); past the bound, first ends
  /// the least recently used other session.
  void insert(std::shared_ptr<session> s);
  /// Ends session `id` (see `session::end`); false if there was none.
  bool erase(const std::string& id);
  /// Every session now.
  std::vector<std::shared_ptr<session>> all();

private:
  std::mutex mu_;
  size_t max_;
  std::unordered_map<std::string, std::shared_ptr<session>> sessions_;
};

/// A steady-clock reading in milliseconds (for `last_used_ms`).
int64_t steady_ms();

} // namespace cairn::mcp
