// SPDX-License-Identifier: Apache-2.0
#include "http_client.hpp"

#include "client/node_client.hpp"

namespace cairn::test {

namespace {

cli::node_client loopback(uint16_t port) {
  return cli::node_client{"http://127.0.0.1:" + std::to_string(port)};
}

} // namespace

std::string http_reply::header(const std::string& name) const {
  cli::reply r;
  r.headers = headers;
  return r.header(name);
}

std::string raw_exchange(uint16_t port, const std::string& raw, int wait_ms) {
  std::string error;
  return loopback(port).exchange(raw, wait_ms, error);
}

http_reply http_call(uint16_t port, const std::string& method, const std::string& target,
                     const std::string& body, const std::vector<std::string>& extra_headers) {
  auto r = loopback(port).call_with_headers(method, target, body, extra_headers);
  return http_reply{r.status, r.headers, r.body};
}

uint16_t port_from_banner(const std::string& output) {
  auto pos = output.find("ready: http://127.0.0.1:");
  if (pos == std::string::npos)
    return 0;
  return static_cast<uint16_t>(std::stoul(output.substr(pos + 24)));
}

} // namespace cairn::test
