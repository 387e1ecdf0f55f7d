// SPDX-License-Identifier: Apache-2.0
// The tests' own HTTP client: plain POSIX sockets, so a test can send bytes
// no real client would (malformed and slow requests) and check the node's
// answers independently of the client code under test.
#include "http_client.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>

namespace cairn::test {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

} // namespace

std::string http_reply::header(const std::string& name) const {
  auto h = lower(headers);
  auto pos = h.find("\r\n" + lower(name) + ":");
  if (pos == std::string::npos)
    return {};
  auto start = pos + 2 + name.size() + 1;
  auto end = headers.find("\r\n", start);
  auto v = headers.substr(start, end - start);
  v.erase(0, v.find_first_not_of(' '));
  return v;
}

std::string raw_exchange(uint16_t port, const std::string& raw, int wait_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo("127.0.0.1", std::to_string(port).c_str(), &hints, &res) != 0)
    return {};
  int fd = -1;
  for (auto* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0)
    return {};
  size_t sent = 0;
  while (sent < raw.size()) {
    auto n = send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    sent += static_cast<size_t>(n);
  }
  std::string out;
  char buf[16384];
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds{wait_ms};
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  until - std::chrono::steady_clock::now())
                  .count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0)
      break;
    auto n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

http_reply http_call(uint16_t port, const std::string& method, const std::string& target,
                     const std::string& body, const std::vector<std::string>& extra_headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& h : extra_headers)
    req += h + "\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  auto raw = raw_exchange(port, req, 30'000);
  auto split = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || split == std::string::npos || raw.size() < 12)
    return {};
  return http_reply{std::atoi(raw.substr(9, 3).c_str()), raw.substr(0, split + 2),
                    raw.substr(split + 4)};
}

uint16_t port_from_banner(const std::string& output) {
  auto pos = output.find("ready: http://127.0.0.1:");
  if (pos == std::string::npos)
    return 0;
  return static_cast<uint16_t>(std::stoul(output.substr(pos + 24)));
}

} // namespace cairn::test
