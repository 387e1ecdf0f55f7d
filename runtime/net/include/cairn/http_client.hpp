// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cairn {

struct http_client_response;

/// One outgoing HTTP/1.1 request (plain `http://`, no TLS). A plain value.
struct http_client_request {
  std::string method = "GET";                               ///< "GET", "POST", ...
  std::string host;                                         ///< a host name or IP address
  std::string port = "80";                                  ///< the TCP port, as text
  std::string target = "/";                                 ///< path and query
  std::vector<std::pair<std::string, std::string>> headers; ///< sent as given (Host is added)
  std::string body;                                         ///< the request body (empty: none)
  /// One deadline for resolving, connecting, writing and reading.
  std::chrono::milliseconds timeout{30'000};
  /// Larger response bodies fail the read; nothing: no limit.
  std::optional<size_t> body_limit;
  /// Polled about every 100 ms; true ends the request (`cancelled`).
  std::function<bool()> cancelled;
  /// Set: the answer is streamed. `on_body` is called once the status and
  /// headers are in (`data` empty), then with each piece of the body as it
  /// arrives, which the response's `body` then does not collect; `timeout`
  /// bounds each wait for more (an idle limit) instead of the whole answer,
  /// so a stream with keep-alives may last. Called on the calling thread.
  std::function<void(const http_client_response& head, std::string_view data)> on_body;
};

/// Where an outgoing request stopped, if it did not get an answer.
enum class http_client_failure {
  none,      ///< an answer came: `status`, `headers`, `body`
  resolve,   ///< the host name did not resolve
  connect,   ///< no connection (refused, unreachable)
  write,     ///< the request could not be sent
  read,      ///< the answer was cut off, malformed or over the body limit
  timeout,   ///< no complete answer within the deadline
  cancelled, ///< the request's `cancelled` predicate said so
};

/// The answer to an `http_client_request`, or where and why it failed. A
/// plain value.
struct http_client_response {
  http_client_failure failure = http_client_failure::none; ///< `none`: an answer came
  std::string error; ///< the transport's message when `failure` is set
  int status = 0;    ///< the HTTP status code (0 if none came)
  std::vector<std::pair<std::string, std::string>> headers; ///< as received, in order
  std::string body; ///< the body (not collected when streamed through `on_body`)

  /// The value of header `name` (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

/// Sends `req` and waits for the answer. Asynchronous Beast on a private
/// io_context driven in 100 ms slices, so the deadline holds for every
/// stage (Beast's synchronous calls ignore timeouts) and `cancelled` ends it
/// promptly; a resolver that never returns ends 1 s after the deadline.
/// Blocks the calling thread: call it from a thread that may wait (the
/// blocking pool, a command's main thread), never from a CAF scheduler or
/// an HTTP I/O thread. Any number of threads may call it at once.
http_client_response http_fetch(const http_client_request& req);

} // namespace cairn
