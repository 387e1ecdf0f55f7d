// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cairn::test {

/// What came back from `http_call`.
struct http_reply {
  int status = 0;      ///< 0: no HTTP answer (connection failed or closed)
  std::string headers; ///< the raw header block
  std::string body;

  /// The value of header `name` (case-insensitive), or "".
  std::string header(const std::string& name) const;
};

/// Sends one request over a fresh loopback connection (plain POSIX sockets,
/// `Connection: close`) and reads the whole answer.
http_reply http_call(uint16_t port, const std::string& method, const std::string& target,
                     const std::string& body = {},
                     const std::vector<std::string>& extra_headers = {
                       "Content-Type: application/json"});

/// Writes `raw` bytes as they are and returns whatever the server answered
/// before closing (for malformed and slow requests).
std::string raw_exchange(uint16_t port, const std::string& raw, int wait_ms = 30'000);

/// Parses the port from a "cairn node ready: http://127.0.0.1:PORT" line.
uint16_t port_from_banner(const std::string& output);

} // namespace cairn::test
