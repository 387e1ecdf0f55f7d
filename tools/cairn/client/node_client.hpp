// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

namespace cairn::cli {

/// One answer from a node, or why there was none.
struct reply {
  int status = 0;      ///< 0: no HTTP answer; see `error`
  std::string error;   ///< transport failure, for people
  std::string headers; ///< the raw header block
  std::string body;

  /// The value of header `name` (case-insensitive), or "".
  std::string header(const std::string& name) const;
};

/// A blocking HTTP/1.1 client for a node's API (`http://HOST:PORT`). One
/// connection per call; safe to use from one thread at a time.
class node_client {
public:
  explicit node_client(std::string url, std::string token = {});

  /// Sends `method path` with `body` (and the token, if any); never throws.
  reply call(const std::string& method, const std::string& path, const std::string& body = {},
             const std::string& content_type = "application/json") const;

  /// Sends `method path` with exactly `header_lines` ("Name: value") and `body`.
  reply call_with_headers(const std::string& method, const std::string& path,
                          const std::string& body,
                          const std::vector<std::string>& header_lines) const;

  /// Writes `raw` bytes as they are and returns everything the node sent
  /// until it closed the connection or `timeout_ms` passed; `error` is set
  /// if it could not connect or the time ran out (what came until then is
  /// still returned).
  std::string exchange(const std::string& raw, int timeout_ms, std::string& error) const;

  const std::string& url() const { return url_; }

private:
  std::string url_;
  std::string token_;
  std::string host_;
  std::string port_;
  std::string parse_error_;
};

/// Percent-encodes `s` for one URL path segment (`order/o1` -> `order%2Fo1`).
std::string encode_segment(const std::string& s);

} // namespace cairn::cli
