// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

namespace cairn {

/// One HTTP request as the server hands it to a handler. A plain value.
struct http_request {
  std::string method;                                       ///< "GET", "POST", ...
  std::string target;                                       ///< path and query, as sent
  std::vector<std::pair<std::string, std::string>> headers; ///< names in lower case
  std::string body; ///< the request body (at most the server's `body_limit`)

  /// The value of header `name` (lower case), or "" if absent.
  std::string header(std::string_view name) const;
};

/// A response body written piece by piece, for Server-Sent Events: the
/// handler answers with `http_response::stream` set, then writes through it
/// from any thread until it calls `close()`. Thread-safe.
///
/// Bounded: a write is accepted while less than `max_queued_bytes` wait for
/// the client (so at most that plus one write are held, and one write larger
/// than the bound still goes through to a client that keeps up). A client
/// that falls further behind (it stopped reading, or reads slower than
/// events come) is disconnected: the next write ends the stream, drops what
/// was queued and closes the connection (one log line, counted by
/// `overflows()`). Why not block the writer or drop
/// events: writers are tool handlers and commit callbacks that must not wait
/// for a client, and a stream with holes would lie to the client; a closed
/// stream tells it to reconnect (and resume, where the protocol allows).
class http_stream {
public:
  static constexpr size_t default_max_queued_bytes = 1 << 20; ///< 1 MiB

  /// A stream that ends once more than `max_queued_bytes` wait for the client.
  explicit http_stream(size_t max_queued_bytes = default_max_queued_bytes);
  ~http_stream();
  http_stream(const http_stream&) = delete;
  http_stream& operator=(const http_stream&) = delete;

  /// Queues `bytes` for the client; false once the stream has ended (also
  /// when the client is the bound behind: the stream ends instead).
  bool write(std::string bytes);
  /// Bytes written by the handler that the client has not received yet.
  size_t queued_bytes() const;
  /// Streams of this process ended because their client fell behind.
  static uint64_t overflows();
  /// Ends the body once everything queued is written.
  void close();
  /// False once closed by the handler or the client went away.
  bool open() const;
  /// Runs `fn` once when the stream ends, whichever side ended it (at once
  /// if it already has).
  void on_end(std::function<void()> fn);

  struct state;
  /// The queue and flags shared with the connection that sends the stream.
  std::shared_ptr<state> state_;
};

/// What a handler answers.
struct http_response {
  unsigned status = 200;                                    ///< the HTTP status code
  std::string content_type = "application/json";            ///< the Content-Type header
  std::string body;                                         ///< the whole body, unless streamed
  std::vector<std::pair<std::string, std::string>> headers; ///< more headers, sent as given
  /// Set: the body is streamed (chunked) from here and `body` is ignored.
  std::shared_ptr<http_stream> stream;
};

/// Completes one request; call exactly once, from any thread.
using http_responder = std::function<void(http_response)>;

/// Handles one request: answers through `respond`, at once or later (for
/// example when a commit completes), so a slow answer holds no I/O thread.
using http_handler = std::function<void(const http_request&, http_responder respond)>;

/// Limits and address of an `http_server`.
struct http_server_options {
  std::string host = "127.0.0.1";        ///< the IP address to listen on (not a host name)
  uint16_t port = 7070;                  ///< 0 picks a free port
  size_t body_limit = 1 << 20;           ///< larger bodies get 413
  size_t header_limit = 16 * 1024;       ///< larger headers get 431
  size_t max_header_count = 100;         ///< more header fields get 431
  std::chrono::seconds read_timeout{10}; ///< a request must arrive within this
  std::chrono::seconds idle_timeout{60}; ///< keep-alive connections close after this
  /// I/O threads (handlers run on them). Each connection stays on one
  /// thread, given out in turn as connections arrive: a handler that
  /// blocks holds up the other connections of its thread only.
  size_t threads = 2;
  /// Open connections at most; past it a new connection is answered 503
  /// (`Retry-After: 1`) and closed, so idle clients cannot use up the
  /// node's file descriptors and memory.
  size_t max_connections = 1024;
};

/// An asynchronous HTTP/1.1 server (Boost.Beast) with keep-alive, bounded
/// request size and header size, a bounded number of connections, bounded
/// streams, and read timeouts, so a slow or oversized client cannot hold the
/// node. Handlers may be called from several I/O
/// threads at once. `stop` (or the destructor) closes every connection.
class http_server {
public:
  /// Listens on `opts.host`:`opts.port` and serves with `handler` on
  /// `opts.threads` I/O threads; `invalid_argument` if it cannot listen.
  static caf::expected<std::unique_ptr<http_server>> start(http_server_options opts,
                                                           http_handler handler);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// The port actually bound (useful with port 0).
  uint16_t port() const;

  /// Connections open now (counted from accept to close).
  size_t connections() const;
  /// Connections refused so far because `max_connections` were open.
  uint64_t refused_connections() const;

  /// Stops the I/O threads and waits for them; open connections are
  /// dropped. Idempotent; the destructor calls it.
  void stop();

  struct impl;

private:
  explicit http_server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace cairn
